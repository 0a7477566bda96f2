"""The sections for running grouppilot as a service: ``[http]``, ``[log]``, ``[monitor]``.

``[http]`` turns on the one HTTP endpoint (webhooks, health, metrics) of
``grouppilot run``; it is off unless ``listen`` is set. ``[log]`` sets the
level and the format of the log. ``[monitor]`` sets how often the WhatsApp
connection is probed and when a dead Telegram poller or scheduler makes the
process exit so that a service manager restarts it. The webhook secret is a
``SecretStr``: never shown in messages or reprs.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bot.durations import format_duration
from bot.jobconfig import Duration
from bot.usertext import excerpt

__all__ = ["HttpSettings", "LogSettings", "MembershipSettings", "MonitorSettings", "parse_listen"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_SECRET = 16  # characters: a webhook secret is the only thing between the internet and us
MAX_PROBE_EVERY = timedelta(days=1)
MAX_GRACE = timedelta(hours=1)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` or ``"[::1]:8080"`` -> (host, port); ValueError when it is not one."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f'expected "host:port" such as "127.0.0.1:8080", got {excerpt(value)}')
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"the port must be 1 to 65535, got {port}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError(
                f"the host must be an IP address (such as 127.0.0.1 or 0.0.0.0) or localhost, "
                f"got {excerpt(host)}"
            ) from None
    return host, port


class HttpSettings(_Section):
    """``[http]``: the endpoint for webhooks, health and metrics (off without ``listen``)."""

    listen: str = ""
    webhook_secret: SecretStr = SecretStr("")
    max_body: int = Field(default=64 * 1024, ge=1024, le=10 * 1024 * 1024)

    @property
    def enabled(self) -> bool:
        return bool(self.listen)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        if not value.strip():
            return ""
        parse_listen(value)
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if secret and len(secret) < MIN_SECRET:
            raise ValueError(f"must be at least {MIN_SECRET} characters (or empty: no webhooks)")
        if secret and not all(c.isascii() and (c.isalnum() or c in "-_.~") for c in secret):
            raise ValueError("use only letters, digits and - _ . ~ (it goes into a URL path)")
        return SecretStr(secret)


class LogSettings(_Section):
    """``[log]``: how much the log says, and in which format."""

    level: str = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {excerpt(value)}")
        return level

    @property
    def level_number(self) -> int:
        return int(logging.getLevelName(self.level))


class MonitorSettings(_Section):
    """``[monitor]``: the connection probe, and when the process gives up to be restarted."""

    probe_every: Duration = timedelta(minutes=5)  # 0: no probe
    polling_grace: Duration = timedelta(minutes=3)  # Telegram polling dead this long: exit
    scheduler_grace: Duration = timedelta(minutes=1)  # the scheduler stopped this long: exit

    @field_validator("probe_every")
    @classmethod
    def _check_probe(cls, value: timedelta) -> timedelta:
        if value and value < timedelta(seconds=10):
            raise ValueError('at least "10s" (or "0s": no probe)')
        if value > MAX_PROBE_EVERY:
            raise ValueError(f"at most {format_duration(MAX_PROBE_EVERY)}")
        return value

    @field_validator("polling_grace", "scheduler_grace")
    @classmethod
    def _check_grace(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=10):
            raise ValueError('at least "10s"')
        if value > MAX_GRACE:
            raise ValueError(f"at most {format_duration(MAX_GRACE)}")
        return value


class MembershipSettings(_Section):
    """``[membership]``: groups as code: the groups file and the removal guard."""

    file: str = ""  # "" : no groups file (dump still works; plan and apply need one)
    max_removal_share: float = Field(default=0.25, gt=0, le=1, allow_inf_nan=False)
    # The number that owns the API key (any format /add accepts): never removed. Empty: only
    # superadmins (the group's creator) are protected, since the API does not say who owns the key.
    owner: str = ""

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain a NUL character (\\x00)")
        return value.strip()
