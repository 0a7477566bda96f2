"""The groups file: what it declares, and every problem of a bad one named at once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import clean_env

from bot.config import Settings
from bot.jobconfig import NAME, NAME_RULE
from bot.membership.file import (
    KEY,
    KEY_RULE,
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    load_groups_file,
)
from bot.membership.model import DeclaredGroup, GroupsFile, GroupsFileError
from bot.runtime import build_directory
from bot.store import Store
from bot.whatsapp import WhatsAppClient

ROOT = Path(__file__).resolve().parent.parent
SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
VIP = "120363000000000003@g.us"


def load(tmp_path: Path, text: str) -> GroupsFile:
    path = tmp_path / "groups.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_groups_file(path, default_country="BR")


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(GroupsFileError) as caught:
        load(tmp_path, text)
    return caught.value.problems


def test_key_rule_is_the_job_name_rule() -> None:
    assert KEY.pattern == NAME.pattern
    assert KEY_RULE == NAME_RULE


def test_a_good_file(tmp_path: Path) -> None:
    declared = load(
        tmp_path,
        f"""
        [lists]
        sales-reps = ["+55 11 91111-2222", "(11) 93333-4444", "5511933334444"]

        [groups.sales]
        id = "{SALES}"
        subject = "Sales Team"
        members = ["@sales-reps", "+1 415 555 0100", "+14155550100"]
        admins = ["11 91111-2222"]

        [groups.launch]
        subject = "Launch team"
        members = ["@sales-reps"]
        """,
    )
    assert declared.lists == {"sales-reps": ("5511911112222", "5511933334444")}
    assert declared.groups == (
        DeclaredGroup(
            key="sales",
            id=SALES,
            subject="Sales Team",
            members=frozenset({"5511911112222", "5511933334444", "14155550100"}),
            admins=frozenset({"5511911112222"}),
        ),
        DeclaredGroup(
            key="launch",
            id=None,
            subject="Launch team",
            members=frozenset({"5511911112222", "5511933334444"}),
            admins=frozenset(),
        ),
    )
    assert declared.aliases() == {"sales": SALES}


def test_an_empty_file_declares_nothing(tmp_path: Path) -> None:
    assert load(tmp_path, "").groups == ()


def test_an_admin_listed_through_a_list_in_members_is_fine(tmp_path: Path) -> None:
    declared = load(
        tmp_path,
        """
        [lists]
        team = ["+5511911112222", "+5511933334444"]
        [groups.a]
        subject = "A"
        members = ["@team"]
        admins = ["+5511911112222"]
        """,
    )
    group = declared.groups[0]
    assert group.admins == {"5511911112222"}
    assert group.members == {"5511911112222", "5511933334444"}


BAD_FILES = {
    "unknown top-level key": (
        'group = {}\n[groups.a]\nsubject = "A"\n',
        ["group: unknown key (did you mean 'groups'?)"],
    ),
    "unknown group key": (
        '[groups.a]\nsubject = "A"\nmember = ["+5511911112222"]\n',
        ["groups.a.member: unknown key (did you mean 'members'?)"],
    ),
    "bad number": (
        '[groups.a]\nsubject = "A"\nmembers = ["+5511911112222", "+5511933334444", "12ab"]\n',
        ["groups.a.members[2]: '12ab' is not a phone number"],
    ),
    "number not a string": (
        '[groups.a]\nsubject = "A"\nmembers = [5511911112222]\n',
        ["groups.a.members[0]: 5511911112222: write the number as a string, in quotes"],
    ),
    "member and admin": (
        '[groups.a]\nsubject = "A"\nmembers = ["+5511911112222"]\nadmins = ["11 91111-2222"]\n',
        [
            "groups.a: +5511911112222 is listed in members and admins: list it once, "
            "under admins (admins are members too)"
        ],
    ),
    "missing list": (
        '[lists]\nreps = []\n[groups.a]\nsubject = "A"\nmembers = ["@sales-reps"]\n',
        ["groups.a.members[0]: '@sales-reps': no such list in [lists] (reps)"],
    ),
    "list in a list": (
        '[lists]\na = ["+5511911112222"]\nb = ["@a"]\n',
        ["lists.b[0]: '@a': a list cannot include a list"],
    ),
    "bad list name": (
        '[lists]\nSales = ["+5511911112222"]\n',
        [f"lists.Sales: list name 'Sales': {NAME_RULE}"],
    ),
    "bad key": (
        '[groups."Sales Team"]\nsubject = "A"\n',
        [f"groups.Sales Team: key 'Sales Team': {NAME_RULE} (e.g. sales-rio)"],
    ),
    "reserved key": (
        '[groups.all]\nsubject = "A"\n',
        ["groups.all: key 'all' is reserved (it means every group): choose another"],
    ),
    "bad id": (
        '[groups.a]\nid = "12345"\nsubject = "A"\n',
        [
            "groups.a.id: '12345' is not a WhatsApp group id (expected something like "
            "120363123456789012@g.us)"
        ],
    ),
    "duplicate id": (
        f'[groups.a]\nid = "{SALES}"\nsubject = "A"\n[groups.b]\nid = "{SALES}"\nsubject = "B"\n',
        [f"groups.b.id: '{SALES}' is also the id of groups.a"],
    ),
    "duplicate subject without id": (
        f'[groups.a]\nid = "{SALES}"\nsubject = "A"\n[groups.b]\nsubject = "A"\n',
        [
            "groups.b.subject: 'A' is also the subject of groups.a: a group without an id is "
            "matched by its exact subject, so give it an id or a unique subject"
        ],
    ),
    "missing subject": (
        "[groups.a]\nmembers = []\n",
        ["groups.a.subject: required (the group's name, as WhatsApp shows it)"],
    ),
    "empty subject": ('[groups.a]\nsubject = "  "\n', ["groups.a.subject: must not be empty"]),
    "long subject": (
        f'[groups.a]\nsubject = "{"x" * 101}"\n',
        [f"groups.a.subject: {'x' * 60!r}… (101 characters) is longer than 100 characters"],
    ),
    "subject with a line break": (
        '[groups.a]\nsubject = "A\\nB"\n',
        ["groups.a.subject: 'A\\nB' contains a line break or control character"],
    ),
    "members not a list": (
        '[groups.a]\nsubject = "A"\nmembers = "+5511911112222"\n',
        ["groups.a.members: must be a list of numbers"],
    ),
    "group not a table": (
        "[groups]\na = 1\n",
        ["groups.a: must be a table (id, subject, members, admins)"],
    ),
    "groups not a table": ("groups = 1\n", ["groups: must be a table of groups ([groups.<key>])"]),
}


@pytest.mark.parametrize("text, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_each_problem_is_named(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        colour = "blue"
        [lists]
        reps = ["+5511911112222", "nope"]
        [groups.a]
        subject = "A"
        members = ["+5511933334444", "@missing", "12ab"]
        admins = ["+5511933334444"]
        owner = "me"
        [groups.all]
        subject = ""
        """,
    )
    assert found == [
        "colour: unknown key (known: groups, lists)",
        "lists.reps[1]: 'nope' is not a phone number",
        "groups.a.owner: unknown key (known: id, subject, members, admins)",
        "groups.a.members[1]: '@missing': no such list in [lists] (reps)",
        "groups.a.members[2]: '12ab' is not a phone number",
        "groups.a: +5511933334444 is listed in members and admins: list it once, under admins "
        "(admins are members too)",
        "groups.all: key 'all' is reserved (it means every group): choose another",
        "groups.all.subject: must not be empty",
    ]


def test_too_many_members(tmp_path: Path) -> None:
    numbers = ", ".join(f'"+1415555{n:04d}"' for n in range(1025))
    assert problems(tmp_path, f'[groups.a]\nsubject = "A"\nmembers = [{numbers}]\n') == [
        "groups.a: 1,025 members (admins included): at most 1,024"
    ]


def test_too_many_groups(tmp_path: Path) -> None:
    text = "".join(f'[groups.g{n}]\nsubject = "G{n}"\n' for n in range(10_001))
    assert problems(tmp_path, text) == ["groups: 10,001 groups: at most 10,000"]


def test_many_problems_are_summed_up(tmp_path: Path) -> None:
    numbers = ", ".join(f'"bad{n}"' for n in range(MAX_PROBLEMS + 5))
    found = problems(tmp_path, f'[groups.a]\nsubject = "A"\nmembers = [{numbers}]\n')
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1] == "… and 5 more problems"


@pytest.mark.parametrize(
    "setup, expected",
    [
        ("missing", "groups file not found"),
        ("directory", "is a directory, not a groups file"),
        ("invalid", "invalid TOML: "),
        ("not utf-8", "cannot read: "),
        ("huge", "larger than 10 MB"),
    ],
)
def test_a_file_that_cannot_be_read(tmp_path: Path, setup: str, expected: str) -> None:
    path = tmp_path / "groups.toml"
    if setup == "directory":
        path.mkdir()
    elif setup == "invalid":
        path.write_text("[groups.a\n", encoding="utf-8")
    elif setup == "not utf-8":
        path.write_bytes(b'[groups.a]\nsubject = "\xff"\n')
    elif setup == "huge":
        path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(GroupsFileError) as caught:
        load_groups_file(path, default_country="BR")
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}: {expected}")
    assert caught.value.path == str(path)


# -- the groups file at start: check and run refuse a bad one; its keys are aliases ----------


def grouppilot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )


def config_with(tmp_path: Path, groups_text: str) -> Path:
    groups = tmp_path / "groups.toml"
    groups.write_text(textwrap.dedent(groups_text), encoding="utf-8")
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        f"[storage]\npath = {json.dumps(str(tmp_path / 'grouppilot.db'))}\n"
        f"[membership]\nfile = {json.dumps(str(groups))}\n",
        encoding="utf-8",
    )
    return config


BAD = """
    [lists]
    reps = ["+5511911112222"]
    [groups.sales]
    id = "120363123456789012@g.us"
    subject = "Sales Team"
    members = ["+5511933334444", "@sales-reps", "12ab"]
    admins = ["+5511933334444"]
    owner = "me"
    """
BAD_PROBLEMS = [
    "groups.sales.owner: unknown key (known: id, subject, members, admins)",
    "groups.sales.members[1]: '@sales-reps': no such list in [lists] (reps)",
    "groups.sales.members[2]: '12ab' is not a phone number",
    "groups.sales: +5511933334444 is listed in members and admins: list it once, under admins "
    "(admins are members too)",
]


@pytest.mark.parametrize("command", [["check"], ["run", "--no-console"]])
def test_a_bad_groups_file_stops_check_and_run(tmp_path: Path, command: list[str]) -> None:
    result = grouppilot(*command, "--config", str(config_with(tmp_path, BAD)))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["grouppilot: invalid groups file", *BAD_PROBLEMS]
    assert not (tmp_path / "grouppilot.db").exists()  # nothing done


def test_check_names_the_groups_file(tmp_path: Path) -> None:
    config = config_with(tmp_path, '[groups.a]\nsubject = "A"\n[lists]\nx = []\n')
    result = grouppilot("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == (
        f"groups file: {tmp_path / 'groups.toml'}: 1 group (0 with an id), 1 list"
    )


async def test_keys_with_an_id_are_aliases(
    tmp_path: Path,
    settings: Settings,
    client: WhatsAppClient,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    groups = tmp_path / "groups.toml"
    groups.write_text(
        f'[groups.sales-rio]\nid = "{RIO}"\nsubject = "Sales Rio"\n'
        f'[groups.sales]\nid = "{VIP}"\nsubject = "Not the config\'s"\n'  # the config wins
        f'[groups.support]\nid = "120363000000000002@g.us"\nsubject = "Support"\n'  # the same
        '[groups.new]\nsubject = "New"\n',  # no id: no alias
        encoding="utf-8",
    )
    settings.membership.file = str(groups)
    with caplog.at_level(logging.WARNING):
        directory = build_directory(settings, client=client, store=store)
    assert directory.config_aliases == {**settings.groups, "sales-rio": RIO}
    assert (await directory.resolve_group("sales-rio")).id == RIO
    assert (await directory.resolve_group("sales")).id == SALES
    [warning] = [r.getMessage() for r in caplog.records]
    assert (
        warning
        == "groups file key 'sales' is also a name in the config, which wins: it is no alias"
    )


def test_a_groups_file_that_does_not_load_adds_no_alias(
    tmp_path: Path, settings: Settings, client: WhatsAppClient, store: Store
) -> None:
    settings.membership.file = str(tmp_path / "missing.toml")
    directory = build_directory(settings, client=client, store=store)
    assert directory.config_aliases == settings.groups


def test_the_example_keys_are_aliases(
    settings: Settings, client: WhatsAppClient, store: Store
) -> None:
    settings.membership.file = str(ROOT / "groups.example.toml")
    aliases = build_directory(settings, client=client, store=store).config_aliases
    assert {"sales", "rio", "support", "vip"} <= aliases.keys()
    assert {key: aliases[key] for key in ("sales", "rio", "support", "vip")} == settings.groups
    assert "launch-team" not in aliases  # no id yet
