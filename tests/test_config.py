"""Configuration loading: file + environment, validation, every problem with its key path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env
from pydantic import ValidationError

from bot.config import ConfigError, JobConfig, Settings, load_config, render_text
from bot.durations import format_duration, parse_duration
from jobs.kind_rules import CONTENT_MODES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
API_KEY = "ps_TOPSECRET_4f9a"
TOKEN = "123456:TELEGRAM_SECRET_b77"

BASE = """
[groups]
sales = "120363123456789012@g.us"
rio = "120363000000000001@g.us"

[targets]
all-sales = ["sales", "120363000000000001@g.us"]
"""

JOB = """
[[jobs]]
name = "morning-sales"
kind = "broadcast"
cron = "0 9 * * mon-fri"
targets = ["all-sales"]
text = "Hi {group}"
"""


pytestmark = pytest.mark.usefixtures("no_grouppilot_env")


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def _write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


# --- what loads ------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    settings = load_config(EXAMPLE)
    assert settings.pilot.is_sandbox
    assert settings.pilot.api_key.get_secret_value() == ""
    assert not settings.telegram.enabled
    assert settings.groups["sales"] == "120363123456789012@g.us"
    assert set(settings.groups) >= {"sales", "rio", "support", "vip"}
    assert settings.targets["all-sales"] == ["sales", "120363000000000001@g.us"]
    morning, nightly = settings.jobs[:2]  # then one template and one media broadcast
    assert (morning.name, morning.kind, morning.cron) == (
        "morning-sales",
        "broadcast",
        "0 9 * * mon-fri",
    )
    assert morning.timezone == "America/Sao_Paulo"
    assert morning.text is not None and "{date:%d/%m}" in morning.text
    assert (nightly.name, nightly.kind, nightly.cron, nightly.announce) == (
        "nightly-invite-reset",
        "invite_reset",
        "0 3 * * *",
        True,
    )
    assert nightly.catch_up_window == timedelta(hours=6)


CONTENT_KEYS = {key for keys in CONTENT_MODES.values() for key in keys}


def test_example_config_shows_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for model in (Settings, *(f.annotation for f in Settings.model_fields.values())):
        for key in getattr(model, "model_fields", {}):
            assert f"\n{key} = " in text or f"[{key}]" in text, key
    for key in JobConfig.model_fields:
        if key in ("every", "at"):  # alternatives to cron, shown commented out
            assert f"\n# {key} = " in text, key
        elif key in CONTENT_KEYS:  # a broadcast's one content mode: shown in its own job
            assert f"\n{key} = " in text, key
        else:
            assert text.count(f"\n{key} = ") >= 2, key


@pytest.mark.parametrize(
    ("getter", "expected"),
    [
        (lambda s: s.pilot.base_url, "sandbox"),
        (lambda s: s.pilot.timeout, 15),
        (lambda s: s.pilot.max_rps, 5),
        (lambda s: s.pilot.concurrency, 4),
        (lambda s: s.pilot.default_country, "BR"),
        (lambda s: s.telegram.admin_chats, []),
        (lambda s: s.telegram.drop_pending_updates, False),
        (lambda s: str(s.storage.path), "grouppilot.db"),
        (lambda s: s.scheduler.timezone, "UTC"),
        (lambda s: s.jobs[0].timezone, "UTC"),
        (lambda s: s.jobs[0].pin, False),
        (lambda s: s.jobs[0].gap, timedelta(0)),
        (lambda s: s.jobs[0].jitter, timedelta(0)),
        (lambda s: s.jobs[0].catch_up, "once"),
        (lambda s: s.jobs[0].catch_up_window, timedelta(hours=6)),
        (lambda s: s.jobs[0].overlap, "skip"),
        (lambda s: s.jobs[0].notify, "always"),
        (lambda s: s.jobs[0].announce, True),
        (lambda s: s.jobs[0].enabled, True),
    ],
)
def test_defaults(
    write: Callable[[str], Path], getter: Callable[[Settings], Any], expected: Any
) -> None:
    assert getter(load_config(write(BASE + JOB))) == expected


def test_job_zone_defaults_to_scheduler_zone(write: Callable[[str], Path]) -> None:
    path = write(
        BASE
        + '[scheduler]\ntimezone = "Europe/Berlin"\n'
        + JOB
        + JOB.replace('"morning-sales"', '"other"').replace(
            "targets", 'timezone = "Asia/Tokyo"\ntargets'
        )
    )
    settings = load_config(path)
    assert [job.timezone for job in settings.jobs] == ["Europe/Berlin", "Asia/Tokyo"]


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("every", 'every = "1h30m"', timedelta(hours=1, minutes=30)),
        ("at", 'at = "2026-12-01T09:00"', datetime(2026, 12, 1, 9, 0)),
        ("at", "at = 2026-12-01T09:00:00-03:00", datetime(2026, 12, 1, 12, 0, tzinfo=UTC)),
        ("gap", 'gap = "30s"', timedelta(seconds=30)),
        ("catch_up_window", 'catch_up_window = "0s"', timedelta(0)),
    ],
)
def test_job_values(write: Callable[[str], Path], key: str, text: str, expected: Any) -> None:
    job = JOB.replace(
        'cron = "0 9 * * mon-fri"\n', "" if key in ("every", "at") else 'cron = "0 9 * * *"\n'
    )
    settings = load_config(write(BASE + job + text + "\n"))
    assert getattr(settings.jobs[0], key) == expected


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("sandbox", "sandbox"),
        ("SANDBOX", "sandbox"),
        ("https://pilotstatus.com.br", "https://pilotstatus.com.br"),
        ("https://pilotstatus.com.br/", "https://pilotstatus.com.br"),
        ("http://127.0.0.1:8085/", "http://127.0.0.1:8085"),
    ],
)
def test_base_url(write: Callable[[str], Path], base_url: str, expected: str) -> None:
    path = write(f'[pilot]\nbase_url = "{base_url}"\napi_key = "k"\n')
    assert load_config(path).pilot.base_url == expected


@pytest.mark.parametrize(
    ("notify", "admin", "expected"), [([], [1, 2], [1, 2]), ([3], [1, 2], [3]), ([], [], [])]
)
def test_notify_chats_default_to_admin_chats(
    write: Callable[[str], Path], notify: list[int], admin: list[int], expected: list[int]
) -> None:
    path = write(f"[telegram]\nnotify_chats = {notify}\nadmin_chats = {admin}\n")
    assert load_config(path).telegram.effective_notify_chats == expected


# --- environment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "getter", "expected"),
    [
        (
            "GROUPPILOT_PILOT__API_KEY",
            API_KEY,
            lambda s: s.pilot.api_key.get_secret_value(),
            API_KEY,
        ),
        ("GROUPPILOT_PILOT__TIMEOUT", "2.5", lambda s: s.pilot.timeout, 2.5),
        ("GROUPPILOT_PILOT__DEFAULT_COUNTRY", "pt", lambda s: s.pilot.default_country, "PT"),
        ("GROUPPILOT_TELEGRAM__TOKEN", TOKEN, lambda s: s.telegram.token.get_secret_value(), TOKEN),
        ("GROUPPILOT_TELEGRAM__ADMINS", "[11, 12]", lambda s: s.telegram.admins, [11, 12]),
        ("GROUPPILOT_STORAGE__PATH", "/tmp/x.db", lambda s: str(s.storage.path), "/tmp/x.db"),
        (
            "GROUPPILOT_SCHEDULER__TIMEZONE",
            "Asia/Tokyo",
            lambda s: s.jobs[0].timezone,
            "Asia/Tokyo",
        ),
        (
            "GROUPPILOT_GROUPS__VIP",
            "120363000000000003@g.us",
            lambda s: s.groups,
            {
                "sales": "120363123456789012@g.us",
                "rio": "120363000000000001@g.us",
                "vip": "120363000000000003@g.us",
            },
        ),
    ],
)
def test_environment_overrides_nested_keys(
    write: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    getter: Callable[[Settings], Any],
    expected: Any,
) -> None:
    file = """
    [pilot]
    base_url = "https://pilotstatus.com.br"
    api_key = "from-the-file"
    timeout = 30
    default_country = "BR"
    [telegram]
    token = "1:from-the-file"
    admins = [1]
    [storage]
    path = "file.db"
    [scheduler]
    timezone = "Europe/Berlin"
    """
    monkeypatch.setenv(variable, value)
    settings = load_config(write(file + BASE + JOB))
    assert getter(settings) == expected
    # the rest of the section still comes from the file
    assert settings.pilot.base_url == "https://pilotstatus.com.br"


def test_missing_api_key_can_come_from_environment(
    write: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write('[pilot]\nbase_url = "https://pilotstatus.com.br"\n')
    assert any(p.startswith("pilot.api_key: required") for p in problems_of(path))
    monkeypatch.setenv("GROUPPILOT_PILOT__API_KEY", API_KEY)
    assert load_config(path).pilot.api_key.get_secret_value() == API_KEY


def test_config_path_from_environment_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[storage]\npath = "default.db"\n')
    (tmp_path / "other.toml").write_text('[storage]\npath = "other.db"\n')
    assert str(load_config(None).storage.path) == "default.db"
    monkeypatch.setenv("GROUPPILOT_CONFIG", str(tmp_path / "other.toml"))
    assert str(load_config(None).storage.path) == "other.db"


def test_bad_environment_json_is_a_problem(
    write: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUPPILOT_TELEGRAM__ADMINS", "1,2")
    [problem] = problems_of(write(BASE))
    assert problem.startswith("environment:") and "telegram" in problem


def test_loads_do_not_leak_into_each_other(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text('[storage]\npath = "a.db"\n[groups]\nsales = "1@g.us"\n')
    second.write_text('[storage]\npath = "b.db"\n')
    assert load_config(first).groups == {"sales": "1@g.us"}
    settings = load_config(second)
    assert (str(settings.storage.path), settings.groups) == ("b.db", {})
    assert Settings.model_config.get("toml_file") is None
    assert Settings().groups == {}


# --- problems and their key paths -----------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "path", "reason"),
    [
        ('[pilot]\nbase_url = "ftp://x"', "pilot.base_url", "http(s) URL"),
        (
            '[pilot]\nbase_url = "https://pilotstatus.com.br/v1"\napi_key = "k"',
            "pilot.base_url",
            "/v1",
        ),
        ('[pilot]\nbase_url = "https://pilotstatus.com.br/"', "pilot.api_key", "required"),
        ("[pilot]\ntimeout = 0", "pilot.timeout", "greater than 0"),
        ("[pilot]\nmax_rps = 0", "pilot.max_rps", "greater than 0"),
        ("[pilot]\nconcurrency = 0", "pilot.concurrency", "greater than or equal to 1"),
        ('[pilot]\ndefault_country = "XX"', "pilot.default_country", "unknown region"),
        ('[telegram]\nadmins = ["me"]', "telegram.admins[0]", "valid integer"),
        ('[telegram]\napi_base_url = "localhost:8081"', "telegram.api_base_url", "http(s) URL"),
        ('[storage]\npath = ""', "storage.path", "empty"),
        ('[storage]\npath = "a\\u0000b.db"', "storage.path", "NUL character"),
        ('[pilot]\n"a\\nb" = 1', "pilot.a\\nb", "unknown key"),  # one line, escaped
        ('[scheduler]\ntimezone = "Mars/Olympus"', "scheduler.timezone", "unknown time zone"),
        ('[groups]\nsales = "120363123456789012"', "groups.sales", "add '@g.us'"),
        ('[groups]\nsales = "sales team"', "groups.sales", "not a group id"),
        ('[groups]\nSales = "1@g.us"', "groups.Sales", "a-z"),
        ('[targets]\nx = ["nope"]', "targets.x[0]", "unknown alias 'nope'"),
        ("[targets]\nx = []", "targets.x", "empty"),
        ('[groups]\nx = "1@g.us"\n[targets]\nx = ["x"]', "targets.x", "also an alias"),
        ("[pilot]\ncolour = 1", "pilot.colour", "unknown key"),
        ("colour = 1", "colour", "unknown key"),
        ("[extra]\na = 1", "extra", "unknown key"),
    ],
)
def test_bad_value_names_its_key(
    write: Callable[[str], Path], snippet: str, path: str, reason: str
) -> None:
    problems = problems_of(write(snippet + "\n"))
    assert any(p.startswith(f"{path}: ") and reason in p for p in problems), problems


JOB_CASES = [
    ('name = "Morning Sales"', "name", "a-z"),
    ('kind = "brodcast"', "kind", "'brodcast'"),
    ('cron = "0 9 * *"', "cron", "5 fields"),
    ('cron = "0 25 * * *"', "cron", "hour"),
    ('cron = "0 9 * * mon-fry"', "cron", "fry"),
    ('cron = "0 0 30 2 *"', "cron", "never"),
    ('timezone = "Europe/Berln"', "timezone", "unknown time zone"),
    ('targets = ["ghost"]', "targets", "unknown target 'ghost'"),
    ("targets = []", "targets", "list aliases"),
    ('text = "Hi {grup}"', "text", "unknown placeholder {grup}"),
    ('text = "Hi {}"', "text", "unknown placeholder {}"),
    ('text = "Hi {0}"', "text", "unknown placeholder {0}"),
    ('text = "Hi {date.year}"', "text", "unknown placeholder {date.year}"),
    ('text = "Hi {group:%d}"', "text", "{group:%d}"),
    ('text = "Hi {group!r}"', "text", "format spec"),
    ('text = "Hi {group"', "text", "placeholders"),
    ('text = "   "', "text", "empty"),
    ('gap = "5 minutes"', "gap", "invalid duration '5 minutes'"),
    ('jitter = "-1s"', "jitter", "invalid duration"),
    ("catch_up_window = 60", "catch_up_window", 'such as "15m"'),
    ('catch_up = "twice"', "catch_up", "'once' or 'skip'"),
    ('overlap = "parallel"', "overlap", "'skip' or 'queue'"),
    ('notify = "sometimes"', "notify", "'always', 'failures' or 'never'"),
    ('enabled = "maybe"', "enabled", "valid boolean"),
    ("colour = 1", "colour", "unknown key"),
]


@pytest.mark.parametrize(("line", "key", "reason"), JOB_CASES)
def test_bad_job_value_names_job_and_key(
    write: Callable[[str], Path], line: str, key: str, reason: str
) -> None:
    name = line.split(" = ")[0]
    job = "\n".join(row for row in JOB.splitlines() if not row.startswith(f"{name} = "))
    problems = problems_of(
        write(BASE + JOB + job.replace('"morning-sales"', '"second"') + "\n" + line + "\n")
    )
    label = "jobs[1] (second)" if name != "name" else "jobs[1] (Morning Sales)"
    assert any(p.startswith(f"{label}.{key}: ") and reason in p for p in problems), problems
    assert not any(p.startswith("jobs[0]") for p in problems), problems


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ('kind = "broadcast"\ntargets = ["sales"]\ntext = "x"', "jobs[0] (j): needs a schedule"),
        (
            'kind = "broadcast"\ncron = "* * * * *"\nevery = "1m"\ntargets = ["sales"]\ntext = "x"',
            "jobs[0] (j): set only one of cron, every, at (found cron and every)",
        ),
        ('kind = "broadcast"\nevery = "1m"\ntargets = ["sales"]', "jobs[0] (j).text: required"),
        (
            'kind = "invite_reset"\nevery = "1m"\ntargets = ["sales"]\ntext = "x"',
            "jobs[0] (j).text: not allowed",
        ),
        (
            'kind = "invite_reset"\nevery = "1m"\ntargets = ["sales"]\npin = true',
            "jobs[0] (j).pin: only for kind 'broadcast'",
        ),
        (
            'kind = "broadcast"\nevery = "0s"\ntargets = ["sales"]\ntext = "x"',
            "jobs[0] (j).every: must be more",
        ),
        (
            'kind = "broadcast"\nat = "2026-12-01"\ntargets = ["sales"]\ntext = "x"',
            "jobs[0] (j).at: at '2026-12-01' has no time",
        ),
        ('kind = "broadcast"\ncron = "* * * * *"\ntext = "x"', "jobs[0] (j).targets: required"),
    ],
)
def test_job_rules(write: Callable[[str], Path], lines: str, expected: str) -> None:
    problems = problems_of(write(BASE + '[[jobs]]\nname = "j"\n' + lines + "\n"))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_target_that_is_not_a_string_is_a_problem_not_a_crash(
    write: Callable[[str], Path],
) -> None:
    # Found by tests/test_fuzz_config.py: a list in targets raised TypeError (unhashable).
    job = '[[jobs]]\nname = "j"\nkind = "invite_reset"\nevery = "1h"\ntargets = [[], {}]\n'
    problems = problems_of(write(BASE + job))
    assert any(p.startswith("jobs[0] (j).targets[0]: ") for p in problems), problems


def test_job_without_name_is_named_by_index(write: Callable[[str], Path]) -> None:
    problems = problems_of(
        write(
            BASE
            + '[[jobs]]\nkind = "broadcast"\ncron = "* * * * *"\ntargets = ["sales"]\ntext = "x"\n'
        )
    )
    assert problems == ["jobs[0].name: required"]


def test_many_problems_at_once(write: Callable[[str], Path]) -> None:
    path = write(
        """
        [pilot]
        base_url = "https://pilotstatus.com.br"
        [groups]
        sales = "120363123456789012@g.us"
        [[jobs]]
        name = "ok"
        kind = "invite_reset"
        every = "1h"
        targets = ["sales"]
        [[jobs]]
        name = "morning-sales"
        kind = "broadcast"
        cron = "0 9 * * funday"
        targets = ["sales"]
        text = "Hello {name}"
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "pilot.api_key",
        "jobs[1] (morning-sales).cron",
        "jobs[1] (morning-sales).text",
    ]
    assert str(caught.value).splitlines() == problems


def test_cross_checks_still_run_when_a_section_fails(write: Callable[[str], Path]) -> None:
    path = write(
        """
        [pilot]
        timeout = "soon"
        [groups]
        sales = "not-an-id"
        [targets]
        t = ["sales", "ghost"]
        [[jobs]]
        name = "a"
        kind = "broadcast"
        cron = "* * * * *"
        targets = ["t", "nobody"]
        text = "x"
        [[jobs]]
        name = "a"
        kind = "broadcast"
        cron = "nonsense"
        targets = ["sales"]
        text = "x"
        """
    )
    problems = problems_of(path)
    heads = [p.split(": ")[0] for p in problems]
    assert heads == [
        "pilot.timeout",
        "groups.sales",
        "targets.t[1]",
        "jobs[0] (a).targets",
        "jobs[1] (a).cron",
        "jobs[1] (a).name",
    ]
    assert "unknown target 'nobody'" in problems[3]
    assert "duplicate job name (also jobs[0])" in problems[5]


@pytest.mark.parametrize(
    ("snippet", "path"),
    [
        ('[groups]\nall = "120363123456789012@g.us"', "groups.all"),
        ('[groups]\nALL = "120363123456789012@g.us"', "groups.ALL"),
        ('[groups]\ns = "1@g.us"\n[targets]\nall = ["s"]', "targets.all"),
    ],
)
def test_all_is_reserved(write: Callable[[str], Path], snippet: str, path: str) -> None:
    problems = problems_of(write(snippet + "\n"))
    assert any(p.startswith(f"{path}: ") and "reserved" in p for p in problems), problems


@pytest.mark.parametrize(
    ("snippet", "path"),
    [
        (f'[groups]\n{"a" * 41} = "120363123456789012@g.us"', "groups." + "a" * 41),
        (f'[groups]\ns = "1@g.us"\n[targets]\n{"t" * 41} = ["s"]', "targets." + "t" * 41),
    ],
)
def test_alias_and_target_names_follow_the_chat_rule(
    write: Callable[[str], Path], snippet: str, path: str
) -> None:
    problems = problems_of(write(snippet + "\n"))
    assert any("use 1-40 of a-z" in p for p in problems), problems


def test_all_is_a_valid_job_target(write: Callable[[str], Path]) -> None:
    settings = load_config(write(BASE + JOB.replace('["all-sales"]', '["all", "sales", "9@g.us"]')))
    assert settings.jobs[0].targets == ["all", "sales", "9@g.us"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: config file not found"]
    assert caught.value.path == path


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}: is a directory, not a config file"]


def test_bad_toml_names_the_line(write: Callable[[str], Path]) -> None:
    [problem] = problems_of(write('[pilot]\nbase_url = "sandbox"\napi_key = sekrit\n'))
    assert "invalid TOML" in problem and "line 3" in problem
    assert "sekrit" not in problem


# --- bounds ---------------------------------------------------------------------------------

BOUNDS = [
    ("[pilot]\ntimeout = inf", "pilot.timeout", "finite number"),
    ("[pilot]\ntimeout = nan", "pilot.timeout", "finite number"),
    ("[pilot]\ntimeout = 301", "pilot.timeout", "less than or equal to 300"),
    ("[pilot]\ntimeout = -0.5", "pilot.timeout", "greater than 0"),
    ("[pilot]\nmax_rps = 1001", "pilot.max_rps", "less than or equal to 1000"),
    ("[pilot]\nmax_rps = inf", "pilot.max_rps", "finite number"),  # refused before too
    ("[pilot]\nconcurrency = 65", "pilot.concurrency", "less than or equal to 64"),
    ("[pilot]\nconcurrency = 9223372036854775807", "pilot.concurrency", "less than or equal to 64"),
    ('[[jobs]]\ngap = "61m"', "jobs[0] (j).gap", "at most 1h (got 1h1m)"),
    ('[[jobs]]\njitter = "1d1s"', "jobs[0] (j).jitter", "at most 1d (got 1d1s)"),
    ('[[jobs]]\ncatch_up_window = "8d"', "jobs[0] (j).catch_up_window", "at most 7d (got 8d)"),
    ('[[jobs]]\nevery = "367d"', "jobs[0] (j).every", "at most 366d (got 367d)"),
    ('[[jobs]]\nevery = "99999999d"', "jobs[0] (j).every", "at most 366d"),
    ('[[jobs]]\nat = "9999-12-31T23:59:59-12:00"', "jobs[0] (j).at", "year must be 2000 to 2999"),
    ('[[jobs]]\nat = "1999-12-31T23:59:59"', "jobs[0] (j).at", "year must be 2000 to 2999"),
]
BOUND_JOB = 'name = "j"\nkind = "invite_reset"\ntargets = ["sales"]\n'


def with_bound(snippet: str) -> str:
    if not snippet.startswith("[[jobs]]"):
        return snippet
    has_schedule = any(f"\n{key} = " in snippet for key in ("cron", "every", "at"))
    schedule = "" if has_schedule else 'cron = "0 3 * * *"\n'
    return BASE + snippet.replace("[[jobs]]\n", "[[jobs]]\n" + BOUND_JOB + schedule)


@pytest.mark.parametrize(("snippet", "path", "reason"), BOUNDS)
def test_values_beyond_their_bound_are_refused(
    write: Callable[[str], Path], snippet: str, path: str, reason: str
) -> None:
    problems = problems_of(write(with_bound(snippet) + "\n"))
    assert any(p.startswith(f"{path}: ") and reason in p for p in problems), problems


@pytest.mark.parametrize(
    "snippet",
    [
        "[pilot]\ntimeout = 300\nmax_rps = 1000\nconcurrency = 64",
        '[[jobs]]\ngap = "1h"\njitter = "1d"\ncatch_up_window = "7d"\nevery = "366d"',
    ],
)
def test_values_at_their_bound_load(write: Callable[[str], Path], snippet: str) -> None:
    load_config(write(with_bound(snippet) + "\n"))


def test_check_exits_2_naming_every_bound(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[pilot]\ntimeout = inf\nmax_rps = 1001\nconcurrency = 65\n"
        + with_bound('[[jobs]]\ngap = "2h"\njitter = "2d"\ncatch_up_window = "8d"\nevery = "400d"')
        + "\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for key in ("timeout", "max_rps", "concurrency"):
        assert f"pilot.{key}: " in result.stderr
    for key in ("gap", "jitter", "catch_up_window", "every"):
        assert f"jobs[0] (j).{key}: at most " in result.stderr


# --- long input is quoted short --------------------------------------------------------------

LONG = "x" * 5000
LONG_JOB = (
    '[groups]\nsales = "120363123456789012@g.us"\n'
    '[[jobs]]\nname = "j"\nkind = "broadcast"\nevery = "1h"\ntargets = ["sales"]\ntext = "hi"\n'
)


@pytest.mark.parametrize(
    ("snippet", "path"),
    [
        (f'[pilot]\nbase_url = "{LONG}"', "pilot.base_url"),
        (f'[pilot]\ntimeout = "{LONG}"', "pilot.timeout"),
        (f'[pilot]\ndefault_country = "{LONG}"', "pilot.default_country"),
        (f"[pilot]\n{LONG} = 1", "pilot.xxxx"),
        (f"[{LONG}]\na = 1", "xxxx"),
        (f'[groups]\nsales = "{LONG}"', "groups.sales"),
        (f'[targets]\nt = ["{LONG}"]', "targets.t[0]"),
        (LONG_JOB.replace('every = "1h"', f'cron = "{LONG}"'), "jobs[0] (j).cron"),
        (LONG_JOB.replace('every = "1h"', f'cron = "{LONG} * * * *"'), "jobs[0] (j).cron"),
        (LONG_JOB.replace('every = "1h"', f'every = "{LONG}"'), "jobs[0] (j).every"),
        (LONG_JOB.replace('every = "1h"', f'at = "{LONG}"'), "jobs[0] (j).at"),
        (LONG_JOB + f'gap = "{LONG}"', "jobs[0] (j).gap"),
        (LONG_JOB.replace('kind = "broadcast"', f'kind = "{LONG}"'), "jobs[0] (j).kind"),
        (LONG_JOB.replace('targets = ["sales"]', f'targets = ["{LONG}"]'), "jobs[0] (j).targets"),
        (LONG_JOB.replace('text = "hi"', f'text = "{{{LONG}}}"'), "jobs[0] (j).text"),
        (LONG_JOB.replace('text = "hi"', f'text = "{{group:{LONG}}}"'), "jobs[0] (j).text"),
        (LONG_JOB + f"{LONG} = 1", "jobs[0] (j).xxxx"),
    ],
)
def test_a_long_value_is_quoted_as_a_short_excerpt(
    write: Callable[[str], Path], snippet: str, path: str
) -> None:
    problems = problems_of(write(snippet + "\n"))
    assert any(p.startswith(path) for p in problems), [p[:100] for p in problems]
    assert max(len(p) for p in problems) < 400, [p[:100] for p in problems]


# --- secrets --------------------------------------------------------------------------------


def test_secrets_never_shown(write: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    good = f'[pilot]\nbase_url = "https://pilotstatus.com.br"\napi_key = "{API_KEY}"\n'
    settings = load_config(write(good + f'[telegram]\ntoken = "{TOKEN}"\n'))
    assert settings.pilot.api_key.get_secret_value() == API_KEY
    assert settings.telegram.enabled
    for text in (str(settings), repr(settings), repr(settings.pilot), str(settings.telegram)):
        assert API_KEY not in text and TOKEN not in text

    monkeypatch.setenv("GROUPPILOT_TELEGRAM__TOKEN", TOKEN)
    bad = good + "timeout = -1\n[telegram]\ntoken = 12345\n[pilot2]\nx = 1\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(bad.replace(f'"{API_KEY}"', f'"{API_KEY}"\nbogus = "{API_KEY}"')))
    shown = "\n".join([str(caught.value), repr(caught.value), *caught.value.problems])
    assert "pilot.timeout" in shown and "pilot.bogus" in shown
    assert API_KEY not in shown and TOKEN not in shown


def test_wrong_type_for_a_secret_does_not_echo_it(write: Callable[[str], Path]) -> None:
    problems = problems_of(write("[pilot]\napi_key = 987654321\n"))
    assert problems[0].startswith("pilot.api_key: ")
    assert "987654321" not in "\n".join(problems)


# --- standalone pieces ----------------------------------------------------------------------


def test_jobconfig_alone_reports_all_its_problems() -> None:
    with pytest.raises(ValidationError) as caught:
        JobConfig.model_validate(
            {"name": "x", "kind": "broadcast", "targets": ["a"], "cron": "bad", "every": "1m"}
        )
    locs = sorted(tuple(error["loc"]) for error in caught.value.errors())
    assert locs == [(), ("cron",), ("text",)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{group}", "Sales Team"),
        ("{date}", "2026-12-01"),
        ("{time}", "09:05"),
        ("{weekday}", "Tuesday"),
        ("{date:%d/%m}", "01/12"),
        ("{time:%H}h", "09h"),
        ("[{group:>12}]", "[  Sales Team]"),
        ("{{group}}", "{group}"),
    ],
)
def test_render_text(text: str, expected: str) -> None:
    assert render_text(text, group="Sales Team", when=datetime(2026, 12, 1, 9, 5)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d 2h", timedelta(days=1, hours=2)),
        ("0s", timedelta(0)),
        ("0", timedelta(0)),
        (" 90s ", timedelta(seconds=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "15", "1x", "1H", "1.5h", "-5m", "m", "30m1h", "1h1h", "1 hour", "9" * 40 + "d"]
)
def test_bad_duration_names_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2, seconds=5), "2d5s"),
        (timedelta(seconds=1.5), "1.5s"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    if "." not in text:
        assert parse_duration(text) == value
