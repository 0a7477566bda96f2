"""The sections of the configuration with keys of their own: one model each.

``[pilot]``, ``[telegram]``, ``[storage]``, ``[scheduler]`` and
``[messages]``; :mod:`bot.config` puts them together with ``[groups]``,
``[targets]`` and ``[[jobs]]``, checks what spans sections, and loads the
file. Secret values (``pilot.api_key``, ``telegram.token``) are
``SecretStr``: never shown in messages or reprs.
"""

from __future__ import annotations

import string
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from bot.durations import format_duration
from bot.jobconfig import Duration
from bot.usertext import excerpt, message_text_problem
from bot.zones import load_zone

__all__ = [
    "DEFAULT_INVITE",
    "SANDBOX",
    "MessagesSettings",
    "PilotSettings",
    "SchedulerSettings",
    "StorageSettings",
    "TelegramSettings",
    "render_invite",
]

SANDBOX = "sandbox"
MAX_MIN_INTERVAL = timedelta(days=7)  # scheduler.min_interval
MAX_TRACKING = timedelta(days=7)  # messages.track_delivery: no provider keeps status longer


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _http_url(value: str, *, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what}, got {excerpt(value)}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} without ?query or #fragment, got {excerpt(value)}")
    return value


class PilotSettings(_Section):
    """``[pilot]``: where the WhatsApp groups API is and how hard to use it."""

    base_url: str = SANDBOX
    api_key: SecretStr = SecretStr("")
    # Bounds: a request waits at most 5 minutes; the rate and the requests in flight stay
    # where an API (and this process) can follow.
    timeout: float = Field(default=15.0, gt=0, le=300, allow_inf_nan=False)
    max_rps: int = Field(default=5, gt=0, le=1000)
    concurrency: int = Field(default=4, ge=1, le=64)
    default_country: str = "BR"

    @property
    def is_sandbox(self) -> bool:
        return self.base_url == SANDBOX

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        text = value.strip()
        if text.lower() == SANDBOX:
            return SANDBOX
        what = 'expected "sandbox" or an http(s) URL such as "https://pilotstatus.com.br"'
        text = _http_url(text, what=what).rstrip("/")
        if text.lower().endswith("/v1"):
            raise ValueError(
                f"{excerpt(value)} ends in /v1: give the server root "
                '(e.g. "https://pilotstatus.com.br"); the client adds /v1 itself'
            )
        return text

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = value.get_secret_value().strip()
        base_url = info.data.get("base_url")
        if not key and base_url is not None and base_url != SANDBOX:
            raise ValueError(
                'required when base_url is not "sandbox" (set it here or in '
                "GROUPPILOT_PILOT__API_KEY)"
            )
        return SecretStr(key)

    @field_validator("default_country")
    @classmethod
    def _check_country(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {excerpt(value)}: use a two-letter code such as 'BR'")
        return region


class TelegramSettings(_Section):
    """``[telegram]``: the bot token (empty: console only) and who may do what."""

    token: SecretStr = SecretStr("")
    api_base_url: str = ""
    admin_chats: list[int] = Field(default_factory=list)
    admins: list[int] = Field(default_factory=list)
    viewers: list[int] = Field(default_factory=list)
    notify_chats: list[int] = Field(default_factory=list)
    drop_pending_updates: bool = False

    @property
    def enabled(self) -> bool:
        """True when a token is set (Telegram front end instead of the console)."""
        return bool(self.token.get_secret_value())

    @property
    def effective_notify_chats(self) -> list[int]:
        """Where job reports go: ``notify_chats``, or ``admin_chats`` when it is empty."""
        return list(self.notify_chats or self.admin_chats)

    @field_validator("token")
    @classmethod
    def _strip_token(cls, value: SecretStr) -> SecretStr:
        return SecretStr(value.get_secret_value().strip())

    @field_validator("api_base_url")
    @classmethod
    def _check_api_base_url(cls, value: str) -> str:
        text = value.strip()
        if not text:
            return ""
        what = 'expected an http(s) URL such as "http://127.0.0.1:8081/bot" (or "")'
        return _http_url(text, what=what)


class StorageSettings(_Section):
    """``[storage]``: the SQLite file (relative paths: from the working directory)."""

    path: Path = Path("grouppilot.db")

    @field_validator("path", mode="before")
    @classmethod
    def _check_path(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("must not be empty")
            if "\x00" in value:  # the OS refuses it when the file is opened, far too late
                raise ValueError("must not contain a NUL character (\\x00)")
            return Path(value.strip()).expanduser()
        return value


class SchedulerSettings(_Section):
    """``[scheduler]``: the default IANA zone of jobs, and the fastest chat broadcast."""

    timezone: str = "UTC"
    # /schedule refuses a broadcast that would run more often than this (config jobs are
    # reviewed before they are deployed; chat jobs are typed in a hurry).
    min_interval: Duration = timedelta(minutes=15)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        load_zone(value.strip())
        return value.strip()

    @field_validator("min_interval")
    @classmethod
    def _check_min_interval(cls, value: timedelta) -> timedelta:
        if value > MAX_MIN_INTERVAL:
            raise ValueError(f"at most {format_duration(MAX_MIN_INTERVAL)}")
        return value


DEFAULT_INVITE = "Hello! You are invited to join the WhatsApp group {group}: {link}"
INVITE_PLACEHOLDERS = ("group", "link")


def render_invite(text: str, *, group: str, link: str) -> str:
    """``messages.invite`` with its ``{group}`` and ``{link}`` filled in."""
    return text.format_map({"group": group, "link": link})


class MessagesSettings(_Section):
    """``[messages]``: the invite-link message, and how long sent messages are followed."""

    invite: str = DEFAULT_INVITE
    track_delivery: Duration = timedelta(minutes=30)

    @field_validator("invite")
    @classmethod
    def _check_invite(cls, value: str) -> str:
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise ValueError(f"{exc} (write a literal brace as {{{{ or }}}})") from None
        unknown = [name for name in fields if name not in INVITE_PLACEHOLDERS]
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}}: use {{group}} and {{link}}")
        if "link" not in fields:
            raise ValueError("must contain {link} (the invite link)")
        try:
            sample = render_invite(value, group="Sales Team", link="https://chat.whatsapp.com/x")
        except (ValueError, IndexError, KeyError) as exc:
            raise ValueError(f"cannot be rendered: {exc}") from None
        problem = message_text_problem(sample)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("track_delivery")
    @classmethod
    def _check_horizon(cls, value: timedelta) -> timedelta:
        if value > MAX_TRACKING:
            raise ValueError(f"at most {format_duration(MAX_TRACKING)}")
        return value
