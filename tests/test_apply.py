"""Applying a plan (`bot.membership.apply`): the real client against the sandbox, a real store.

Plans are built directly (the plan engine is tested on its own): each test
checks the requests the sandbox saw, the live state after, the history rows
and the audit log.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ADMIN

from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Reply
from bot.config import Settings
from bot.membership.apply import Applier, removal_refusal
from bot.membership.history import steps_of
from bot.membership.model import Change, GroupPlan, Plan
from bot.runtime import build_commands
from bot.sandbox import Sandbox
from bot.sandbox.groups import OWNER
from bot.store import Store
from bot.whatsapp import WhatsAppClient

SALES = "120363123456789012@g.us"  # owner (superadmin), 5511911112222 admin, 5511933334444
SUPPORT = "120363000000000002@g.us"  # owner, 5511977778888
RIO = "120363000000000001@g.us"
NEW = "5511955550101"
OTHER = "5511955550102"
BLOCKED = "5511955550000"  # the sandbox's privacy-blocked numbers end in 0000


def group(key: str, gid: str | None, live: int, *changes: Change, subject: str = "") -> GroupPlan:
    return GroupPlan(key, gid, subject or key, tuple(changes), live_members=live)


def changing_requests(sandbox: Sandbox) -> list[tuple[str, str, object]]:
    """(endpoint, path, body) of every request that changes something."""
    return [
        (r.endpoint or "", r.path, r.body)
        for r in sandbox.requests
        if r.endpoint not in ("get_group", "list_groups")
    ]


def members(sandbox: Sandbox, gid: str) -> dict[str, str | None]:
    return sandbox.get_group(gid).participants


@pytest.fixture
def applier(store: Store, client: WhatsAppClient) -> Applier:
    return Applier(store, client, owner=OWNER, max_removal_share=0.5)


async def test_every_kind_in_the_safe_order(
    applier: Applier, sandbox: Sandbox, store: Store
) -> None:
    plan = Plan(
        (
            group(
                "sales",
                SALES,
                3,
                Change("remove", "5511933334444"),  # given out of order on purpose
                Change("demote", "5511911112222"),
                Change("promote", NEW),
                Change("add", NEW),
                Change("add", OTHER),
            ),
            group("launch", None, 0, Change("create", detail="Launch"), Change("add", NEW)),
        )
    )
    report = await applier.apply(plan, by="tester")

    assert report.ok, report.lines()
    kinds = [endpoint for endpoint, _path, _body in changing_requests(sandbox)]
    assert kinds == ["add", "promote", "demote", "remove", "create_group", "add"]
    adds = [body for endpoint, _p, body in changing_requests(sandbox) if endpoint == "add"]
    assert adds[0] == {"participants": [NEW, OTHER]}  # one request per kind and group
    assert members(sandbox, SALES) == {
        OWNER: "superadmin",
        "5511911112222": None,
        NEW: "admin",
        OTHER: None,
    }
    new_id = report.created["launch"]
    assert NEW in members(sandbox, new_id)
    assert f'add `id = "{new_id}"` to [groups.launch]' in "\n".join(report.lines())
    rows = steps_of(store.db, report.run_id)
    assert [(r.kind, r.state) for r in rows] == [
        ("add", "done"),
        ("add", "done"),
        ("promote", "done"),
        ("demote", "done"),
        ("remove", "done"),
        ("create", "done"),
        ("add", "done"),
    ]
    assert rows[-1].group_id == new_id
    audit = [(e.chat, e.who, e.command, e.outcome) for e in reversed(store.recent_audit(20))]
    assert ("apply", "tester", f"add sales +{NEW}", "ok") in audit
    assert ("apply", "tester", "remove sales +5511933334444", "ok") in audit
    assert len(audit) == 7


@pytest.mark.parametrize(
    ("live", "removals", "share", "allow", "refused"),
    [
        (3, 1, 0.25, 0, True),  # 33% of 3
        (8, 2, 0.25, 0, False),  # exactly 25%: allowed
        (8, 3, 0.25, 0, True),
        (8, 3, 0.25, 2, True),  # naming fewer than the plan removes still refuses
        (8, 3, 0.25, 3, False),
        (3, 1, 0.5, 0, False),
    ],
)
def test_removal_guard(live: int, removals: int, share: float, allow: int, refused: bool) -> None:
    changes = [Change("remove", f"55119555500{n:02d}") for n in range(1, removals + 1)]
    plan = Plan((group("sales", SALES, live, *changes),))
    sentence = removal_refusal(plan, share, allow)
    assert bool(sentence) is refused
    if refused:
        assert f"--allow-removals {removals}" in sentence
        assert f"lose {removals} of {live} members" in sentence


async def test_refused_guard_sends_nothing(
    client: WhatsAppClient, store: Store, sandbox: Sandbox
) -> None:
    applier = Applier(store, client, owner=OWNER, max_removal_share=0.25)
    plan = Plan(
        (group("support", SUPPORT, 2, Change("add", NEW), Change("remove", "5511977778888")),)
    )
    report = await applier.apply(plan, by="tester")
    assert not report.ok and "--allow-removals 1" in report.refused
    assert changing_requests(sandbox) == []
    assert "5511977778888" in members(sandbox, SUPPORT)

    report = await applier.apply(plan, by="tester", allow_removals=1)
    assert report.ok
    assert "5511977778888" not in members(sandbox, SUPPORT)


@pytest.mark.parametrize("kind", ["remove", "demote"])
async def test_the_owner_is_never_removed_or_demoted(
    applier: Applier, sandbox: Sandbox, kind: str
) -> None:
    plan = Plan((group("sales", SALES, 3, Change("add", NEW), Change(kind, OWNER)),))  # type: ignore[arg-type]
    report = await applier.apply(plan, by="tester")
    assert "owns the API key" in report.refused
    assert changing_requests(sandbox) == []


async def test_a_superadmin_step_is_refused_without_a_request(
    store: Store, client: WhatsAppClient, sandbox: Sandbox
) -> None:
    applier = Applier(store, client, owner="", max_removal_share=1)  # owner not configured
    plan = Plan((group("sales", SALES, 3, Change("remove", OWNER)),))
    report = await applier.apply(plan, by="tester")
    assert not report.ok
    assert "superadmin" in report.steps[0].detail
    assert changing_requests(sandbox) == []
    assert OWNER in members(sandbox, SALES)


async def test_undeclared_groups_are_untouched(applier: Applier, sandbox: Sandbox) -> None:
    plan = Plan(
        (group("support", SUPPORT, 2, Change("add", NEW)),),
        undeclared=((SALES, "Sales Team"), (RIO, "Sales Rio")),
    )
    report = await applier.apply(plan, by="tester")
    assert report.ok
    touched = {path for _e, path, _b in changing_requests(sandbox)}
    assert all(SUPPORT.split("@")[0] in path for path in touched)
    assert not any(
        SALES.split("@")[0] in r.path or RIO.split("@")[0] in r.path for r in sandbox.requests
    )


async def test_privacy_blocked_adds_are_reported_per_number(
    applier: Applier, sandbox: Sandbox
) -> None:
    plan = Plan((group("support", SUPPORT, 2, Change("add", NEW), Change("add", BLOCKED)),))
    report = await applier.apply(plan, by="tester")
    assert not report.ok
    outcomes = {step.number: step.outcome for step in report.steps}
    assert outcomes == {NEW: "done", BLOCKED: "failed"}
    text = "\n".join(report.lines())
    assert f"support: add +{BLOCKED} failed: not added: likely their privacy settings" in text
    assert f"send them the invite link: /invite support send +{BLOCKED}" in text


async def test_a_create_without_an_answer_is_never_repeated(
    applier: Applier, sandbox: Sandbox, store: Store
) -> None:
    sandbox.inject("create_group", drop=True)  # carried out, then the connection drops
    before = len(sandbox.list_groups())
    plan = Plan((group("launch", None, 0, Change("create", detail="Launch"), Change("add", NEW)),))
    report = await applier.apply(plan, by="tester")

    creates = [e for e, _p, _b in changing_requests(sandbox) if e == "create_group"]
    assert creates == ["create_group"]  # one request, no retry
    assert len(sandbox.list_groups()) == before + 1
    assert [(s.kind, s.outcome) for s in report.steps] == [
        ("create", "unknown"),
        ("add", "skipped"),
    ]
    assert "check /groups before applying again" in "\n".join(report.lines())
    assert [r.state for r in steps_of(store.db, report.run_id)] == ["unknown", "pending"]


async def test_resume_turns_doing_into_unknown_and_repeats_nothing(
    applier: Applier, sandbox: Sandbox, store: Store
) -> None:
    from bot.membership import history

    run_id = history.start_run(
        store.db, by="tester", now="2026-01-01T00:00:00", steps=[("sales", SALES, "add", NEW)]
    )
    history.mark_doing(store.db, run_id, [0], SALES, "2026-01-01T00:00:01")
    unknown = applier.resume(by="tester")
    assert [(r.kind, r.number) for r in unknown] == [("add", NEW)]
    assert [r.state for r in steps_of(store.db, run_id)] == ["unknown"]
    assert history.unfinished_runs(store.db) == []
    assert applier.resume() == []
    assert sandbox.requests == []


# -- /apply in a chat --------------------------------------------------------------------


def chat_layer(
    settings: Settings, client: WhatsAppClient, store: Store, tmp_path: Path, text: str
) -> CommandLayer:
    groups = tmp_path / "groups.toml"
    groups.write_text(text)
    settings.membership.file = str(groups)
    settings.membership.owner = "+" + OWNER
    return build_commands(settings, client=client, store=store)


SUPPORT_FILE = f"""
[groups.support]
id = "{SUPPORT}"
subject = "Support"
members = ["+{NEW}"]
"""


async def test_chat_apply_asks_with_the_plan_then_applies(
    settings: Settings, client: WhatsAppClient, store: Store, sandbox: Sandbox, tmp_path: Path
) -> None:
    settings.membership.max_removal_share = 0.5
    layer = chat_layer(settings, client, store, tmp_path, SUPPORT_FILE)
    outcome = await layer.execute("/apply", ADMIN)
    assert isinstance(outcome, Pending)
    assert f"+ add +{NEW}" in outcome.question and "- remove +5511977778888" in outcome.question
    assert outcome.question.endswith("Apply these changes?")
    assert changing_requests(sandbox) == []
    reply = await layer.confirm(outcome.token, ADMIN)
    assert reply.ok, reply.text
    assert f"support: add +{NEW} done" in reply.text
    assert set(members(sandbox, SUPPORT)) == {OWNER, NEW}
    commands = [e.command for e in store.recent_audit(20) if e.chat == "apply"]
    assert sorted(commands) == [f"add support +{NEW}", "remove support +5511977778888"]


async def test_chat_apply_cannot_override_the_removal_guard(
    settings: Settings, client: WhatsAppClient, store: Store, sandbox: Sandbox, tmp_path: Path
) -> None:
    layer = chat_layer(settings, client, store, tmp_path, SUPPORT_FILE)  # share 0.25: 1 of 2
    reply = await layer.execute("/apply support", ADMIN)
    assert isinstance(reply, Reply) and not reply.ok
    assert "support would lose 1 of 2 members (50%)" in reply.text
    assert "run `grouppilot apply --allow-removals 1` on the bot's machine" in reply.text
    assert changing_requests(sandbox) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[groups.x]\nsubject = "X"\nmembers = ["@nolist"]\n', "has 1 problem"),
        (SUPPORT_FILE, "'nosuch' is not a group of the groups file"),
    ],
)
async def test_chat_apply_refuses_a_bad_file_or_group(
    settings: Settings,
    client: WhatsAppClient,
    store: Store,
    sandbox: Sandbox,
    tmp_path: Path,
    text: str,
    expected: str,
) -> None:
    layer = chat_layer(settings, client, store, tmp_path, text)
    reply = await layer.execute("/apply nosuch", ADMIN)
    assert isinstance(reply, Reply) and not reply.ok
    assert expected in reply.text
    assert changing_requests(sandbox) == []


async def test_an_apply_running_in_another_process_is_left_alone(
    applier: Applier, sandbox: Sandbox, store: Store
) -> None:
    from bot.membership import history

    alive = os.getppid()  # a live process that is not this one
    run_id = history.start_run(
        store.db,
        by="cli",
        now="2026-01-01T00:00:00",
        steps=[("sales", SALES, "add", NEW)],
        pid=alive,
    )
    history.mark_doing(store.db, run_id, [0], SALES, "2026-01-01T00:00:01")
    assert applier.resume() == []  # running, not crashed
    plan = Plan((group("support", SUPPORT, 2, Change("add", NEW)),))
    report = await applier.apply(plan, by="tester")
    assert f"another apply is running (process {alive})" in report.refused
    assert changing_requests(sandbox) == []
    assert [r.state for r in steps_of(store.db, run_id)] == ["doing"]
