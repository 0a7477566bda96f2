"""Typed results of the WhatsApp groups API.

The provider documents few shapes, and the engines under it (Evolution,
Meta Cloud API) differ, so every model ignores extra fields and accepts the
spellings seen in the wild: a participant may come as `wa_id`, `id`, `phone`
or `number`, as bare digits or as a `…@s.whatsapp.net` JID, with its role in
`role` or `admin`. A regular member's role is normalised to "member".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from bot.whatsapp.identifiers import PhoneNumber, participant_digits

Role = Literal["superadmin", "admin", "member"]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class GroupSummary(_Tolerant):
    """One entry of `GET /v1/groups`."""

    id: str
    name: str = Field(default="", validation_alias=AliasChoices("name", "subject"))

    @field_validator("name", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value


class Participant(_Tolerant):
    """A member of a group: E.164 digits and a role."""

    number: str = Field(validation_alias=AliasChoices("wa_id", "id", "phone", "number", "jid"))
    role: Role = Field(default="member", validation_alias=AliasChoices("role", "admin"))

    @field_validator("number", mode="before")
    @classmethod
    def _digits_of_jid(cls, value: object) -> object:
        if isinstance(value, str):
            return participant_digits(value)
        if isinstance(value, int):
            return str(value)
        return value

    @field_validator("role", mode="before")
    @classmethod
    def _normalise_role(cls, value: object) -> object:
        if value is None or value is False or value in ("", "member", "participant", "user"):
            return "member"
        if value is True:
            return "admin"
        if isinstance(value, str):
            return value.lower()
        return value


class Group(_Tolerant):
    """Group info (`GET /v1/groups/{id}`) or a created group (`POST /v1/groups`)."""

    id: str
    subject: str = Field(default="", validation_alias=AliasChoices("subject", "name"))
    participants: list[Participant] = Field(default_factory=list)

    @field_validator("subject", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("participants", mode="before")
    @classmethod
    def _none_is_empty_list(cls, value: object) -> object:
        return [] if value is None else value

    def role_of(self, number: PhoneNumber) -> Role | None:
        """The role of `number`, or None when not a member."""
        for participant in self.participants:
            if participant.number == number.digits:
                return participant.role
        return None

    def has(self, number: PhoneNumber) -> bool:
        """Whether `number` is a member (its E.164 digits are a participant's)."""
        return number.digits in self.numbers

    @property
    def numbers(self) -> set[str]:
        """The members' E.164 digits, as the API gave them."""
        return {participant.number for participant in self.participants}


class InviteLink(_Tolerant):
    """Answer of `POST /v1/groups/{id}/invite`."""

    link: str = Field(validation_alias=AliasChoices("link", "inviteLink", "invite_link", "url"))


class SentMessage(_Tolerant):
    """Answer of `POST /v1/messages/send` (202, queued)."""

    id: str
    correlation_id: str | None = Field(default=None, validation_alias="correlationId")
    status: str = "QUEUED"
    created_at: datetime | None = Field(default=None, validation_alias="createdAt")


class OperationResult(_Tolerant):
    """Answer of add/remove/promote/demote/pin: any JSON object, or nothing.

    Kept raw: membership is judged by reading the group back, not from this.
    """

    raw: dict[str, Any] = Field(default_factory=dict)
