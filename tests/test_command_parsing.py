"""Parsing and help of the command layer (docs/commands.md), with the real client to the sandbox.

Every test drives the real `CommandLayer` (real client, real sandbox server on
127.0.0.1, real SQLite file) or the real parsing functions; nothing is mocked.
"""

from __future__ import annotations

import re

import pytest
from conftest import ADMIN, STRANGER, VIEWER

from bot.commands.catalog import command_specs
from bot.commands.layer import CommandLayer
from bot.commands.parsing import CommandLine, ParseError, split_args, split_command
from bot.commands.registry import CommandSpec
from bot.commands.types import Pending, Principal, Reply, Rights
from bot.config import Settings
from bot.runtime import build_commands
from bot.sandbox import SandboxServerThread
from bot.store import Store
from bot.whatsapp import WhatsAppClient

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
SPECS = command_specs()
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


@pytest.fixture
def pilot_layer(settings: Settings, client: WhatsAppClient, store: Store) -> CommandLayer:
    """The layer given commands addressed ``/cmd@PilotBot`` (other bots' ones never reach it).

    The Telegram front end drops ``/cmd@OtherBot`` (tests/test_telegram_frontend.py).
    """
    return build_commands(settings, client=client, store=store)


def reply_of(outcome: Reply | Pending) -> Reply:
    assert isinstance(outcome, Reply), f"expected a Reply, got {outcome!r}"
    return outcome


def listed_commands(help_text: str) -> set[str]:
    """The command names at the start of the lines of a /help answer."""
    return set(re.findall(r"^/([a-z][a-z0-9_-]*)", help_text, flags=re.MULTILINE))


def audit_rows(store: Store) -> list:
    return store.recent_audit(1000)


# -- split_command ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/help", CommandLine("help", None, "", "/help")),
        ("/HELP", CommandLine("help", None, "", "/HELP")),
        ("/Groups sales", CommandLine("groups", None, "sales", "/Groups sales")),
        ("  /groups   sales  ", CommandLine("groups", None, "sales", "/groups   sales")),
        ("/help@PilotBot add", CommandLine("help", "PilotBot", "add", "/help@PilotBot add")),
        ("/send@pilot_bot sales hi",
         CommandLine("send", "pilot_bot", "sales hi", "/send@pilot_bot sales hi")),
        ("/send sales a\nb", CommandLine("send", None, "sales a\nb", "/send sales a\nb")),
        ("/send\nsales hi", CommandLine("send", None, "sales hi", "/send\nsales hi")),
        ("/un-pin x", CommandLine("un-pin", None, "x", "/un-pin x")),
        ("/log_2", CommandLine("log_2", None, "", "/log_2")),
    ],
)  # fmt: skip
def test_split_command(text: str, expected: CommandLine) -> None:
    assert split_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type a command"),
        ("   \n\t ", "Type a command"),
        ("help", "Commands start with /"),
        ("hello /help", "Commands start with /"),
        ("/", "not a command name"),
        ("/1abc", "not a command name"),
        ("/a.b", "not a command name"),
        ("/@PilotBot", "not a command name"),
        ("/help@", "not a command name"),
        ("/help@Pilot-Bot", "not a command name"),
        ('/"help"', "not a command name"),
    ],
)
def test_split_command_rejects(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        split_command(text)


# -- split_args ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("", []),
        ("sales", ["sales"]),
        ("  sales   rio ", ["sales", "rio"]),
        ('"Launch team" 5511999999999', ["Launch team", "5511999999999"]),
        ("'Launch team' +55 11 99999-9999", ["Launch team", "+55", "11", "99999-9999"]),
        (r"Launch\ team", ["Launch team"]),
        ('say "it\'s"', ["say", "it's"]),
        ("Team #1", ["Team", "#1"]),  # '#' is not a comment
        ('""', [""]),
        ("a\nb", ["a", "b"]),
    ],
)
def test_split_args_shell_like(rest: str, expected: list[str]) -> None:
    assert split_args(rest) == expected


@pytest.mark.parametrize(
    "rest", ['"Launch team 5511999999999', "Don't stop", "'abc", 'a "b', "trailing\\"]
)
@pytest.mark.parametrize("free", [None, 3])
def test_split_args_unbalanced_quotes(rest: str, free: int | None) -> None:
    with pytest.raises(ParseError, match="check the quotes"):
        split_args(rest, free_text_after=free)


@pytest.mark.parametrize(
    ("rest", "free", "expected"),
    [
        ("", 1, []),
        ("sales", 1, ["sales"]),
        ("sales   ", 1, ["sales"]),
        ("sales Don't forget", 1, ["sales", "Don't forget"]),
        ("sales Don't forget\nline two", 1, ["sales", "Don't forget\nline two"]),
        ("sales   spaced    out  ", 1, ["sales", "spaced    out"]),
        ('sales "Hello world"', 1, ["sales", "Hello world"]),
        ("sales 'Hello world'", 1, ["sales", "Hello world"]),
        ('sales "Don\'t"', 1, ["sales", "Don't"]),
        ('sales "a" and "b"', 1, ["sales", '"a" and "b"']),
        ('sales "a" "b"', 1, ["sales", '"a" "b"']),
        ('sales "unclosed', 1, ["sales", '"unclosed']),
        ("sales 50% off \\o/ #1", 1, ["sales", "50% off \\o/ #1"]),
        ('"all sales" hi there', 1, ["all sales", "hi there"]),
        ("sales\nline one\nline two", 1, ["sales", "line one\nline two"]),
        ("a b c d", 2, ["a", "b", "c d"]),
        ("a b", 2, ["a", "b"]),
        ("a b c d", 0, ["a b c d"]),
    ],
)
def test_split_args_free_text_tail(rest: str, free: int, expected: list[str]) -> None:
    assert split_args(rest, free_text_after=free) == expected


# -- the layer: quoting, names, bot suffixes ------------------------------------------


async def test_create_with_quoted_subject(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    reply = reply_of(await layer.execute('/create "Launch team" 5511955551234', ADMIN))
    assert reply.ok, reply.text
    created = [g for g in sandbox_server.sandbox.groups.values() if g.name == "Launch team"]
    assert len(created) == 1
    assert "5511955551234" in created[0].participants
    assert created[0].id in reply.text
    assert "+5511955551234: added" in reply.text


@pytest.mark.parametrize(
    "text", ["/GROUPS", "/Groups", "/gRoUpS", "/groups", "/GROUPS Sales", "/Groups SALES"]
)
async def test_command_names_are_case_insensitive(layer: CommandLayer, text: str) -> None:
    reply = reply_of(await layer.execute(text, VIEWER))
    assert reply.ok, reply.text
    assert "Sales Team — " + SALES in reply.text


@pytest.mark.parametrize("text", ["/groups@PilotBot", "/groups@pilotbot", "/GROUPS@PILOTBOT"])
async def test_own_bot_suffix_is_accepted(pilot_layer: CommandLayer, text: str) -> None:
    reply = reply_of(await pilot_layer.execute(text, VIEWER))
    assert reply.ok, reply.text
    assert SALES in reply.text


async def test_without_a_username_any_suffix_is_accepted(layer: CommandLayer) -> None:
    # The console and `exec` have no bot username: the suffix is not checked.
    reply = reply_of(await layer.execute("/groups@AnyBot", VIEWER))
    assert reply.ok
    assert SALES in reply.text


# -- the layer: input it cannot read --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('/create "Launch team 5511955551234', "check the quotes"),
        ("/group 'sales", "check the quotes"),
        ('/send "all-sales hello', "check the quotes"),
        ("hello", "Commands start with /"),
        ("groups", "Commands start with /"),
        ("", "Type a command"),
        ("   ", "Type a command"),
        ("/", "not a command name"),
        ("/123", "not a command name"),
    ],
)
async def test_unreadable_input_fails_clearly(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    text: str,
    message: str,
) -> None:
    reply = reply_of(await layer.execute(text, ADMIN))
    assert not reply.ok
    assert not reply.silent
    assert message in reply.text
    assert sandbox_server.sandbox.requests == []
    [row] = audit_rows(store)
    assert (row.chat, row.who, row.command, row.outcome) == (
        ADMIN.chat,
        ADMIN.who,
        text,
        "unparseable",
    )


@pytest.mark.parametrize(
    "text",
    ["/", "/ ", "/\x00", "\x00", "/help\x00", "/" + "x" * 5000, "/groups " + "y" * 10_000,
     "/send", "/send  ", '/send sales ""', "/log -1", "/log abc", "/log 0", "/log 101",
     "/group nosuchgroup", "/invite sales bogus", "/pin sales last", "/@", "/a@b@c", "\u200b/help"],
)  # fmt: skip
@pytest.mark.parametrize("principal", [ADMIN, VIEWER], ids=["admin", "viewer"])
async def test_odd_input_always_gets_an_answer(
    layer: CommandLayer, store: Store, principal: Principal, text: str
) -> None:
    outcome = await layer.execute(text, principal)
    reply = reply_of(outcome)
    assert not reply.silent
    assert reply.text.strip()
    assert not reply.text.startswith("Internal error"), reply.text
    assert len(audit_rows(store)) == 1


async def test_unknown_command_suggests_a_close_one(layer: CommandLayer, store: Store) -> None:
    reply = reply_of(await layer.execute("/grups", VIEWER))
    assert not reply.ok
    assert "Unknown command /grups" in reply.text
    assert "Did you mean /groups" in reply.text
    [row] = audit_rows(store)
    assert (row.command, row.outcome) == ("/grups", "unknown command")


@pytest.mark.parametrize(
    ("text", "principal", "suggested", "not_suggested"),
    [
        ("/ad", ADMIN, "/add", None),
        ("/remvoe", ADMIN, "/remove", None),
        ("/promot", ADMIN, "/promote", None),
        ("/aliass", VIEWER, "/aliases", "/alias "),
        # A viewer is not pointed at a command they may not run.
        ("/ad", VIEWER, None, "/add"),
        ("/sned", VIEWER, None, "/send"),
    ],
)
async def test_suggestions_respect_rights(
    layer: CommandLayer,
    text: str,
    principal: Principal,
    suggested: str | None,
    not_suggested: str | None,
) -> None:
    reply = reply_of(await layer.execute(text, principal))
    assert not reply.ok
    if suggested:
        assert "Did you mean" in reply.text
        assert suggested in reply.text
    if not_suggested:
        assert not_suggested not in reply.text


async def test_unknown_command_without_any_close_match(layer: CommandLayer) -> None:
    reply = reply_of(await layer.execute("/xyzzy", ADMIN))
    assert not reply.ok
    assert "Did you mean" not in reply.text
    assert "/help" in reply.text


# -- arity: missing and too many arguments, for every command of the catalog -----------


@pytest.mark.parametrize("spec", [s for s in SPECS if s.min_args > 0], ids=lambda s: s.name)
async def test_missing_arguments_show_usage(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, spec: CommandSpec
) -> None:
    text = f"/{spec.name}"
    reply = reply_of(await layer.execute(text, ADMIN))
    assert not reply.ok
    assert "Missing arguments" in reply.text
    assert f"Usage: /{spec.name} {spec.usage}".rstrip() in reply.text
    assert sandbox_server.sandbox.requests == []
    [row] = audit_rows(store)
    assert (row.command, row.outcome) == (text, "usage")


@pytest.mark.parametrize("spec", [s for s in SPECS if s.min_args > 1], ids=lambda s: s.name)
async def test_one_argument_short_shows_usage(
    layer: CommandLayer, sandbox_server: SandboxServerThread, spec: CommandSpec
) -> None:
    words = " ".join(["sales"] * (spec.min_args - 1))
    reply = reply_of(await layer.execute(f"/{spec.name} {words}", ADMIN))
    assert not reply.ok
    assert f"Usage: {spec.usage_line}" in reply.text
    assert sandbox_server.sandbox.requests == []


@pytest.mark.parametrize(
    "spec",
    [s for s in SPECS if s.max_args is not None and s.free_text_after is None],
    ids=lambda s: s.name,
)
async def test_too_many_arguments_show_usage(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, spec: CommandSpec
) -> None:
    assert spec.max_args is not None
    text = f"/{spec.name} " + " ".join(f"w{i}" for i in range(spec.max_args + 1))
    reply = reply_of(await layer.execute(text, ADMIN))
    assert not reply.ok
    assert "Too many arguments" in reply.text
    assert f"Usage: {spec.usage_line}" in reply.text
    assert sandbox_server.sandbox.requests == []
    [row] = audit_rows(store)
    assert (row.command, row.outcome) == (text, "usage")


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.free_text_after is not None], ids=lambda s: s.name
)
def test_free_text_commands_take_extra_words_as_text(spec: CommandSpec) -> None:
    # For /send, words past max_args are never "too many": they are the message.
    assert spec.free_text_after is not None
    words = [f"w{i}" for i in range(spec.free_text_after + 5)]
    args = split_args(" ".join(words), free_text_after=spec.free_text_after)
    assert spec.arity_problem(args) is None
    assert args[-1] == " ".join(words[spec.free_text_after :])


@pytest.mark.parametrize("spec", [s for s in SPECS if s.example], ids=lambda s: s.name)
def test_every_example_parses_with_the_right_arity(spec: CommandSpec) -> None:
    line = split_command(spec.example)
    assert line.name == spec.name
    args = split_args(line.rest, free_text_after=spec.free_text_after)
    assert spec.arity_problem(args) is None


@pytest.mark.parametrize("spec", [s for s in SPECS if s.example], ids=lambda s: s.name)
async def test_every_example_runs_past_parsing(
    layer: CommandLayer, store: Store, spec: CommandSpec
) -> None:
    outcome = await layer.execute(spec.example, ADMIN)
    assert isinstance(outcome, Reply | Pending)
    [row] = audit_rows(store)
    assert row.outcome not in ("usage", "unparseable", "unknown command"), outcome


# -- /help -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "rights"),
    [(ADMIN, Rights.ADMIN), (VIEWER, Rights.VIEWER)],
    ids=["admin", "viewer"],
)
async def test_help_lists_exactly_what_the_caller_may_run(
    layer: CommandLayer, principal: Principal, rights: Rights
) -> None:
    reply = reply_of(await layer.execute("/help", principal))
    assert reply.ok
    expected = {s.name for s in SPECS if s.rights <= rights}
    assert listed_commands(reply.text) == expected


async def test_help_viewer_sees_groups_but_not_add(layer: CommandLayer) -> None:
    viewer = reply_of(await layer.execute("/help", VIEWER)).text
    admin = reply_of(await layer.execute("/help", ADMIN)).text
    assert "groups" in listed_commands(viewer)
    assert "add" not in listed_commands(viewer)
    assert {"groups", "add", "remove", "send"} <= listed_commands(admin)
    for name in ("add", "remove", "promote", "demote", "send", "create", "alias"):
        assert f"/{name} " not in viewer
    # usage lines are shown, e.g. "/group <group>"
    assert "/group <group>" in viewer


async def test_help_is_silent_for_a_stranger(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    assert (await layer.execute("/help", STRANGER)).silent


async def test_help_add_shows_usage_and_example(layer: CommandLayer) -> None:
    reply = reply_of(await layer.execute("/help add", ADMIN))
    assert reply.ok
    lines = reply.text.splitlines()
    assert lines[0] == "Usage: /add <group> <number…>"
    assert "Example: /add sales +55 11 99999-9999" in lines
    assert "Needs admin rights." in lines


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("form", ["{name}", "/{name}", "{NAME}"])
async def test_help_for_each_command(layer: CommandLayer, spec: CommandSpec, form: str) -> None:
    text = "/help " + form.format(name=spec.name, NAME=spec.name.upper())
    reply = reply_of(await layer.execute(text, ADMIN))
    assert reply.ok, reply.text
    assert f"Usage: {spec.usage_line}" in reply.text
    assert spec.summary in reply.text
    if spec.example:
        assert f"Example: {spec.example}" in reply.text
    assert ("Needs admin rights." in reply.text) == (spec.rights == Rights.ADMIN)


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.rights <= Rights.VIEWER], ids=lambda s: s.name
)
async def test_viewer_gets_help_for_read_commands(layer: CommandLayer, spec: CommandSpec) -> None:
    reply = reply_of(await layer.execute(f"/help {spec.name}", VIEWER))
    assert reply.ok
    assert f"Usage: {spec.usage_line}" in reply.text


@pytest.mark.parametrize("principal", [ADMIN, VIEWER], ids=["admin", "viewer"])
@pytest.mark.parametrize("name", ["nosuch", "grups"])
async def test_help_for_an_unknown_command_fails(
    layer: CommandLayer, store: Store, principal: Principal, name: str
) -> None:
    reply = reply_of(await layer.execute(f"/help {name}", principal))
    assert not reply.ok
    assert f"/{name}" in reply.text
    assert "Usage:" not in reply.text
    [row] = audit_rows(store)
    assert row.outcome == "failed"


async def test_help_for_an_admin_command_shows_no_usage_to_a_viewer(layer: CommandLayer) -> None:
    reply = reply_of(await layer.execute("/help add", VIEWER))
    assert "Usage: /add" not in reply.text
    assert "/add needs admin rights" in reply.text


# -- free-text tails end to end ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("Don't forget\nline two", "Don't forget\nline two"),
        ('"Hello world"', "Hello world"),
        ("'Hello world'", "Hello world"),
        ('"Don\'t panic"', "Don't panic"),
        ('He said "hi" twice', 'He said "hi" twice'),
        ('"a" and "b"', '"a" and "b"'),
        ("50% off \\o/ #deals", "50% off \\o/ #deals"),
        ("Olá, equipe! Reunião às 15h 🎉", "Olá, equipe! Reunião às 15h 🎉"),
        ("line one\n\n  indented line three", "line one\n\n  indented line three"),
    ],
)
@pytest.mark.parametrize("target", ["sales", "SALES", SALES, '"Sales Team"'])
async def test_send_keeps_the_text_as_typed(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    target: str,
    typed: str,
    sent: str,
) -> None:
    text = f"/send {target} {typed}"
    reply = reply_of(await layer.execute(text, ADMIN))
    assert reply.ok, reply.text
    [message] = sandbox_server.sandbox.sent_messages
    assert message.group_id == SALES
    assert message.text == sent
    assert store.last_sent(SALES) == message.id
    [row] = audit_rows(store)
    assert (row.command, row.outcome) == (text, "ok")


async def test_send_with_bot_suffix_and_apostrophe(
    pilot_layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    reply = reply_of(await pilot_layer.execute("/send@PilotBot rio Don't forget", ADMIN))
    assert reply.ok, reply.text
    [message] = sandbox_server.sandbox.sent_messages
    assert (message.group_id, message.text) == (RIO, "Don't forget")


@pytest.mark.parametrize("typed", ['""', "''", '"   "'])
async def test_send_of_empty_quoted_text_is_refused(
    layer: CommandLayer, sandbox_server: SandboxServerThread, typed: str
) -> None:
    reply = reply_of(await layer.execute(f"/send sales {typed}", ADMIN))
    assert not reply.ok
    assert "text" in reply.text.lower()
    assert sandbox_server.sandbox.sent_messages == []


async def test_apostrophe_outside_free_text_is_an_unbalanced_quote(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    # /create has no free-text tail: the subject must be quoted to hold an apostrophe.
    reply = reply_of(await layer.execute("/create Don't", ADMIN))
    assert not reply.ok
    assert "quote" in reply.text
    ok = reply_of(await layer.execute('/create "Don\'t panic"', ADMIN))
    assert ok.ok, ok.text
    names = {g.name for g in sandbox_server.sandbox.groups.values()}
    assert "Don't panic" in names
    assert "Don" not in names


# -- bugs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["hello", "", "/123", '/"help"'])
async def test_stranger_gets_no_answer_even_for_unparseable_text(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, text: str
) -> None:
    outcome = await layer.execute(text, STRANGER)
    assert outcome.silent
    assert sandbox_server.sandbox.requests == []
    [row] = audit_rows(store)
    assert row.outcome.startswith("denied")


@pytest.mark.parametrize(
    ("text", "group_id", "effect"),
    [
        ("/add sales\u00a05511955551234", SALES, "added"),
        ("/send rio\u00a0Hello team", RIO, "sent"),
    ],
    ids=["add", "send"],
)
async def test_no_break_space_separates_arguments_like_a_space(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    text: str,
    group_id: str,
    effect: str,
) -> None:
    reply = reply_of(await layer.execute(text, ADMIN))
    assert reply.ok, reply.text
    sandbox = sandbox_server.sandbox
    if effect == "added":
        assert "5511955551234" in sandbox.groups[group_id].participants
    else:
        [message] = sandbox.sent_messages
        assert (message.group_id, message.text) == (group_id, "Hello team")


async def test_no_break_space_after_the_command_word_is_a_space(layer: CommandLayer) -> None:
    # The half that works today: the command word itself is split off.
    reply = reply_of(await layer.execute("/group\u00a0sales", VIEWER))
    assert reply.ok, reply.text
    assert SALES in reply.text
