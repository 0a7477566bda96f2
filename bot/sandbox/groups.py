"""The groups of the sandbox: the demo groups, generated ids, privacy-blocked numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

OWNER: Final = "5511987654321"
PRIVACY_BLOCKED_SUFFIX: Final = "0000"

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
