"""/log [n] [who=…] [command=…] [group=…] [failed]: filters, reasons, local times.

The entries are made the real way, by commands run through the command layer
against the sandbox; the store's clock is fixed, so the times shown are known.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ADMIN, STRANGER, VIEWER
from conftest import run_confirmed as run

from bot.commands.layer import CommandLayer
from bot.commands.types import Reply
from bot.config import Settings
from bot.runtime import build_commands
from bot.store import AuditFilter, Store
from bot.whatsapp import WhatsAppClient

NOON_UTC = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)
SALES = "120363123456789012@g.us"
USAGE = "Usage: /log [n] [who=…] [command=…] [group=…] [failed]"

# Run oldest first; /log lists newest first.
HISTORY = [
    (ADMIN, "/groups"),  # ok
    (VIEWER, "/add sales +5511977771111"),  # refused: viewer
    (ADMIN, "/group nosuch"),  # failed, with the resolver's sentence
    (ADMIN, "/frobnicate"),  # unknown command
    (ADMIN, "/pin sales ABC123"),  # failed: MESSAGE_NOT_FOUND
    (ADMIN, f"/group {SALES}"),  # ok, the group by id
    (ADMIN, "/group rio"),  # ok
    (STRANGER, "/groups"),  # denied: no rights
]


def layer_in(zone: str, settings: Settings, client: WhatsAppClient, store: Store) -> CommandLayer:
    scheduler = settings.scheduler.model_copy(update={"timezone": zone})
    return build_commands(
        settings.model_copy(update={"scheduler": scheduler}), client=client, store=store
    )


@pytest.fixture
def clocked_store() -> Iterator[Store]:
    with Store.memory(clock=lambda: NOON_UTC) as opened:
        yield opened


@pytest.fixture
async def logged(settings: Settings, client: WhatsAppClient, clocked_store: Store) -> CommandLayer:
    layer = layer_in("America/Sao_Paulo", settings, client, clocked_store)
    for principal, text in HISTORY:
        await layer.execute(text, principal)
    return layer


def commands_of(reply: Reply) -> list[str]:
    """The command shown on each line (between 'who: ' and ' -> ')."""
    return [line.split(": ", 1)[1].split(" -> ", 1)[0] for line in reply.text.splitlines()]


async def show(layer: CommandLayer, text: str) -> Reply:
    reply = await run(layer, text, VIEWER)
    assert reply.ok, reply.text
    return reply


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param("", [c for _, c in reversed(HISTORY)], id="no-filter"),
        pytest.param("3", ["/groups", "/group rio", f"/group {SALES}"], id="count"),
        pytest.param("who=user:2", ["/add sales +5511977771111"], id="who"),
        pytest.param("who=USER:77", ["/groups"], id="who-any-case-substring"),
        pytest.param(
            "command=group", ["/group rio", f"/group {SALES}", "/group nosuch"], id="command"
        ),
        pytest.param("command=/groups", ["/groups", "/groups"], id="command-with-slash"),
        pytest.param("command=frobnicate", ["/frobnicate"], id="command-unknown-name"),
        pytest.param(
            "failed",
            [
                "/groups",
                "/pin sales ABC123",
                "/frobnicate",
                "/group nosuch",
                "/add sales +5511977771111",
            ],
            id="failed",
        ),
        pytest.param(
            "group=sales",
            [f"/group {SALES}", "/pin sales ABC123", "/add sales +5511977771111"],
            id="group-alias-also-matches-its-id",
        ),
        pytest.param(
            f"group={SALES}",
            [f"/group {SALES}", "/pin sales ABC123", "/add sales +5511977771111"],
            id="group-id-also-matches-its-alias",
        ),
        pytest.param("group=nosuch", ["/group nosuch"], id="group-unknown-word-as-typed"),
        pytest.param("failed command=group", ["/group nosuch"], id="failed-and-command"),
        pytest.param(
            "1 failed who=user:1 group=sales", ["/pin sales ABC123"], id="all-in-any-order"
        ),
    ],
)
async def test_each_filter_selects_its_entries(
    logged: CommandLayer, words: str, expected: list[str]
) -> None:
    assert commands_of(await show(logged, f"/log {words}".strip())) == expected


async def test_no_match_says_so(logged: CommandLayer) -> None:
    reply = await show(logged, "/log who=nobody")
    assert reply.text == "No audit entries match."


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ("colour=red", f"'colour' is not a /log filter. {USAGE}"),
        ("faild", f"'faild' is not a /log filter. {USAGE}"),
        ("who=a who=b", f"who= is given twice. {USAGE}"),
        ("group=", "group= needs a value, e.g. group=sales."),
        ("5 7", f"Give one number of entries. {USAGE}"),
        ("0", "Give a number of entries from 1 to 100, e.g. /log 20"),
        ("command=a/b", f"'a/b' is not a command name: give one like command=add. {USAGE}"),
    ],
)
async def test_bad_filter_words_get_one_sentence_with_the_usage(
    logged: CommandLayer, clocked_store: Store, words: str, sentence: str
) -> None:
    before = len(clocked_store.recent_audit(100))
    reply = await run(logged, f"/log {words}", VIEWER)
    assert not reply.ok
    assert reply.text.startswith(sentence), reply.text
    assert "\n" not in reply.text
    assert len(clocked_store.recent_audit(100)) == before + 1  # only the /log itself


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("America/Sao_Paulo", "2026-11-30 09:00:05 -03:00"),
        ("UTC", "2026-11-30 12:00:05 +00:00"),
        ("Asia/Kolkata", "2026-11-30 17:30:05 +05:30"),
    ],
)
async def test_times_are_in_the_scheduler_zone_with_their_offset(
    settings: Settings, client: WhatsAppClient, clocked_store: Store, zone: str, shown: str
) -> None:
    layer = layer_in(zone, settings, client, clocked_store)
    await run(layer, "/groups")
    reply = await show(layer, "/log 1")
    assert reply.text.startswith(f"{shown} {ADMIN.chat} {ADMIN.who}: /groups -> ok")


@pytest.mark.parametrize(
    ("command", "outcome", "reason"),
    [
        ("/group nosuch", "failed", "No group, alias or target called 'nosuch'"),
        ("/frobnicate", "unknown command", "Unknown command /frobnicate"),
        ("/pin sales ABC123", "failed", "The WhatsApp API does not know that message"),
    ],
)
async def test_failed_entries_show_their_reason_on_one_line(
    logged: CommandLayer, command: str, outcome: str, reason: str
) -> None:
    reply = await show(logged, "/log 100")
    [line] = [x for x in reply.text.splitlines() if f": {command} -> " in x]
    assert f"{command} -> {outcome}: {reason}" in line
    assert len(line) < 200


async def test_ok_and_viewer_refusals_show_no_reason(logged: CommandLayer) -> None:
    lines = (await show(logged, "/log 100")).text.splitlines()
    assert lines[-1].endswith(": /groups -> ok")
    assert any(line.endswith("/add sales +5511977771111 -> refused: viewer") for line in lines)


async def test_a_long_reason_is_shortened_to_one_line(
    logged: CommandLayer, clocked_store: Store
) -> None:
    clocked_store.audit(
        chat="console", who="ana", command="/send x", outcome="failed", detail="a\nb " * 300
    )
    [line] = (await show(logged, "/log 1")).text.splitlines()
    assert line.endswith("/send x -> failed: " + ("a b " * 300)[:70] + "…")


# -- the store's queries: each filter in SQL, on an index where one helps ----------------------


def _plan(store: Store, where: AuditFilter) -> list[str]:
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        store.recent_audit(5, where)
    finally:
        store.db.conn.set_trace_callback(None)
    [sql] = [s for s in seen if s.startswith("SELECT")]
    return [row[3] for row in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


@pytest.mark.parametrize(
    ("where", "plan"),
    [
        (AuditFilter(name="add"), ["SEARCH audit_log USING INDEX audit_log_by_name (name=?)"]),
        (AuditFilter(failed=True), ["SCAN audit_log USING INDEX audit_log_failed"]),
        (
            AuditFilter(name="add", failed=True, who="u"),
            ["SEARCH audit_log USING INDEX audit_log_by_name (name=?)"],
        ),
        # substrings: the newest rows first, stopped by LIMIT
        (AuditFilter(who="u", text=("sales",)), ["SCAN audit_log"]),
    ],
)
def test_each_filter_query_reads_newest_first_without_sorting(
    clocked_store: Store, where: AuditFilter, plan: list[str]
) -> None:
    assert _plan(clocked_store, where) == plan


def test_typed_values_are_parameters_not_sql(clocked_store: Store) -> None:
    clocked_store.audit(chat="c", who="x' OR '1'='1", command="/add a", outcome="ok")
    hostile = AuditFilter(who="' OR 1=1 --", name="add') OR ('1'='1", text=("%", "_"))
    assert clocked_store.recent_audit(5, hostile) == []


def test_the_migration_names_the_commands_already_logged(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as store:  # the audit log as the previous schema had it
        store.db.execute("DROP INDEX audit_log_by_name")
        store.db.execute("DROP INDEX audit_log_failed")
        store.db.execute("ALTER TABLE audit_log DROP COLUMN name")
        store.db.execute("DELETE FROM _sqlite_migrations WHERE name = '0002_audit_filters'")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO audit_log (at, chat, who, command, outcome) VALUES"
            " ('2026-11-30T12:00:00.000000+00:00', 'c', 'w', ' /ADD@GroupPilotBot x', 'ok')"
        )
    conn.close()
    with Store(path) as store:
        [entry] = store.recent_audit(5, AuditFilter(name="add"))
        assert entry.command == " /ADD@GroupPilotBot x"
