"""Who may do what (docs/telegram.md): every command of the catalog x admin, viewer, stranger.

Real command layer, real client to the sandbox (in process), real
SQLite store. Each case checks the answer, what reached the sandbox, the state
of the sandbox and the store, and the one audit row the attempt leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ADMIN, STRANGER, VIEWER

from bot.commands.catalog import command_specs
from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Principal, Reply, Rights
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
MEMBER = "5511933334444"  # a regular member of Sales Team
GROUP_ADMIN = "5511911112222"  # an admin of Sales Team
NEWCOMER = "5511955551234"  # in no group

READ_ENDPOINTS = frozenset({"list_groups", "get_group", "list_templates", "get_template"})
SPEC_RIGHTS = {spec.name: spec.rights for spec in command_specs()}


def is_write(record: Any) -> bool:
    """A request that changes something upstream (an invite read is a POST without reset)."""
    if record.endpoint in READ_ENDPOINTS:
        return False
    if record.endpoint == "invite":
        return bool((record.body or {}).get("reset"))
    return True


def world(sandbox: Sandbox, store: Store) -> dict[str, Any]:
    """Everything a command could change: groups, links, pins, sends, runtime aliases."""
    return {
        "groups": {
            gid: (g.name, dict(g.participants), g.invite_link, sorted(g.pinned))
            for gid, g in sandbox.groups.items()
        },
        "sent": [(m.group_id, m.text) for m in sandbox.sent_messages],
        "aliases": store.aliases(),
    }


# -- the cases: one valid invocation per command ----------------------------------------

Setup = Callable[[Sandbox, Store], dict[str, str]]
Check = Callable[[Sandbox, Store, Reply], None]


def no_setup(sandbox: Sandbox, store: Store) -> dict[str, str]:
    return {}


def a_sent_message(sandbox: Sandbox, store: Store) -> dict[str, str]:
    message = sandbox.send(SALES, "to be pinned")
    return {"msg": message.id}


def a_pinned_message(sandbox: Sandbox, store: Store) -> dict[str, str]:
    message = sandbox.send(SALES, "pinned already")
    sandbox.pin(SALES, message.id, pin=True)
    return {"msg": message.id}


def a_runtime_alias(sandbox: Sandbox, store: Store) -> dict[str, str]:
    store.set_alias("launch", SALES, by="setup")
    return {}


def created(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    [group] = [g for g in sandbox.groups.values() if g.name == "Launch team"]
    assert NEWCOMER in group.participants
    assert group.id in reply.text


def added(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    assert NEWCOMER in sandbox.groups[SALES].participants
    assert f"+{NEWCOMER}: added" in reply.text


def promoted(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    assert sandbox.groups[SALES].participants[MEMBER] == "admin"


def demoted(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    assert sandbox.groups[SALES].participants[GROUP_ADMIN] is None


def invite_shown(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    link = sandbox.groups[SALES].invite_link
    assert link in reply.text
    assert store.last_invite_link(SALES) == link


def pinned(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    [message] = sandbox.sent_messages
    assert sandbox.groups[SALES].pinned == {message.id}


def unpinned(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    assert sandbox.groups[SALES].pinned == set()


def sent_once(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    [message] = sandbox.sent_messages
    assert (message.group_id, message.text) == (SALES, "Hello team")
    assert store.last_sent(SALES) == message.id


def aliased(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    assert store.aliases() == {"launch": SALES}


def unaliased(sandbox: Sandbox, store: Store, reply: Reply) -> None:
    assert store.aliases() == {}


def mentions(*needles: str) -> Check:
    def check(sandbox: Sandbox, store: Store, reply: Reply) -> None:
        for needle in needles:
            assert needle in reply.text

    return check


@dataclass(frozen=True)
class Case:
    id: str
    command: str  # formatted with what setup returns
    confirm: bool = False
    setup: Setup = no_setup
    check: Check | None = None  # for the admin's successful run

    @property
    def name(self) -> str:
        return self.command.split()[0].lstrip("/")


CASES = [
    Case("help", "/help", check=mentions("Commands you can use:")),
    Case("help-group", "/help group", check=mentions("Usage: /group <group>")),
    Case("status", "/status", check=mentions("sandbox", "reachable")),
    Case("groups", "/groups", check=mentions("Sales Team", SALES)),
    Case("groups-filter", "/groups rio", check=mentions("Sales Rio", RIO)),
    Case("group", "/group sales", check=mentions(f"+{MEMBER}", "superadmin")),
    Case("aliases", "/aliases", check=mentions("sales -> " + SALES, "all-sales")),
    Case("log", "/log 5"),
    Case("templates", "/templates", check=mentions("boas_vindas", "sendable")),
    Case("plan", "/plan", check=mentions("Plan: ", "+ add +5511944445555")),  # groups.example.toml
    Case("apply", "/apply", confirm=True),  # groups.example.toml: asks, showing the plan
    Case("create", f'/create "Launch team" {NEWCOMER}', check=created),
    Case("add", f"/add sales {NEWCOMER}", check=added),
    Case("remove", f"/remove sales {MEMBER}", confirm=True),
    Case("promote", f"/promote sales {MEMBER}", check=promoted),
    Case("demote", f"/demote sales {GROUP_ADMIN}", check=demoted),
    Case("invite", "/invite sales", check=invite_shown),
    Case("invite-reset", "/invite sales reset", confirm=True),
    Case("pin", "/pin sales {msg}", setup=a_sent_message, check=pinned),
    Case("unpin", "/unpin sales {msg}", setup=a_pinned_message, check=unpinned),
    Case("send-one", "/send sales Hello team", check=sent_once),
    Case("send-many", "/send all-sales Hello both", confirm=True),
    Case("alias", "/alias launch sales", check=aliased),
    Case("unalias", "/unalias launch", setup=a_runtime_alias, check=unaliased),
]
CASE_IDS = [case.id for case in CASES]
READ_CASES = [c for c in CASES if SPEC_RIGHTS[c.name] == Rights.VIEWER]
WRITE_CASES = [c for c in CASES if SPEC_RIGHTS[c.name] == Rights.ADMIN]


# The job commands need a running scheduler: their rights (stranger, viewer, admin, and the
# refusal before argument checks) are checked in test_job_commands.py.
JOB_COMMANDS = {
    "jobs",
    "job",
    "run",
    "pause",
    "resume",
    "schedule",
    "unschedule",
    "reschedule",
    "edit",
    "cancel",
}


def test_every_command_of_the_catalog_has_a_case() -> None:
    assert {case.name for case in CASES} | JOB_COMMANDS == set(SPEC_RIGHTS)


@dataclass
class Prepared:
    text: str
    before: dict[str, Any]
    audit_before: int


def prepare(case: Case, sandbox: Sandbox, store: Store) -> Prepared:
    values = case.setup(sandbox, store)
    sandbox.reset_stats()
    return Prepared(
        case.command.format(**values), world(sandbox, store), len(store.recent_audit(1000))
    )


def the_new_audit_row(store: Store, prepared: Prepared, principal: Principal) -> Any:
    rows = store.recent_audit(1000)
    assert len(rows) == prepared.audit_before + 1, rows
    row = rows[0]
    assert (row.chat, row.who, row.command) == (principal.chat, principal.who, prepared.text)
    return row


# -- strangers: nothing at all ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_stranger_gets_silence_and_no_api_call(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, case: Case
) -> None:
    sandbox = sandbox_server.sandbox
    prepared = prepare(case, sandbox, store)
    outcome = await layer.execute(prepared.text, STRANGER)
    assert isinstance(outcome, Reply)
    assert outcome.silent
    assert outcome.text == ""
    assert sandbox.requests == []
    assert world(sandbox, store) == prepared.before
    row = the_new_audit_row(store, prepared, STRANGER)
    assert row.outcome.startswith("denied")


@pytest.mark.parametrize(
    "text", ["/nosuch", "/grups", "/add", '/create "unbalanced', "/help@PilotBot", "/HELP"]
)
async def test_stranger_gets_silence_for_anything_that_looks_like_a_command(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, text: str
) -> None:
    outcome = await layer.execute(text, STRANGER)
    assert outcome == Reply.nothing()
    assert sandbox_server.sandbox.requests == []
    [row] = store.recent_audit(10)
    assert (row.chat, row.who, row.command) == (STRANGER.chat, STRANGER.who, text)
    assert row.outcome.startswith("denied")


@pytest.mark.parametrize(
    "principal",
    [
        Principal(chat="telegram:-1001", who="user:9", rights=Rights.NONE),  # in an admin chat
        Principal(chat="telegram:9", who="user:9", rights=Rights.NONE),  # private chat
        Principal(chat="telegram:-100555", who="channel:-100555 (Ann)", rights=Rights.NONE),
    ],
    ids=["group-member", "private", "other-channel"],
)
async def test_no_rights_is_silent_wherever_it_comes_from(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, principal: Principal
) -> None:
    outcome = await layer.execute(f"/remove sales {MEMBER}", principal)
    assert outcome == Reply.nothing()
    assert sandbox_server.sandbox.requests == []
    assert MEMBER in sandbox_server.sandbox.groups[SALES].participants
    [row] = store.recent_audit(10)
    assert (row.chat, row.who) == (principal.chat, principal.who)


# -- viewers: read, never write --------------------------------------------------------------


@pytest.mark.parametrize("case", READ_CASES, ids=[c.id for c in READ_CASES])
async def test_viewer_may_run_read_commands(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, case: Case
) -> None:
    sandbox = sandbox_server.sandbox
    prepared = prepare(case, sandbox, store)
    outcome = await layer.execute(prepared.text, VIEWER)
    assert isinstance(outcome, Reply)
    assert outcome.ok, outcome.text
    assert not outcome.silent
    assert "admin rights" not in outcome.text
    if case.check is not None:
        case.check(sandbox, store, outcome)
    assert [r for r in sandbox.requests if is_write(r)] == []
    assert world(sandbox, store) == prepared.before
    row = the_new_audit_row(store, prepared, VIEWER)
    assert row.outcome == "ok"


@pytest.mark.parametrize("case", WRITE_CASES, ids=[c.id for c in WRITE_CASES])
async def test_viewer_is_refused_write_commands(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, case: Case
) -> None:
    sandbox = sandbox_server.sandbox
    prepared = prepare(case, sandbox, store)
    outcome = await layer.execute(prepared.text, VIEWER)
    assert isinstance(outcome, Reply), "a viewer must never be asked to confirm"
    assert not outcome.ok
    assert not outcome.silent
    assert "needs admin rights" in outcome.text
    assert f"/{case.name}" in outcome.text
    assert [r for r in sandbox.requests if is_write(r)] == []
    assert world(sandbox, store) == prepared.before
    row = the_new_audit_row(store, prepared, VIEWER)
    assert row.outcome.startswith("refused")


@pytest.mark.parametrize("case", WRITE_CASES, ids=[c.id for c in WRITE_CASES])
async def test_viewer_refusal_comes_before_argument_checks(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, case: Case
) -> None:
    # A bare "/remove" from a viewer: the answer is about rights, not usage.
    text = f"/{case.name}"
    outcome = await layer.execute(text, VIEWER)
    assert isinstance(outcome, Reply)
    assert not outcome.ok
    assert "needs admin rights" in outcome.text
    assert "Usage:" not in outcome.text
    assert sandbox_server.sandbox.requests == []
    [row] = store.recent_audit(10)
    assert (row.command, row.outcome) == (text, "refused: viewer")


# -- admins: everything ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_admin_may_run_everything(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, case: Case
) -> None:
    sandbox = sandbox_server.sandbox
    prepared = prepare(case, sandbox, store)
    outcome = await layer.execute(prepared.text, ADMIN)
    row = the_new_audit_row(store, prepared, ADMIN)
    if case.confirm:
        assert isinstance(outcome, Pending), outcome
        assert outcome.command == prepared.text
        assert outcome.question.strip()
        assert [r for r in sandbox.requests if is_write(r)] == []
        assert world(sandbox, store) == prepared.before
        assert row.outcome == "awaiting confirmation"
        return
    assert isinstance(outcome, Reply), outcome
    assert outcome.ok, outcome.text
    assert not outcome.silent
    if case.check is not None:
        case.check(sandbox, store, outcome)
    if SPEC_RIGHTS[case.name] == Rights.VIEWER:
        assert [r for r in sandbox.requests if is_write(r)] == []
    else:
        assert world(sandbox, store) != prepared.before or case.id == "invite"
    assert row.outcome == "ok"


@pytest.mark.parametrize(
    "principal",
    [
        Principal(chat="console", who="local operator", rights=Rights.ADMIN),
        Principal.local_operator("exec"),
        Principal(chat="telegram:-100222", who="channel:-100222 (Ann)", rights=Rights.ADMIN),
    ],
    ids=["console", "exec", "channel-post"],
)
async def test_audit_names_chat_and_who_as_given(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, principal: Principal
) -> None:
    text = f"/promote  sales   {MEMBER}"
    outcome = await layer.execute(text, principal)
    assert isinstance(outcome, Reply)
    assert outcome.ok, outcome.text
    [row] = store.recent_audit(10)
    assert (row.chat, row.who, row.command, row.outcome) == (
        principal.chat,
        principal.who,
        text,
        "ok",
    )


async def test_a_viewer_sees_the_refusals_in_the_log(layer: CommandLayer, store: Store) -> None:
    await layer.execute(f"/add sales {NEWCOMER}", VIEWER)
    await layer.execute("/groups", STRANGER)
    outcome = await layer.execute("/log 5", VIEWER)
    assert isinstance(outcome, Reply)
    lines = outcome.text.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(f"{STRANGER.chat} {STRANGER.who}: /groups -> denied: no rights")
    assert lines[1].endswith(
        f"{VIEWER.chat} {VIEWER.who}: /add sales {NEWCOMER} -> refused: viewer"
    )
