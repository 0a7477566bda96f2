"""The text of `grouppilot check`: summary line, one block per job, next runs in the job's zone."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.check import format_check
from bot.config import Settings, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
API_KEY = "ps_LIVE_SECRET_91c2"
TOKEN = "42:SECRET_BOT_TOKEN_x"

GROUPS = """
[groups]
sales = "120363123456789012@g.us"
"""


pytestmark = pytest.mark.usefixtures("no_grouppilot_env")


@pytest.fixture
def settings_from(tmp_path: Path) -> Callable[[str], Settings]:
    def _load(text: str) -> Settings:
        path = tmp_path / "config.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_config(path)

    return _load


def job(schedule: str, *, extra: str = "", kind: str = "broadcast") -> str:
    text = 'text = "hi"\n' if kind == "broadcast" else ""
    return (
        GROUPS
        + f'[[jobs]]\nname = "j"\nkind = "{kind}"\n{schedule}\ntargets = ["sales"]\n{text}{extra}\n'
    )


def block(report: str, name: str) -> list[str]:
    """The lines of one job's block."""
    lines = report.splitlines()
    start = lines.index(name)
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def next_times(report: str, name: str = "j") -> list[str]:
    lines = block(report, name)
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith("next"))
    times = [lines[first].split(":", 1)[1].strip()]
    times += [line.strip() for line in lines[first + 1 :] if not line.lstrip().startswith("note")]
    return times


def test_example_config_report() -> None:
    report = format_check(load_config(EXAMPLE), now=NOW)
    summary = report.splitlines()[0]
    assert "sandbox" in summary
    assert "no token" in summary
    assert "grouppilot.db" in summary
    assert block(report, "morning-sales") == [
        "morning-sales",
        "  kind:     broadcast",
        '  schedule: cron "0 9 * * mon-fri"',
        "  zone:     America/Sao_Paulo",
        "  targets:  all-sales",
        "  text:     Good morning, {group}! Today is {date:%d/%m}.",
        "  state:    enabled",
        "  next:     2026-11-30T09:00:00-03:00",
        "            2026-12-01T09:00:00-03:00",
        "            2026-12-02T09:00:00-03:00",
    ]
    assert next_times(report, "nightly-invite-reset") == [
        "2026-11-28T03:00:00-03:00",
        "2026-11-29T03:00:00-03:00",
        "2026-11-30T03:00:00-03:00",
    ]
    assert "  kind:     invite_reset" in block(report, "nightly-invite-reset")


def test_live_summary_shows_url_and_never_secrets(settings_from: Callable[[str], Settings]) -> None:
    settings = settings_from(
        f"""
        [pilot]
        base_url = "https://pilotstatus.com.br/"
        api_key = "{API_KEY}"
        [telegram]
        token = "{TOKEN}"
        [storage]
        path = "/var/lib/grouppilot/bot.db"
        """
    )
    report = format_check(settings, now=NOW)
    summary = report.splitlines()[0]
    assert "https://pilotstatus.com.br" in summary
    assert "sandbox" not in summary
    assert "token set" in summary
    assert "/var/lib/grouppilot/bot.db" in summary
    assert API_KEY not in report and TOKEN not in report
    assert report.splitlines()[1:] == ["", "no jobs configured"]


@pytest.mark.parametrize(
    ("schedule", "zone", "expected"),
    [
        ('cron = "0 9 * * 0"', "UTC", ["2026-11-29T09:00:00+00:00", "2026-12-06T09:00:00+00:00"]),
        ('cron = "0 9 * * 7"', "UTC", ["2026-11-29T09:00:00+00:00", "2026-12-06T09:00:00+00:00"]),
        (
            'cron = "30 2 * * *"',
            "Europe/Berlin",
            ["2026-11-28T02:30:00+01:00", "2026-11-29T02:30:00+01:00"],
        ),
        ('every = "15m"', "UTC", ["2026-11-27T12:15:00+00:00", "2026-11-27T12:30:00+00:00"]),
        (
            'every = "1h30m"',
            "Asia/Kolkata",
            ["2026-11-27T19:00:00+05:30", "2026-11-27T20:30:00+05:30"],
        ),
        ('at = "2026-12-01T09:00"', "America/Sao_Paulo", ["2026-12-01T09:00:00-03:00"]),
        ('at = "2026-12-01T09:00:00Z"', "America/Sao_Paulo", ["2026-12-01T06:00:00-03:00"]),
    ],
)
def test_next_times_in_job_zone(
    settings_from: Callable[[str], Settings], schedule: str, zone: str, expected: list[str]
) -> None:
    report = format_check(settings_from(job(schedule, extra=f'timezone = "{zone}"')), now=NOW)
    times = next_times(report)
    assert times[: len(expected)] == expected
    assert len(times) == (1 if schedule.startswith("at") else 3)
    assert all(ISO.match(moment) for moment in times), times
    assert f"  zone:     {zone}" in block(report, "j")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("skip_dates = [2026-11-28]", ["2026-11-29T09:00:00+00:00", "2026-11-30T09:00:00+00:00"]),
        ("until = 2026-11-28", ["2026-11-28T09:00:00+00:00"]),
    ],
)
def test_next_times_leave_out_skip_dates_and_stop_at_until(
    settings_from: Callable[[str], Settings], extra: str, expected: list[str]
) -> None:
    report = format_check(settings_from(job('cron = "0 9 * * *"', extra=extra)), now=NOW)
    assert next_times(report)[: len(expected)] == expected
    if extra.startswith("until"):
        assert next_times(report) == expected


def test_every_job_says_it_counts_from_start(settings_from: Callable[[str], Settings]) -> None:
    lines = block(format_check(settings_from(job('every = "2h"')), now=NOW), "j")
    assert "  schedule: every 2h" in lines
    assert lines[-1].startswith("  note:") and "start" in lines[-1]


def test_cron_across_dst_in_report(settings_from: Callable[[str], Settings]) -> None:
    settings = settings_from(job('cron = "30 2 * * *"', extra='timezone = "Europe/Berlin"'))
    report = format_check(settings, now=datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert next_times(report) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


@pytest.mark.parametrize(
    ("now", "shown"),
    [
        (
            NOW + timedelta(days=10),
            "none: 2026-12-01T09:00:00-03:00 has passed (would count as missed)",
        ),
        (
            datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
            "none: 2026-12-01T09:00:00-03:00 has passed (would count as missed)",
        ),
        (datetime(2026, 12, 1, 11, 59, tzinfo=UTC), "2026-12-01T09:00:00-03:00"),
    ],
)
def test_at_job_that_passed(
    settings_from: Callable[[str], Settings], now: datetime, shown: str
) -> None:
    settings = settings_from(job('at = "2026-12-01T09:00"', extra='timezone = "America/Sao_Paulo"'))
    lines = block(format_check(settings, now=now), "j")
    assert lines[-1] == f"  next:     {shown}"


def test_disabled_job(settings_from: Callable[[str], Settings]) -> None:
    lines = block(
        format_check(settings_from(job('cron = "0 9 * * *"', extra="enabled = false")), now=NOW),
        "j",
    )
    assert "  state:    disabled" in lines
    assert any(line.startswith("  next (if enabled): 2026-11-28T09:00:00+00:00") for line in lines)


def test_invite_reset_and_targets_listed(settings_from: Callable[[str], Settings]) -> None:
    text = job('cron = "0 3 * * *"', kind="invite_reset").replace(
        'targets = ["sales"]', 'targets = ["sales", "all", "120363000000000002@g.us"]'
    )
    lines = block(format_check(settings_from(text), now=NOW), "j")
    assert "  kind:     invite_reset" in lines
    assert "  targets:  sales, all, 120363000000000002@g.us" in lines


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (
            'text = "Hello {group}"',
            ["  text:     Hello {group}"],
        ),
        (
            'template = "boas_vindas"\nvariables = { nome = "equipe {group}", cupom = "X-{date}" }',
            ["  template: boas_vindas", "  variables: nome=equipe {group}, cupom=X-{date}"],
        ),
        (
            'template = "aviso"',
            ["  template: aviso", "  variables: none"],
        ),
        (
            'media = "https://example.com/menu.pdf"\nmedia_type = "document"\n'
            'caption = "Menu for {weekday}"',
            ["  media:    document https://example.com/menu.pdf", "  caption:  Menu for {weekday}"],
        ),
        (
            'media = "https://example.com/a.png"\nmedia_type = "image"',
            ["  media:    image https://example.com/a.png"],
        ),
    ],
    ids=["text", "template", "template-no-variables", "media-caption", "media"],
)
def test_broadcast_content_shown_after_targets(
    settings_from: Callable[[str], Settings], content: str, shown: list[str]
) -> None:
    text = GROUPS + (
        '[[jobs]]\nname = "j"\nkind = "broadcast"\ncron = "0 9 * * *"\n'
        f'targets = ["sales"]\n{content}\n'
    )
    lines = block(format_check(settings_from(text), now=NOW), "j")
    start = lines.index("  targets:  sales") + 1
    assert lines[start : start + len(shown) + 1] == [*shown, "  state:    enabled"]


def test_invite_reset_shows_no_content(settings_from: Callable[[str], Settings]) -> None:
    lines = block(
        format_check(settings_from(job('cron = "0 3 * * *"', kind="invite_reset")), now=NOW), "j"
    )
    labels = {line.split(":", 1)[0].strip() for line in lines[1:]}
    assert labels.isdisjoint({"text", "template", "variables", "media", "caption"})


def test_one_block_per_job_in_config_order(settings_from: Callable[[str], Settings]) -> None:
    text = GROUPS + "".join(
        f'[[jobs]]\nname = "{name}"\nkind = "invite_reset"\nevery = "1h"\ntargets = ["sales"]\n'
        for name in ("zeta", "alpha", "mid")
    )
    report = format_check(settings_from(text), now=NOW)
    names = [line for line in report.splitlines() if line and not line.startswith(" ")]
    assert names[1:] == ["zeta", "alpha", "mid"]


def test_naive_now_is_rejected(settings_from: Callable[[str], Settings]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_check(settings_from(GROUPS), now=datetime(2026, 1, 1))
