"""/jobs, /job, /run, /pause, /resume, /schedule, /unschedule and /status through the command layer.

The real command layer with a real scheduler (fake clock and timer), real
store file, real client to the sandbox (in process). A refused /schedule stores
nothing; every command is audited.
"""

from __future__ import annotations

import pytest
from conftest import ADMIN, STRANGER, VIEWER
from scheduler_kit import (
    RIO,
    SALES,
    START,
    VIP,
    Harness,
    HarnessFactory,
    broadcast,
    invite_reset,
)

from bot.commands.types import Pending, Principal, Reply
from jobs.tracking import Tracking, run_batch

JOBS = [
    broadcast(timezone="America/Sao_Paulo", targets=["all-sales"]),
    invite_reset(),
    broadcast("off", every="1h", enabled=False, text="x"),
]


@pytest.fixture
async def bot(make_harness: HarnessFactory) -> Harness:
    return await make_harness(JOBS).start()


async def say(bot: Harness, text: str, who: Principal = ADMIN, *, confirm: bool = False) -> Reply:
    outcome = await bot.layer.execute(text, who)
    if isinstance(outcome, Pending):
        assert confirm, f"unexpected question: {outcome.question}"
        outcome = await bot.layer.confirm(outcome.token, who)
    else:
        assert not confirm, f"expected a question, got {outcome.text}"
    return outcome


def chat_jobs(bot: Harness) -> list[str]:
    return [d.name for d in bot.scheduler.book.all() if d.source == "chat"]


# -- reading ---------------------------------------------------------------------------------


async def test_jobs_lists_every_job(bot: Harness) -> None:
    bot.scheduler.pause("links", by="user:1")
    reply = await say(bot, "/jobs", VIEWER)
    assert reply.ok
    lines = reply.text.splitlines()
    assert lines[0] == "3 jobs:"
    assert lines[1] == 'morning: broadcast, cron "0 9 * * *" (America/Sao_Paulo), config'
    assert lines[2] == "  next: 2026-11-28 09:00 -0300; last: never run"
    assert lines[3].startswith("links: invite_reset") and lines[3].endswith("config, PAUSED")
    assert lines[4] == "  next: paused; last: never run"
    assert lines[6] == "  next: disabled (enabled = false); last: never run"


async def test_job_shows_details_and_recent_runs(bot: Harness) -> None:
    await bot.advance(days=1)
    reply = await say(bot, "/job morning", VIEWER)
    assert reply.ok
    text = reply.text
    assert text.startswith("morning (broadcast, config job)")
    assert 'schedule: cron "0 9 * * *" in America/Sao_Paulo' in text
    assert "targets: all-sales" in text
    assert "pin no · gap 0s · jitter 0s · catch_up once within 6h · overlap skip" in text
    assert "state: active" in text
    assert "next run: 2026-11-29 09:00 -0300" in text
    [run] = bot.runs("morning")
    line = f"  #{run.id} 2026-11-28 09:00 -0300 schedule: ok, queued 2, failed 0, unknown 0 in 0s"
    assert line in text


def _content_job(**content: object) -> dict[str, object]:
    job = broadcast("promo", **content)
    if "text" not in content:
        job.pop("text")
    return job


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ({"text": "Hi {group}"}, ["text: Hi {group}"]),
        (
            {"template": "boas_vindas", "variables": {"nome": "equipe {group}", "cupom": "X1"}},
            ["template: boas_vindas", "variables: nome=equipe {group}, cupom=X1"],
        ),
        ({"template": "aviso"}, ["template: aviso", "variables: none"]),
        (
            {"media": "https://example.com/m.pdf", "media_type": "document", "caption": "{date}"},
            ["media: document https://example.com/m.pdf", "caption: {date}"],
        ),
        (
            {"media": "https://example.com/a.png", "media_type": "image"},
            ["media: image https://example.com/a.png"],
        ),
    ],
    ids=["text", "template", "template-no-variables", "media-caption", "media"],
)
async def test_job_shows_the_content_mode(
    make_harness: HarnessFactory, content: dict[str, object], shown: list[str]
) -> None:
    bot = await make_harness([_content_job(**content)]).start()
    reply = await say(bot, "/job promo", VIEWER)
    assert reply.ok, reply.text
    lines = reply.text.splitlines()
    start = lines.index("targets: all-sales") + 1
    assert lines[start : start + len(shown)] == shown
    assert lines[start + len(shown)].startswith("pin no · ")
    others = {"text", "template", "variables", "media", "caption"} - {
        line.split(":", 1)[0] for line in shown
    }
    assert not [line for line in lines if line.split(":", 1)[0] in others]


async def test_job_shows_no_content_for_an_invite_reset(bot: Harness) -> None:
    reply = await say(bot, "/job links", VIEWER)
    lines = reply.text.splitlines()
    assert lines[2] == "targets: vip"
    assert lines[3].startswith("announce yes · "), lines  # the options: no content line between


def delivery_line(reply: Reply) -> str:
    [line] = [line.strip() for line in reply.text.splitlines() if "delivery:" in line]
    return line


async def test_job_says_whether_delivery_is_still_followed(bot: Harness) -> None:
    await bot.advance(days=1)  # the 09:00 -0300 run queues 2 messages, followed for 30m
    [run] = bot.runs("morning")
    following = await say(bot, "/job morning", VIEWER)
    assert delivery_line(following) == "delivery: queued 2 (following until 09:30)"

    tracking = Tracking(bot.store.db)
    first, second = tracking.messages(run_batch(run.id))
    tracking.record_check(first, now=bot.clock(), status="READ")
    partly = await say(bot, "/job morning", VIEWER)
    assert delivery_line(partly) == "delivery: queued 1 · read 1 (following until 09:30)"

    await bot.advance(minutes=31)  # past the horizon: the second one's status is the last known
    past = await say(bot, "/job morning", VIEWER)
    assert delivery_line(past) == "delivery: queued 1 · read 1 (last known: followed until 09:30)"

    tracking.record_check(second, now=bot.clock(), status="FAILED", code="X")
    settled = await say(bot, "/job morning", VIEWER)
    assert delivery_line(settled) == "delivery: read 1 · failed 1"


@pytest.mark.parametrize(("typed", "hint"), [("mornin", "Did you mean morning?"), ("zzz", "Jobs:")])
async def test_unknown_job_names_the_candidates(bot: Harness, typed: str, hint: str) -> None:
    reply = await say(bot, f"/job {typed}", VIEWER)
    assert not reply.ok
    assert hint in reply.text


# -- running and pausing ------------------------------------------------------------------------


async def test_run_a_broadcast_asks_then_reports(bot: Harness) -> None:
    outcome = await bot.layer.execute("/run morning", ADMIN)
    assert isinstance(outcome, Pending)
    # issue 12: the resolved groups, not the target's name (tests/test_run_confirmation.py)
    assert "Run morning now (a manual run)? It sends to 2 groups: " in outcome.question
    assert bot.sandbox.sent_messages == []  # nothing before Confirm
    reply = await bot.layer.confirm(outcome.token, ADMIN)
    assert reply.ok, reply.text
    assert "manual run by user:1): queued 2, failed 0, unknown 0" in reply.text
    [run] = bot.runs("morning")
    assert (run.trigger, run.requested_by) == ("manual", ADMIN.who)


@pytest.mark.parametrize("notify", ["always", "never"])
async def test_run_answers_with_the_report_unless_the_notify_chats_got_it(
    make_harness: HarnessFactory, notify: str
) -> None:
    bot = await make_harness([broadcast(targets=["all"], notify=notify, text="x")]).start()
    bot.sandbox.inject("send", status=502, code="WHATSAPP_UPSTREAM_ERROR", times=1)
    reply = await say(bot, "/run morning", confirm=True)
    assert not reply.ok  # a partial run
    headline = "manual run by user:1): queued 3, failed 1, unknown 0"
    if notify == "always":
        assert reply.text.splitlines()[1:] == ["(report sent to the notify chats)"]
        [report] = bot.notes.texts
        assert headline in report and "failed WHATSAPP_UPSTREAM_ERROR" in report
    else:
        assert headline in reply.text and "failed WHATSAPP_UPSTREAM_ERROR" in reply.text
        assert bot.notes.texts == []


async def test_run_an_invite_reset_asks_first(bot: Harness) -> None:
    # issue 12: it kills live links, so it asks like /invite … reset
    before = bot.sandbox.groups[VIP].invite_link
    reply = await say(bot, "/run links", confirm=True)
    assert reply.ok, reply.text
    assert "reset 1, failed 0, unknown 0" in reply.text
    assert bot.sandbox.groups[VIP].invite_link != before


async def test_run_refuses_a_disabled_job(bot: Harness) -> None:
    reply = await say(bot, "/run off")
    assert not reply.ok
    assert "disabled" in reply.text


async def test_run_reports_a_skip(make_harness: HarnessFactory) -> None:
    bot = await make_harness([broadcast("slow", every="1m", gap="5s", text="x")]).start()
    bot.sleep.gate.clear()
    first = bot.scheduler.run_now("slow", by="user:1")
    await bot.until(lambda: len(bot.sleep.calls) == 1)  # held between its two sends
    reply = await say(bot, "/run slow", confirm=True)
    assert not reply.ok
    assert "was not run: the previous run" in reply.text
    bot.sleep.gate.set()
    assert first.task is not None
    await first.task
    assert [run.outcome for run in bot.runs("slow")] == ["ok", "skipped"]


async def test_a_long_manual_run_answers_started(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.commands import jobs as job_commands

    monkeypatch.setattr(job_commands, "MANUAL_WAIT", 0.05)
    bot = await make_harness([broadcast("slow", every="1m", gap="5s", text="x")]).start()
    bot.sleep.gate.clear()
    reply = await say(bot, "/run slow", confirm=True)
    assert reply.ok
    assert reply.text.startswith("Started slow (manual run): 1 of 2 done so far.")
    bot.sleep.gate.set()
    await bot.idle()


async def test_pause_and_resume(bot: Harness) -> None:
    reply = await say(bot, "/pause morning holiday week")
    assert reply.ok
    assert "Paused morning" in reply.text
    state = bot.scheduler.book.state("morning")
    assert (state.paused, state.note, state.paused_by) == (True, "holiday week", ADMIN.who)
    assert (
        "paused since 2026-11-27 09:00 -0300 by user:1: holiday week"
        in (await say(bot, "/job morning")).text
    )
    again = await say(bot, "/pause morning")
    assert not again.ok
    reply = await say(bot, "/resume morning")
    assert reply.ok
    assert "Next run: 2026-11-28 09:00 -0300" in reply.text
    assert not (await say(bot, "/resume morning")).ok


# -- /schedule and /unschedule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "kind", "schedule", "target"),
    [
        ('/schedule promo "0 18 * * fri" send all-sales Weekend offers!', "broadcast",
         'cron "0 18 * * fri"', "all-sales"),
        ("/schedule promo every 15m send all Don't miss it, {group}", "broadcast", "every 15m",
         "all"),
        ("/schedule promo at 2026-12-01T09:00 send sales Hi", "broadcast",
         "at 2026-12-01T09:00:00+00:00", "sales"),
        ('/schedule promo every 1h send "Sales Rio" Hi', "broadcast", "every 1h", RIO),
        (f"/schedule promo every 2h send {SALES} Hi", "broadcast", "every 2h", SALES),
        ("/schedule promo every 1d reset-invite vip", "invite_reset", "every 1d", "vip"),
        ('/schedule promo "30 2 * * sun" reset-invite all', "invite_reset",
         'cron "30 2 * * sun"', "all"),
    ],
)  # fmt: skip
async def test_schedule_stores_and_arms_a_job(
    bot: Harness, command: str, kind: str, schedule: str, target: str
) -> None:
    reply = await say(bot, command, confirm=True)
    assert reply.ok, reply.text
    assert reply.text.startswith(f"Scheduled promo: {schedule} (UTC)")
    definition = bot.scheduler.book.get("promo")
    assert definition is not None
    assert (definition.source, definition.config.kind) == ("chat", kind)
    assert definition.config.targets == [target]
    assert definition.created_by == ADMIN.who
    assert "promo" in bot.timer.armed


async def test_schedule_keeps_the_text_as_typed(bot: Harness) -> None:
    await say(bot, "/schedule promo every 15m send sales It's {weekday}!\nSee you", confirm=True)
    await bot.advance(minutes=15)
    assert bot.texts_to(SALES) == ["It's Friday!\nSee you"]


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ('/schedule promo "0 25 * * *" send all Hi', "cron"),
        ('/schedule promo "0 9 * * funday" send all Hi', "cannot read 'funday'"),
        ("/schedule promo 0 9 * * * send all Hi", "quote a cron expression"),
        ("/schedule promo every 15 send all Hi", "missing unit"),
        ("/schedule promo every 0s send all Hi", "more than 0"),
        ("/schedule promo at tomorrow send all Hi", "ISO 8601"),
        ("/schedule promo at 2026-11-27T11:00 send all Hi", "has already passed"),
        ("/schedule promo every 1h send nowhere Hi", "No group, alias or target called 'nowhere'"),
        ("/schedule promo every 1h send all Hi {nome}", "unknown placeholder {nome}"),
        ("/schedule promo every 1h send all", "give the text"),
        ("/schedule promo every 1h reset-invite vip extra", "takes only a target"),
        ("/schedule promo every 1h shout all Hi", "write send <target>"),
        ("/schedule Promo! every 1h send all Hi", "use 1-40 of a-z"),
        (f"/schedule {'a' * 41} every 1h send all Hi", "use 1-40 of a-z"),
        ("/schedule morning every 1h send all Hi", "already a config job called 'morning'"),
        ('/schedule promo "0 9 * * *', "check the quotes"),
    ],
)
async def test_bad_schedule_is_refused_and_nothing_stored(
    bot: Harness, command: str, problem: str
) -> None:
    reply = await say(bot, command)
    assert not reply.ok
    assert problem in reply.text
    assert chat_jobs(bot) == []
    assert set(bot.timer.armed) == {"morning", "links"}
    assert bot.store.recent_audit(1)[0].outcome == "failed"


async def test_a_taken_chat_name_is_refused(bot: Harness) -> None:
    assert (await say(bot, "/schedule promo every 1h send all Hi", confirm=True)).ok
    reply = await say(bot, "/schedule promo every 2h send sales Bye")
    assert not reply.ok
    assert "already a /schedule job called 'promo'" in reply.text


async def test_unschedule_asks_then_deletes_keeping_history(bot: Harness) -> None:
    await say(bot, "/schedule promo every 1h send sales Hi", confirm=True)
    await bot.advance(hours=1)
    outcome = await bot.layer.execute("/unschedule promo", ADMIN)
    assert isinstance(outcome, Pending)
    assert "Delete the /schedule job promo" in outcome.question
    assert chat_jobs(bot) == ["promo"]
    reply = await bot.layer.confirm(outcome.token, ADMIN)
    assert reply.ok
    assert chat_jobs(bot) == []
    assert "promo" not in bot.timer.armed
    assert len(bot.scheduler.ledger.runs("promo")) == 1


async def test_config_jobs_cannot_be_unscheduled(bot: Harness) -> None:
    reply = await say(bot, "/unschedule morning")
    assert not reply.ok
    assert "config job: it can only be paused" in reply.text


# -- rights, exec, status --------------------------------------------------------------------------

WRITES = [
    "/run links",
    "/pause morning",
    "/resume morning",
    "/schedule promo every 1h send all Hi",
    "/unschedule promo",
    "/reschedule promo every 1h",
    "/edit promo text Hi",
]


@pytest.mark.parametrize("command", WRITES)
async def test_viewers_may_not_change_jobs(bot: Harness, command: str) -> None:
    reply = await say(bot, command, VIEWER)
    assert not reply.ok
    assert "needs admin rights" in reply.text
    assert bot.sandbox.requests == []


@pytest.mark.parametrize(
    "command", ["/run", "/pause", "/resume", "/schedule", "/unschedule", "/reschedule", "/edit"]
)
async def test_viewer_refusal_comes_before_argument_checks(bot: Harness, command: str) -> None:
    reply = await say(bot, command, VIEWER)
    assert "needs admin rights" in reply.text
    assert "Usage:" not in reply.text
    assert bot.store.recent_audit(1)[0].outcome == "refused: viewer"


@pytest.mark.parametrize("command", ["/jobs", "/job morning", *WRITES])
async def test_strangers_get_silence(bot: Harness, command: str) -> None:
    assert await say(bot, command, STRANGER) == Reply.nothing()
    assert bot.store.recent_audit(1)[0].outcome.startswith("denied")


@pytest.mark.parametrize("command", WRITES)
async def test_a_process_without_the_running_scheduler_refuses_changes(
    make_harness: HarnessFactory, command: str
) -> None:
    idle = make_harness(JOBS)  # like `grouppilot exec`: built, never started
    outcome = await idle.layer.execute(command, ADMIN)
    assert isinstance(outcome, Reply)
    assert not outcome.ok
    assert "not running in this process" in outcome.text
    assert chat_jobs(idle) == []


async def test_a_process_without_the_running_scheduler_still_lists_jobs(
    make_harness: HarnessFactory,
) -> None:
    idle = make_harness(JOBS)
    reply = await say(idle, "/jobs", VIEWER)
    assert reply.ok
    assert "  next: 2026-11-28 09:00 -0300; last: never run" in reply.text
    status = await say(idle, "/status", VIEWER)
    assert "Scheduler: not running in this process" in status.text


async def test_status_shows_the_scheduler_and_next_runs(bot: Harness) -> None:
    reply = await say(bot, "/status", VIEWER)
    assert reply.ok
    lines = reply.text.splitlines()
    assert "Scheduler: running, 3 jobs (0 paused, 1 disabled), 0 running now" in lines
    assert "Next runs: links 2026-11-28 03:00 UTC; morning 2026-11-28 09:00 -0300" in lines
    assert "not part of this build" not in reply.text


async def test_help_lists_the_job_commands(bot: Harness) -> None:
    reply = await say(bot, "/help", VIEWER)
    assert "/jobs" in reply.text and "/job <name>" in reply.text
    assert "/schedule" not in reply.text  # admins only
    admin_help = await say(bot, "/help schedule")
    assert "reset-invite <target>" in admin_help.text


def test_start_is_a_friday() -> None:
    assert START.weekday() == 4
