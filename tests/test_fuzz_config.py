"""Fuzzing the config loader: whatever the file and the environment hold, one of two outcomes.

Hypothesis writes TOML documents with values of every TOML type in every
known key (and unknown ones), random job tables, mostly-plausible and
nonsense values mixed, and sets random GROUPPILOT_* variables. The real
loader must either load (and then `grouppilot check` must be able to report
on the result) or raise ConfigError with readable lines: never another
exception, never a multi-line or giant problem, never a secret's value.
Bounded: a fixed number of examples, well under 15 s.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.check import format_check
from bot.config import ConfigError, JobConfig, Settings, load_config

SECRET = "ps_FUZZ_SECRET_7c1e"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MAX_PROBLEM = 1000  # characters: a problem line quotes excerpts, never a whole value

SECTIONS: dict[str, list[str]] = {
    name: list(field.annotation.model_fields)  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
    if name not in ("groups", "targets", "jobs")
}
JOB_KEYS = list(JobConfig.model_fields)

# -- values ----------------------------------------------------------------------------------

# TOML text is UTF-8: no lone surrogates. Everything else, controls included, may appear.
text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)
long_text = st.builds(lambda char, n: char * n, st.sampled_from("x9{%\n"), st.integers(300, 5000))
plausible = st.sampled_from(
    [
        "sandbox",
        "https://pilotstatus.com.br",
        "http://127.0.0.1:1",
        "BR",
        "UTC",
        "America/Sao_Paulo",
        "America",
        "Europe/" + "x" * 300,
        "0 9 * * mon-fri",
        "*/5 * * * *",
        "0 0 31 2 *",
        "59 23 * * 7",
        "1d",
        "366d",
        "999999999d",
        "15m",
        "0",
        "1h30m",
        "2026-12-01T09:00",
        "9999-12-31T23:59:59",
        "0001-01-01T00:00+14:00",
        "broadcast",
        "invite_reset",
        "once",
        "skip",
        "queue",
        "always",
        "never",
        "sales",
        "all",
        "all-sales",
        "120363123456789012@g.us",
        "Hi {group}, {date:%d/%m} {time:%_5H} {weekday:.3}",
        "{group:>1001}",
        "{date:%1001Y}",
        "{group:.0}",
        "\u200b",
        "\x00",
    ]
)
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 64, 65, 300, 301, 1000, 1001]),
)
moments = st.one_of(
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-12))])),
    st.dates(),
    st.times(),
)
scalars = st.one_of(st.booleans(), numbers, text, plausible, long_text, moments)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(text, plausible), inner, max_size=4),
    ),
    max_leaves=8,
)
keys_of = lambda known: st.one_of(st.sampled_from(known), text)  # noqa: E731


def tables(known: list[str], of: st.SearchStrategy[Any] = values) -> st.SearchStrategy[dict]:
    return st.dictionaries(keys_of(known), of, max_size=len(known) + 1)


def secret_in(key: str, known: list[str]) -> st.SearchStrategy[dict]:
    """A section whose secret ``key`` holds SECRET (plain, in a list, in a table...)."""
    secret = st.sampled_from([SECRET, [SECRET], {"x": SECRET}, f"{SECRET}\n", f" {SECRET}"])
    return st.builds(lambda rest, value: {**rest, key: value}, tables(known), secret)


REQUIRED = ("name", "kind", "targets")
job = st.one_of(
    st.fixed_dictionaries(
        {"name": st.one_of(plausible, text), "kind": plausible, "targets": st.lists(plausible)},
        optional={key: st.one_of(plausible, values) for key in JOB_KEYS if key not in REQUIRED},
    ),
    tables(JOB_KEYS),
    values,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        **{section: st.one_of(tables(keys), values) for section, keys in SECTIONS.items()},
        # The secrets: any value of theirs must never come back in a problem.
        "pilot": st.one_of(tables(SECTIONS["pilot"]), secret_in("api_key", SECTIONS["pilot"])),
        "telegram": st.one_of(
            tables(SECTIONS["telegram"]), secret_in("token", SECTIONS["telegram"])
        ),
        "groups": st.one_of(st.dictionaries(st.one_of(plausible, text), values), values),
        "targets": st.one_of(st.dictionaries(st.one_of(plausible, text), values), values),
        "jobs": st.one_of(st.lists(job, max_size=3), values),
        "colour": values,
    },
)

ENV_NAMES = [
    f"GROUPPILOT_{section}__{key}".upper() for section, keys in SECTIONS.items() for key in keys
] + [
    "GROUPPILOT_TELEGRAM_TOKEN",
    "GROUPPILOT_PILOT",
    "GROUPPILOT_GROUPS",
    "GROUPPILOT_GROUPS__VIP",
    "GROUPPILOT_TARGETS__X",
    "GROUPPILOT_JOBS",
    "GROUPPILOT_JOBS__0__NAME",
    "GROUPPILOT_",
    "GROUPPILOT_PILOT__API_KEY__X",
    "GROUPILOT_PILOT__TIMEOUT",
]
env_values = st.one_of(
    # The environment holds no NUL and no surrogates (os.environ would refuse them).
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
    st.sampled_from(["[1, 2]", '{"timeout": "x"}', "[]", "{}", "null", "inf", "1e999"]),
    st.builds(lambda value: json.dumps(value, default=str), values),
)
SECRET_VARIABLES = [
    "GROUPPILOT_PILOT__API_KEY",
    "GROUPPILOT_TELEGRAM__TOKEN",
    "GROUPPILOT_TELEGRAM_TOKEN",
    "GROUPPILOT_TOKEN",
]
secret_values = st.sampled_from(
    [SECRET, f'["{SECRET}"]', f'{{"x": "{SECRET}"}}', f"{SECRET}\n", f" {SECRET} "]
)
environments = st.one_of(
    st.dictionaries(st.sampled_from(ENV_NAMES), env_values, max_size=3),
    st.dictionaries(st.sampled_from(SECRET_VARIABLES), secret_values, min_size=1, max_size=2),
    st.builds(
        lambda secret: {"GROUPPILOT_PILOT": json.dumps({"api_key": secret, "timeout": "x"})},
        secret_values,
    ),
)


# Near-valid documents: a valid config with a few keys changed, where crashes like to hide
# (a value that passes one check and breaks the next, or breaks `check`'s next-run times).
VALID: dict[str, Any] = {
    "pilot": {"base_url": "sandbox", "timeout": 15, "max_rps": 5, "concurrency": 4},
    "scheduler": {"timezone": "America/Sao_Paulo"},
    "groups": {"sales": "120363123456789012@g.us"},
    "targets": {"all-sales": ["sales"]},
    "jobs": [
        {
            "name": "b",
            "kind": "broadcast",
            "cron": "0 9 * * *",
            "targets": ["all-sales"],
            "text": "Hi {group}",
        },
        {"name": "r", "kind": "invite_reset", "every": "1h", "targets": ["sales"]},
        {
            "name": "a",
            "kind": "broadcast",
            "at": "2027-01-01T00:00",
            "targets": ["all"],
            "text": "{date}",
        },
    ],
}
CHANGES = [
    *((section, key) for section, keys in SECTIONS.items() for key in keys),
    *((job, key) for job in range(3) for key in JOB_KEYS),
]


# Values that pass a key's own check, extremes first: they reach the checks after it.
GOOD: dict[str, list[Any]] = {
    "timeout": [0.001, 300, 1, 15.5],
    "max_rps": [1, 1000],
    "concurrency": [1, 64],
    "timezone": [
        "UTC",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Europe/Berlin",
        "America/Sao_Paulo",
    ],
    "cron": [
        "59 23 31 12 *",
        "0 0 29 2 *",
        "* * * * *",
        "30 2 * * sun",
        "0 0 1 1 0",
        "0 9 * * mon-fri",
        "0 0 31 * 7",
    ],
    "every": ["1s", "366d", "1d", "59m59s"],
    "at": [
        "9999-12-31T23:59:59",
        "0001-01-01T00:00:00",
        "2026-03-29T02:30",
        "2027-01-01T00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "2026-11-01T01:30",
    ],
    "gap": ["1h", "0"],
    "jitter": ["1d", "0s"],
    "catch_up_window": ["7d", "0"],
    "text": ["{group:>1000}{date:%1000Y}", "{{}}", "x", "{weekday:.1}{time:%-H}"],
    "targets": [["all"], ["sales"], ["120363000000000009@g.us"], ["all-sales", "all"]],
    "kind": ["broadcast", "invite_reset"],
    "enabled": [False, True],
    "pin": [True, False],
    "announce": [True, False],
    "catch_up": ["once", "skip"],
    "overlap": ["skip", "queue"],
    "notify": ["always", "failures", "never"],
    "name": ["z", "a" * 200, "all"],
    "base_url": ["sandbox", "https://pilotstatus.com.br", "http://127.0.0.1:1/x"],
    "api_key": ["", "ps_x"],
    "default_country": ["US", "br"],
    "token": ["", "1:x"],
    "api_base_url": ["", "http://127.0.0.1:8081/bot"],
    "admin_chats": [[], [-(2**63)], [2**63 - 1]],
    "admins": [[1, 1]],
    "viewers": [[0]],
    "notify_chats": [[-100]],
    "drop_pending_updates": [True],
    "path": ["~/x.db", "a" * 300, "/"],
}
SCHEDULES = ("cron", "every", "at")


def value_for(change: tuple[Any, str]) -> st.SearchStrategy[tuple[tuple[Any, str], Any]]:
    good = st.sampled_from(GOOD.get(change[1], [None])).filter(lambda value: value is not None)
    anything = st.one_of(plausible, scalars)
    value = st.integers(0, 9).flatmap(lambda roll: good if roll < 8 else anything)  # mostly good
    return st.tuples(st.just(change), value)


def changed(edits: list[tuple[tuple[Any, str], Any]]) -> dict[str, Any]:
    data = json.loads(json.dumps(VALID))
    for (where, key), value in edits:
        table = data["jobs"][where] if isinstance(where, int) else data.setdefault(where, {})
        if key in SCHEDULES:  # one schedule per job: the new one replaces the old
            for other in SCHEDULES:
                table.pop(other, None)
        table[key] = value
    return data


near_valid = st.lists(st.sampled_from(CHANGES).flatmap(value_for), min_size=1, max_size=2).map(
    changed
)


# -- TOML out --------------------------------------------------------------------------------


def toml(value: Any) -> str:
    """An inline TOML value (enough for the fuzzer; not a general writer)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    return "{" + ", ".join(f"{toml(str(k))} = {toml(v)}" for k, v in value.items()) + "}"


def document(data: dict[str, Any]) -> str:
    return "".join(f"{toml(key)} = {toml(value)}\n" for key, value in data.items())


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {name: value for name, value in os.environ.items() if "PILOT" in name.upper()}
    for name in saved:
        del os.environ[name]
    os.environ.update(variables)
    try:
        yield
    finally:
        for name in variables:
            os.environ.pop(name, None)
        os.environ.update(saved)


# -- the property ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def assert_loads_or_says_why(path: Path) -> None:
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError lists at least one problem"
        for problem in exc.problems:
            assert isinstance(problem, str) and problem.strip()
            assert "\n" not in problem, problem
            assert len(problem) <= MAX_PROBLEM, problem[:200]
            assert SECRET not in problem, problem
        return
    report = format_check(loaded, now=NOW)  # check can report on whatever loaded
    assert SECRET not in report


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=documents, variables=environments)
def test_any_document_and_environment_loads_or_raises_config_error(
    folder: Path, data: dict[str, Any], variables: dict[str, str]
) -> None:
    path = folder / "config.toml"
    path.write_text(document(data), encoding="utf-8")
    with environment(variables):
        assert_loads_or_says_why(path)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=near_valid)
def test_a_valid_config_with_a_few_keys_changed_loads_or_raises_config_error(
    folder: Path, data: dict[str, Any]
) -> None:
    path = folder / "near.toml"
    path.write_text(document(data), encoding="utf-8")
    with environment({}):
        assert_loads_or_says_why(path)


def test_the_near_valid_base_loads(folder: Path) -> None:
    path = folder / "valid.toml"
    path.write_text(document(VALID), encoding="utf-8")
    with environment({}):
        assert len(load_config(path).jobs) == 3


@settings(max_examples=100, deadline=None)
@given(raw=st.text(max_size=200).filter(lambda s: "\x00" not in s))
@example(raw="\r")  # a lone carriage return: invalid TOML that read_text() hid as a newline
@example(raw='[pilot]\rbase_url = "sandbox"')
def test_any_text_file_loads_or_raises_config_error(raw: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "config.toml"
        path.write_text(raw, encoding="utf-8", errors="surrogatepass")
        with environment({}):
            assert_loads_or_says_why(path)
