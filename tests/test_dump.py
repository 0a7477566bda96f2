"""`grouppilot dump`: the live groups written as a groups file that reads back as exactly them."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import clean_env
from hypothesis import given
from hypothesis import strategies as st

from bot.membership.dump import group_key, read_live_groups, render_groups_file, toml_string
from bot.membership.file import KEY, load_groups_file
from bot.membership.model import DeclaredGroup, GroupsFile
from bot.sandbox import Sandbox, SandboxServerThread, SandboxTransport
from bot.sandbox.groups import OWNER
from bot.whatsapp import RetryPolicy, WhatsAppClient
from bot.whatsapp.models import Group

ROOT = Path(__file__).resolve().parent.parent


async def open_client(sandbox: Sandbox) -> WhatsAppClient:
    return WhatsAppClient(
        base_url="http://sandbox",
        api_key="ps_test_key",
        max_rps=1000,
        concurrency=8,
        retry=RetryPolicy.fast(),
        transport=SandboxTransport(sandbox),
    )


@pytest.fixture
async def big_client() -> AsyncIterator[tuple[Sandbox, WhatsAppClient]]:
    """300 groups (the 4 demo ones and 296 generated), 20 members each besides the owner."""
    sandbox = Sandbox(groups=300, members_per_group=20, seed=7, latency_ms=2)
    async with await open_client(sandbox) as opened:
        yield sandbox, opened


def live_as_declared(groups: list[Group]) -> dict[str, tuple[str, frozenset[str], frozenset[str]]]:
    """id -> (subject, members, admins), the way a groups file declares a group."""
    return {
        group.id: (
            group.subject,
            frozenset(p.number for p in group.participants),
            frozenset(p.number for p in group.participants if p.role in ("admin", "superadmin")),
        )
        for group in groups
    }


def as_live(declared: GroupsFile) -> dict[str, tuple[str, frozenset[str], frozenset[str]]]:
    return {g.id or "": (g.subject, g.members, g.admins) for g in declared.groups}


def round_trip(tmp_path: Path, text: str) -> GroupsFile:
    path = tmp_path / "groups.toml"
    path.write_text(text, encoding="utf-8")
    return load_groups_file(path, default_country="BR")


async def test_round_trip_of_300_groups(
    tmp_path: Path, big_client: tuple[Sandbox, WhatsAppClient]
) -> None:
    sandbox, client = big_client
    live = await read_live_groups(client, concurrency=8)
    assert len(live) == 300
    text = render_groups_file(live, owner=OWNER)
    declared = round_trip(tmp_path, text)
    assert as_live(declared) == live_as_declared(live)
    assert sum(len(g.members) for g in declared.groups) == 296 * 21 + 3 + 2 + 2 + 1
    assert all(g.admins for g in declared.groups)  # the owner, at least
    # Groups by subject, then id; keys from subjects.
    assert [g.subject for g in declared.groups] == sorted(g.subject for g in declared.groups)
    assert declared.groups[0].key == "group-005"
    assert declared.group("sales-team") is not None
    # The reads went through the client's concurrency, no further.
    assert 1 < sandbox.max_in_flight <= 8


async def test_the_same_live_state_gives_the_same_text(
    big_client: tuple[Sandbox, WhatsAppClient],
) -> None:
    _, client = big_client
    first = render_groups_file(await read_live_groups(client, concurrency=8))
    again = await read_live_groups(client, concurrency=3)
    random.Random(1).shuffle(again)
    assert render_groups_file(again) == first


async def test_filter_by_subject_any_case(sandbox: Sandbox) -> None:
    async with await open_client(sandbox) as client:
        groups = await read_live_groups(client, only="sALES")
    assert sorted(g.subject for g in groups) == ["Sales Rio", "Sales Team"]


def test_the_demo_groups_as_written() -> None:
    sandbox = Sandbox()
    live = [
        Group.model_validate(
            {
                "id": group.id,
                "subject": group.name,
                "participants": [
                    {"id": number, "role": role} for number, role in group.participants.items()
                ],
            }
        )
        for group in sandbox.groups.values()
    ]
    text = render_groups_file(live[:2], owner=OWNER)
    assert text == (
        "# Groups as code: written by `grouppilot dump` (docs/groups-as-code.md).\n"
        "# Edit, then `grouppilot plan` to see the changes and `grouppilot apply` to make them.\n"
        "# admins are members too: list each number once, under admins or members.\n"
        "# +5511987654321 owns the API key: plan and apply never remove it.\n"
        "\n"
        "[groups.sales-rio]\n"
        'id = "120363000000000001@g.us"\n'
        'subject = "Sales Rio"\n'
        'admins = [\n  "+5511987654321",\n]\n'
        'members = [\n  "+5521955556666",\n]\n'
        "\n"
        "[groups.sales-team]\n"
        'id = "120363123456789012@g.us"\n'
        'subject = "Sales Team"\n'
        'admins = [\n  "+5511911112222",\n  "+5511987654321",\n]\n'
        'members = [\n  "+5511933334444",\n]\n'
    )


ODD_SUBJECTS = [
    'Say "hi"',
    "back\\slash",
    "Ação Social 🇧🇷",
    "👨\u200d👩\u200d👧 Família",
    "all",
    "All",
    "!!!",
    "Sales Team",
    "Sales Team",  # the same subject twice: two keys, each group by its id
    "x" * 100,
    "x" * 100,
]


def test_odd_subjects_round_trip(tmp_path: Path) -> None:
    live = [
        Group(id=f"1203639{index:011d}@g.us", subject=subject, participants=[])
        for index, subject in enumerate(ODD_SUBJECTS)
    ]
    declared = round_trip(tmp_path, render_groups_file(live))
    assert as_live(declared) == live_as_declared(live)
    keys = [g.key for g in declared.groups]
    assert len(set(keys)) == len(keys) and "all" not in keys
    assert all(KEY.fullmatch(key) for key in keys)


def test_a_participant_without_a_phone_number_is_a_comment(tmp_path: Path) -> None:
    live = [
        Group(
            id="120363000000000009@g.us",
            subject="Odd",
            participants=[{"id": "123@lid"}, {"id": "5511933334444"}],  # type: ignore[list-item]
        )
    ]
    text = render_groups_file(live)
    assert '  # "123" is not a phone number: left out\n' in text
    declared = round_trip(tmp_path, text)
    assert declared.groups[0].members == {"5511933334444"}


@pytest.mark.parametrize(
    "subjects, expected",
    [
        (["Sales Team"], ["sales-team"]),
        (["Ação  Social!"], ["acao-social"]),
        (["!!!"], ["group"]),
        (["all", "all"], ["all-2", "all-3"]),
        (["a", "a", "a"], ["a", "a-2", "a-3"]),
        (["y" * 60, "y" * 60], ["y" * 40, "y" * 38 + "-2"]),
        (
            ["a-" + "b" * 37 + "-c", "a-" + "b" * 37 + "-c"],
            ["a-" + "b" * 37, "a-" + "b" * 36 + "-2"],
        ),
    ],
)
def test_group_keys(subjects: list[str], expected: list[str]) -> None:
    taken: set[str] = set()
    assert [group_key(subject, taken) for subject in subjects] == expected


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_toml_strings_read_back(text: str) -> None:
    assert tomllib.loads(f"x = {toml_string(text)}")["x"] == text


# -- the command line -------------------------------------------------------------------


def grouppilot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )


def write_config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        f'[pilot]\nbase_url = {json.dumps(base_url)}\napi_key = "ps_test"\nmax_rps = 1000\n'
        f"concurrency = 4\n{extra}",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(groups=40, members_per_group=5)


def test_dump_against_a_served_sandbox(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    config = write_config(
        tmp_path, sandbox_server.url, '[membership]\nowner = "+55 11 98765-4321"\n'
    )
    result = grouppilot("dump", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "# +5511987654321 owns the API key" in result.stdout
    declared = round_trip(tmp_path, result.stdout)
    live = [
        sandbox_server.sandbox.get_group(gid) for gid, _ in sandbox_server.sandbox.list_groups()
    ]
    assert {g.id: g.members for g in declared.groups} == {
        g.id: frozenset(g.participants) for g in live
    }
    assert grouppilot("dump", "--config", str(config)).stdout == result.stdout


def test_dump_with_a_filter(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    result = grouppilot(
        "dump", "--config", str(write_config(tmp_path, sandbox_server.url)), "group 01"
    )
    assert result.returncode == 0, result.stderr
    declared = round_trip(tmp_path, result.stdout)
    assert [g.subject for g in declared.groups] == [f"Group {n:03d}" for n in range(10, 20)]


def test_dump_when_the_api_fails(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    sandbox_server.sandbox.mode = "disconnected"
    result = grouppilot("dump", "--config", str(write_config(tmp_path, sandbox_server.url)))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("grouppilot dump: cannot read the groups: ")
    assert "ps_test" not in result.stderr


def test_dump_with_a_bad_config(tmp_path: Path) -> None:
    result = grouppilot("dump", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "config file not found" in result.stderr


# -- the sandbox's generated members ------------------------------------------------------


def test_generated_members_are_the_same_every_time() -> None:
    first, again = (
        Sandbox(groups=10, members_per_group=12),
        Sandbox(groups=10, members_per_group=12),
    )
    assert {g: v.participants for g, v in first.groups.items()} == {
        g: v.participants for g, v in again.groups.items()
    }
    generated = list(first.groups.values())[4:]
    assert all(len(g.participants) == 13 for g in generated)
    assert all(sum(r == "admin" for r in g.participants.values()) == 2 for g in generated)
    # The demo groups are as they always were.
    assert [len(g.participants) for g in list(first.groups.values())[:4]] == [3, 2, 2, 1]
    assert all(len(g.participants) == 1 for g in list(Sandbox(groups=10).groups.values())[4:])


def test_members_out_of_range() -> None:
    with pytest.raises(ValueError, match="members_per_group"):
        Sandbox(members_per_group=1024)
    result = grouppilot("sandbox", "--members", "-1", "--port", "0")
    assert result.returncode == 2
    assert "members_per_group must be between 0 and 1023" in result.stderr


# -- the example groups file --------------------------------------------------------------


def test_the_example_groups_file() -> None:
    declared = load_groups_file(ROOT / "groups.example.toml", default_country="BR")
    assert [g.key for g in declared.groups] == ["sales", "rio", "support", "vip", "launch-team"]
    assert declared.group("launch-team") == DeclaredGroup(
        key="launch-team",
        id=None,
        subject="Launch team",
        members=frozenset({OWNER, "5511911112222", "5511933334444"}),
        admins=frozenset({OWNER}),
    )
    sandbox_ids = {gid for gid, _ in Sandbox().list_groups()}
    assert set(declared.aliases().values()) <= sandbox_ids
