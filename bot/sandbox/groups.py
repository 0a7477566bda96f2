"""The groups of the sandbox: demo groups, generated ids and members, privacy-blocked numbers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

OWNER: Final = "5511987654321"
PRIVACY_BLOCKED_SUFFIX: Final = "0000"
MAX_MEMBERS_PER_GROUP: Final = 1_023  # besides the owner: WhatsApp's 1,024 in all
# Area codes of the generated members (Brazilian mobiles: 55, area, 9, eight digits).
_AREAS: Final = (11, 21, 31, 41, 51, 61, 71, 81)
_ADMIN_EVERY: Final = 10  # one generated member in ten is an admin

DEMO_GROUPS: Final[tuple[tuple[str, str, dict[str, str | None]], ...]] = (
    (
        "120363123456789012@g.us",
        "Sales Team",
        {OWNER: "superadmin", "5511911112222": "admin", "5511933334444": None},
    ),
    ("120363000000000001@g.us", "Sales Rio", {OWNER: "superadmin", "5521955556666": None}),
    ("120363000000000002@g.us", "Support", {OWNER: "superadmin", "5511977778888": None}),
    ("120363000000000003@g.us", "VIP Customers", {OWNER: "superadmin"}),
)


@dataclass
class Group:
    """One group. `participants` maps E.164 digits to a role (None = member)."""

    id: str
    name: str
    participants: dict[str, str | None]
    invite_link: str
    pinned: set[str] = field(default_factory=set)


def generated_group_id(index: int) -> str:
    """Id of the `index`-th generated group (`1203639` + 11 digits + `@g.us`)."""
    return f"1203639{index:011d}@g.us"


def is_privacy_blocked(number: str) -> bool:
    """Numbers ending in 0000 refuse to be added (privacy settings)."""
    return number.endswith(PRIVACY_BLOCKED_SUFFIX)


def generated_members(
    per_group: int, groups: int, *, seed: int | None = None
) -> Iterator[dict[str, str | None]]:
    """The members of each generated group in turn, ``per_group`` each (endless).

    The same ``seed`` (None counts as 0) always gives the same people, drawn
    from a pool about four times a group's size so that people are in several
    groups, as in real life; one in ten is an admin. None ends in
    ``PRIVACY_BLOCKED_SUFFIX`` or is the owner. A random of its own, so the
    sandbox's ids and links stay what they were without members.
    """
    rng = random.Random(f"grouppilot-sandbox-members-{seed or 0}")  # noqa: S311 - demo data
    pool: dict[str, None] = {}
    while len(pool) < per_group * 4 and per_group:
        number = f"55{rng.choice(_AREAS)}9{rng.randrange(10**8):08d}"
        if number != OWNER and not is_privacy_blocked(number):
            pool[number] = None
    people = list(pool)
    while True:
        chosen = sorted(rng.sample(people, per_group)) if per_group else []
        yield {
            number: "admin" if position % _ADMIN_EVERY == 1 else None
            for position, number in enumerate(chosen, start=1)
        }
