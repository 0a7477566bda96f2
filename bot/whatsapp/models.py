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


class TemplateButton(_Tolerant):
    """One button of a template (its label and URL may hold `{{variables}}`)."""

    type: str = ""
    text: str = ""
    url: str = ""


class TemplateSummary(_Tolerant):
    """One entry of `GET /v1/templates`: whether it can be sent, and why not."""

    id: str
    name: str = ""
    sendable: bool = False
    meta_status: str = Field(default="", validation_alias=AliasChoices("metaStatus", "status"))
    # Some answers list the variables here too; `GET /v1/templates/{id}` always does.
    variables: tuple[str, ...] | None = None

    @field_validator("name", "meta_status", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def why_not_sendable(self) -> str:
        """Why the provider will not send it (empty when it will)."""
        if self.sendable:
            return ""
        return (
            f"not sendable (Meta status {self.meta_status})"
            if self.meta_status
            else ("not sendable")
        )


class Template(TemplateSummary):
    """`GET /v1/templates/{id}`: the body, buttons and every variable they use."""

    body: str = ""
    buttons: tuple[TemplateButton, ...] = ()
    variables: tuple[str, ...] | None = ()

    @field_validator("body", mode="before")
    @classmethod
    def _no_body(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("buttons", mode="before")
    @classmethod
    def _no_buttons(cls, value: object) -> object:
        return () if value is None else value

    @property
    def variable_names(self) -> tuple[str, ...]:
        return self.variables or ()


DeliveryStatus = Literal["QUEUED", "SENT", "DELIVERED", "READ", "FAILED", "CANCELED"]
FINAL_STATUSES: frozenset[str] = frozenset({"READ", "FAILED", "CANCELED"})
FAILED_STATUSES: frozenset[str] = frozenset({"FAILED", "CANCELED"})


class MessageStatus(_Tolerant):
    """`GET /v1/messages/{id}`: where a sent message is now (and why it failed)."""

    id: str
    status: DeliveryStatus
    error_code: str = Field(
        default="", validation_alias=AliasChoices("errorCode", "failureCode", "code")
    )
    error_message: str = Field(
        default="", validation_alias=AliasChoices("errorMessage", "failureReason", "reason")
    )

    @field_validator("status", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("error_code", "error_message", mode="before")
    @classmethod
    def _text_or_empty(cls, value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, dict):  # a nested {"code": …, "message": …}
            return str(value.get("code") or value.get("message") or "")
        return value

    @property
    def final(self) -> bool:
        """No later status will come (READ, FAILED, CANCELED)."""
        return self.status in FINAL_STATUSES


class OperationResult(_Tolerant):
    """Answer of add/remove/promote/demote/pin: any JSON object, or nothing.

    Kept raw: membership is judged by reading the group back, not from this.
    """

    raw: dict[str, Any] = Field(default_factory=dict)
