"""compute_plan and format_plan: the real client against the sandbox's demo groups.

The sandbox's demo groups (``bot/sandbox/groups.py``): "Sales Team" has the
number itself (OWNER, superadmin), an admin (…2222) and a member (…4444);
"Sales Rio", "Support" and "VIP Customers" have one member or none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import VIEWER

from bot.commands.layer import CommandLayer
from bot.commands.types import Reply
from bot.config import Settings
from bot.membership.model import ORDER, DeclaredGroup, GroupsFile, Plan
from bot.membership.plan import compute_plan, format_plan, plan_counts
from bot.membership.planning import CHAT_LINES
from bot.runtime import build_commands
from bot.sandbox import Sandbox
from bot.sandbox.groups import OWNER
from bot.store import Store
from bot.usertext import excerpt
from bot.whatsapp import WhatsAppClient
from bot.whatsapp.errors import PilotError

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
SUPPORT = "120363000000000002@g.us"
VIP = "120363000000000003@g.us"
ADMIN_2222, MEMBER_4444 = "5511911112222", "5511933334444"
NEW_A, NEW_B = "5511955550001", "5511955550002"


def group(
    key: str,
    gid: str | None,
    subject: str,
    members: set[str] = frozenset(),  # type: ignore[assignment]
    admins: set[str] = frozenset(),  # type: ignore[assignment]
) -> DeclaredGroup:
    return DeclaredGroup(key, gid, subject, frozenset(members | admins), frozenset(admins))


def as_file(*groups: DeclaredGroup) -> GroupsFile:
    return GroupsFile(groups=tuple(groups))


SALES_AS_LIVE = group("sales", SALES, "Sales Team", {MEMBER_4444}, {OWNER, ADMIN_2222})


async def test_live_state_declared_exactly_plans_no_changes(client: WhatsAppClient) -> None:
    plan = await compute_plan(client, as_file(SALES_AS_LIVE))
    assert not plan.has_changes
    [sales] = plan.groups
    assert (sales.group_id, sales.live_members, sales.notes) == (SALES, 3, ())


async def test_every_change_kind_in_order(client: WhatsAppClient) -> None:
    # 2222 (admin) becomes a member, 4444 (member) an admin, NEW_A is added,
    # NEW_B added as admin; in Support, 7777…8888 is not declared: removed.
    sales = group("sales", SALES, "Sales Team", {ADMIN_2222, NEW_A}, {OWNER, MEMBER_4444, NEW_B})
    support = group("support", SUPPORT, "Support", set(), {OWNER})
    launch = group("launch", None, "Launch team", {NEW_A}, {NEW_B})
    plan = await compute_plan(client, as_file(sales, support, launch), owner=OWNER)
    by_key = {p.key: p for p in plan.groups}
    assert [(c.kind, c.number) for c in by_key["sales"].changes] == [
        ("add", NEW_A),
        ("add", NEW_B),
        ("promote", MEMBER_4444),
        ("promote", NEW_B),
        ("demote", ADMIN_2222),
    ]
    assert [(c.kind, c.number) for c in by_key["support"].changes] == [("remove", "5511977778888")]
    assert by_key["support"].removals == 1
    new = by_key["launch"]
    assert new.group_id is None and new.live_members == 0
    assert [(c.kind, c.number, c.detail) for c in new.changes] == [
        ("create", "", "Launch team"),
        ("add", NEW_A, ""),
        ("add", NEW_B, ""),
        ("promote", NEW_B, ""),
    ]
    for each in plan.groups:
        kinds = [ORDER.index(c.kind) for c in each.changes]
        assert kinds == sorted(kinds)
    assert plan_counts(plan) == {"create": 1, "add": 4, "promote": 3, "demote": 1, "remove": 1}


async def test_a_group_without_id_is_matched_by_exact_subject(client: WhatsAppClient) -> None:
    plan = await compute_plan(client, as_file(group("rio", None, "Sales Rio", set(), {OWNER})))
    [rio] = plan.groups
    assert rio.group_id == RIO
    assert [(c.kind, c.number) for c in rio.changes] == [("remove", "5521955556666")]
    assert RIO not in {gid for gid, _ in plan.undeclared}


@pytest.mark.parametrize("owner", ["", OWNER, "+55 11 98765-4321"])
async def test_superadmin_and_owner_are_never_removed_or_demoted(
    client: WhatsAppClient, owner: str
) -> None:
    # Nobody of Sales Team is declared: 2222 and 4444 go, the superadmin stays.
    plan = await compute_plan(
        client, as_file(group("sales", SALES, "Sales Team", {NEW_A})), owner=owner
    )
    [sales] = plan.groups
    assert [(c.kind, c.number) for c in sales.changes] == [
        ("add", NEW_A),
        ("remove", ADMIN_2222),
        ("remove", MEMBER_4444),
    ]
    reason = "owns the API key" if owner else "superadmin"
    assert sales.notes == (f"= +{OWNER} kept: {reason} (not removed)",)


async def test_an_owner_who_is_a_plain_admin_is_not_demoted(
    sandbox: Sandbox, client: WhatsAppClient
) -> None:
    # 2222 is an admin of Sales Team; as the key's owner it is kept as one.
    declared = group("sales", SALES, "Sales Team", {ADMIN_2222, MEMBER_4444}, {OWNER})
    plan = await compute_plan(client, as_file(declared), owner=ADMIN_2222)
    [sales] = plan.groups
    assert sales.changes == ()
    assert sales.notes == (f"= +{ADMIN_2222} kept: owns the API key (not demoted)",)


async def test_a_different_subject_is_a_note_not_a_change(client: WhatsAppClient) -> None:
    declared = group("sales", SALES, "Sales", {MEMBER_4444}, {OWNER, ADMIN_2222})
    plan = await compute_plan(client, as_file(declared))
    assert not plan.has_changes
    assert plan.groups[0].notes == (
        "~ subject: 'Sales Team' -> 'Sales' (not applicable: the API cannot rename a group)",
    )


async def test_an_id_that_is_not_a_group_of_the_number_is_never_created(
    client: WhatsAppClient,
) -> None:
    ghost = "120363999999999999@g.us"
    plan = await compute_plan(client, as_file(group("ghost", ghost, "Ghost", {NEW_A})))
    [planned] = plan.groups
    assert planned.changes == ()
    assert planned.notes == (f"! group id {ghost} is not a group of this number: nothing planned",)


async def test_undeclared_groups_are_listed_and_untouched(
    sandbox: Sandbox, client: WhatsAppClient
) -> None:
    before = sandbox.groups
    sandbox.reset_stats()
    plan = await compute_plan(client, as_file(group("sales", SALES, "Sales Team", {NEW_A})))
    assert plan.undeclared == (
        (RIO, "Sales Rio"),
        (SUPPORT, "Support"),
        (VIP, "VIP Customers"),
    )
    # Reads only: the list, then the one declared group.
    assert [(r.method, r.path) for r in sandbox.requests] == [
        ("GET", "/v1/groups"),
        ("GET", "/v1/groups/120363123456789012%40g.us"),
    ]
    assert sandbox.groups.keys() == before.keys()
    assert {gid: g.participants for gid, g in sandbox.groups.items()} == {
        gid: g.participants for gid, g in before.items()
    }


async def test_only_plans_one_group_by_key_or_id(client: WhatsAppClient) -> None:
    declared = as_file(SALES_AS_LIVE, group("support", SUPPORT, "Support", set(), {OWNER}))
    for only in ("support", SUPPORT):
        plan = await compute_plan(client, declared, only=only)
        assert [p.key for p in plan.groups] == ["support"]
        assert plan.undeclared == ()


async def test_only_an_unknown_group_is_one_clear_sentence(client: WhatsAppClient) -> None:
    with pytest.raises(
        ValueError, match=r"^'nope' is not a group of the groups file \(its groups: sales\)\.$"
    ):
        await compute_plan(client, as_file(SALES_AS_LIVE), only="nope")


async def test_an_unknown_group_word_is_quoted_short_on_one_line(client: WhatsAppClient) -> None:
    word = "q" * 900 + "\nx"
    with pytest.raises(ValueError) as caught:
        await compute_plan(client, as_file(SALES_AS_LIVE), only=word)
    assert str(caught.value).startswith(f"{excerpt(word)} is not a group of the groups file")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


async def test_an_api_failure_propagates(sandbox: Sandbox, client: WhatsAppClient) -> None:
    sandbox.inject("list_groups", drop=True, times=None)
    with pytest.raises(PilotError):
        await compute_plan(client, as_file(SALES_AS_LIVE))


async def test_format_plan_small_case_exactly(client: WhatsAppClient) -> None:
    sales = group("sales", SALES, "Sales", {ADMIN_2222, NEW_A}, {OWNER, MEMBER_4444})
    launch = group("launch", None, "Launch team", {NEW_B})
    declared = as_file(sales, group("rio", RIO, "Sales Rio", {"5521955556666"}, {OWNER}), launch)
    plan = await compute_plan(client, declared, owner=OWNER)
    assert format_plan(plan) == "\n".join(
        [
            f"sales (Sales, {SALES})",
            f"  + add +{NEW_A}",
            f"  ^ promote +{MEMBER_4444}",
            f"  v demote +{ADMIN_2222}",
            "  ~ subject: 'Sales Team' -> 'Sales' (not applicable: the API cannot rename a group)",
            "launch (Launch team, new group)",
            '  + create "Launch team"',
            f"  + add +{NEW_B}",
            "Plan: 1 to create, 2 to add, 1 to promote, 1 to demote in 2 of 3 groups.",
            "Not in the file (left alone): 2 groups",
            f"  Support ({SUPPORT})",
            f"  VIP Customers ({VIP})",
        ]
    )


async def test_format_plan_without_changes(client: WhatsAppClient) -> None:
    plan = await compute_plan(client, as_file(SALES_AS_LIVE), only="sales")
    assert format_plan(plan) == "No changes: the live groups match the file (1 group)."


def test_format_plan_lists_twenty_undeclared_then_a_count() -> None:
    undeclared = tuple((f"1203639{i:011d}@g.us", f"Group {i:03d}") for i in range(1, 26))
    text = format_plan(Plan((), undeclared))
    lines = text.splitlines()
    assert lines[:2] == [
        "No changes: the live groups match the file (0 groups).",
        "Not in the file (left alone): 25 groups",
    ]
    assert lines[2] == "  Group 001 (120363900000000001@g.us)"
    assert len(lines) == 2 + 20 + 1
    assert lines[-1] == "  … and 5 more"


# -- /plan: the same plan in chat ------------------------------------------------------

SALES_TOML = f"""
[groups.sales]
id = "{SALES}"
subject = "Sales Team"
admins = ["+55 11 98765-4321", "+55 11 91111-2222"]
members = ["+55 11 95555-0001"]
"""


def plan_layer(
    settings: Settings, client: WhatsAppClient, store: Store, tmp_path: Path, text: str | None
) -> CommandLayer:
    path = tmp_path / "groups.toml"
    if text is not None:
        path.write_text(text)
    settings.membership.file = str(path)
    return build_commands(settings, client=client, store=store)


async def test_slash_plan_shows_the_plan_to_a_viewer_and_changes_nothing(
    sandbox: Sandbox, settings: Settings, client: WhatsAppClient, store: Store, tmp_path: Path
) -> None:
    layer = plan_layer(settings, client, store, tmp_path, SALES_TOML)
    before = sandbox.groups[SALES].participants
    reply = await layer.execute("/plan sales", VIEWER)
    assert isinstance(reply, Reply) and reply.ok
    assert reply.text == "\n".join(
        [
            f"sales (Sales Team, {SALES})",
            "  + add +5511955550001",
            f"  - remove +{MEMBER_4444}",
            "Plan: 1 to add, 1 to remove in 1 of 1 group.",
        ]
    )
    assert sandbox.groups[SALES].participants == before


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        (None, "", "The groups file {path} does not exist (membership.file)."),
        (SALES_TOML, " nope", "'nope' is not a group of the groups file (its groups: sales)."),
        (
            '[groups.sales]\nsubject = "S"\nmembers = ["@nobody"]\n',
            "",
            "The groups file {path} has 1 problem:\n- ",
        ),
    ],
)
async def test_slash_plan_says_why_there_is_no_plan_in_one_sentence(
    settings: Settings,
    client: WhatsAppClient,
    store: Store,
    tmp_path: Path,
    text: str | None,
    args: str,
    expected: str,
) -> None:
    layer = plan_layer(settings, client, store, tmp_path, text)
    reply = await layer.execute(f"/plan{args}", VIEWER)
    assert isinstance(reply, Reply) and not reply.ok
    assert reply.text.startswith(expected.format(path=tmp_path / "groups.toml"))


async def test_slash_plan_without_a_configured_file(
    settings: Settings, client: WhatsAppClient, store: Store
) -> None:
    settings.membership.file = ""
    layer = build_commands(settings, client=client, store=store)
    reply = await layer.execute("/plan", VIEWER)
    assert reply == Reply.failed("No groups file: set membership.file in the config.")


async def test_a_long_plan_is_cut_in_chat(
    settings: Settings, client: WhatsAppClient, store: Store, tmp_path: Path
) -> None:
    many = ", ".join(f'"+55 11 95555-{i:04d}"' for i in range(1, 101))
    toml = f'[groups.sales]\nid = "{SALES}"\nsubject = "Sales Team"\nmembers = [{many}]\n'
    layer = plan_layer(settings, client, store, tmp_path, toml)
    reply = await layer.execute("/plan", VIEWER)
    assert isinstance(reply, Reply) and reply.ok
    lines = reply.text.splitlines()
    assert len(lines) == CHAT_LINES + 1
    assert lines[-1].startswith("… ") and lines[-1].endswith(
        " more lines; run grouppilot plan for all"
    )
