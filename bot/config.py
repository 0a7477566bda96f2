"""Configuration: the TOML file, overridable from the environment.

``load_config(path)`` reads the file (default: env ``GROUPPILOT_CONFIG`` or
``config.toml``), lets ``GROUPPILOT_<SECTION>__<KEY>`` variables override it,
and validates everything in one pass. On any problem it raises
:class:`ConfigError`, whose ``problems`` name every bad key by its path, e.g.
``pilot.api_key: required ...`` or ``jobs[1] (morning-sales).cron: ...``.
Checks that span sections (targets naming aliases, jobs naming targets, the
jobs' default zone) run on the raw input next to the per-section validation,
so one run reports every problem at once. Secret values (``pilot.api_key``,
``telegram.token``) are ``SecretStr`` and never appear in messages or reprs.
A ``GROUPPILOT_*`` variable that sets nothing (``GROUPPILOT_TELEGRAM_TOKEN``,
one underscore) is logged as a warning, by name only (:mod:`bot.envvars`),
and kept in ``Settings.env_warnings`` for ``grouppilot check``.

The sections with keys of their own (``[pilot]`` … ``[messages]``) are
models in :mod:`bot.config_sections`, re-exported here.
``JobConfig`` (one ``[[jobs]]`` entry, also used for jobs made by
``/schedule``) and :func:`render_text` live in :mod:`bot.jobconfig`; they are
re-exported here for the modules that import them from ``bot.config``.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot.config_sections import (
    DEFAULT_INVITE,
    SANDBOX,
    MessagesSettings,
    PilotSettings,
    SchedulerSettings,
    StorageSettings,
    TelegramSettings,
    render_invite,
)
from bot.config_service import HttpSettings, LogSettings, MembershipSettings, MonitorSettings
from bot.envvars import unused_variable_warnings
from bot.jobconfig import NAME, NAME_RULE, JobConfig, render_text
from bot.problems import MAX_REASON, problems_from_errors
from bot.usertext import excerpt, one_line, shorten
from bot.whatsapp.identifiers import GROUP_ID_PATTERN
from bot.zones import load_zone

__all__ = [
    "DEFAULT_INVITE",
    "SANDBOX",
    "ConfigError",
    "JobConfig",
    "MessagesSettings",
    "PilotSettings",
    "SchedulerSettings",
    "Settings",
    "StorageSettings",
    "TelegramSettings",
    "load_config",
    "render_invite",
    "render_text",
]

log = logging.getLogger(__name__)

DEFAULT_PATH = "config.toml"
RESERVED = "all"
_SECTIONS = (
    "pilot",
    "telegram",
    "storage",
    "scheduler",
    "messages",
    "http",
    "log",
    "monitor",
    "membership",
    "groups",
    "targets",
    "jobs",
)


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str], *, path: Path | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def _name_problem(name: str, what: str) -> str | None:
    if name.lower() == RESERVED:
        return f"the name {RESERVED!r} is reserved (it means every group of the number)"
    if not NAME.fullmatch(name):
        return f"{what} {excerpt(name)}: {NAME_RULE}"
    return None


def _cross_problems(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks between sections, on the raw input (so they run even if a section fails)."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    groups, targets, jobs = data.get("groups"), data.get("targets"), data.get("jobs")
    aliases = {k for k in groups if isinstance(k, str)} if isinstance(groups, Mapping) else set()
    names = {k for k in targets if isinstance(k, str)} if isinstance(targets, Mapping) else set()
    for alias, gid in groups.items() if isinstance(groups, Mapping) else ():
        if (problem := _name_problem(str(alias), "alias")) is not None:
            found.append((("groups", alias), problem))
        elif isinstance(gid, str) and not GROUP_ID_PATTERN.fullmatch(gid.strip()):
            hint = " (add '@g.us')" if gid.strip().isdigit() else ""
            found.append(
                (("groups", alias), f"{excerpt(gid)} is not a group id like 120363…@g.us{hint}")
            )
    for name, members in targets.items() if isinstance(targets, Mapping) else ():
        if (problem := _name_problem(str(name), "target name")) is not None:
            found.append((("targets", name), problem))
        elif name in aliases:
            found.append(
                (("targets", name), f"{excerpt(name)} is also an alias in [groups]; rename one")
            )
        if isinstance(members, list) and not members:
            found.append((("targets", name), "empty: list at least one alias or group id"))
        for index, member in enumerate(members if isinstance(members, list) else ()):
            if (
                isinstance(member, str)
                and member not in aliases
                and not GROUP_ID_PATTERN.fullmatch(member)
            ):
                found.append(
                    (
                        ("targets", name, index),
                        f"unknown alias {excerpt(member)} (not in [groups], "
                        "and not a group id like 120363123456789012@g.us)",
                    )
                )
    seen: dict[str, int] = {}
    for index, job in enumerate(jobs if isinstance(jobs, list) else ()):
        if not isinstance(job, Mapping):
            continue
        name = job.get("name")
        if isinstance(name, str) and name in seen:
            found.append((("jobs", index, "name"), f"duplicate job name (also jobs[{seen[name]}])"))
        elif isinstance(name, str):
            seen[name] = index
        job_targets = job.get("targets")
        if job.get("kind") == "drift":
            continue  # keys of the groups file (or "all"): checked when the job runs
        for target in job_targets if isinstance(job_targets, list) else ():
            if not isinstance(target, str):
                continue  # the job's own validation says it is not a string
            known = target in aliases or target in names or target == RESERVED
            if not known and not GROUP_ID_PATTERN.fullmatch(target):
                found.append((("jobs", index, "targets"), f"unknown target {excerpt(target)}"))
    return found


def _with_job_zone(data: dict[str, Any]) -> dict[str, Any]:
    """Give jobs without a ``timezone`` the scheduler's (when that one is valid)."""
    scheduler, jobs = data.get("scheduler"), data.get("jobs")
    if isinstance(scheduler, SchedulerSettings):
        zone: Any = scheduler.timezone
    else:
        zone = scheduler.get("timezone", "UTC") if isinstance(scheduler, Mapping) else "UTC"
    if not isinstance(jobs, list) or not isinstance(zone, str):
        return data
    try:
        load_zone(zone.strip())
    except ValueError:
        return data  # reported on scheduler.timezone; jobs keep the UTC default
    filled = [
        {**job, "timezone": zone.strip()}
        if isinstance(job, Mapping) and "timezone" not in job
        else job
        for job in jobs
    ]
    return {**data, "jobs": filled}


def _job_label(data: Mapping[str, Any], index: int) -> str:
    jobs = data.get("jobs")
    if isinstance(jobs, list) and 0 <= index < len(jobs) and isinstance(jobs[index], Mapping):
        name = jobs[index].get("name")
        if isinstance(name, str) and name:
            return f"jobs[{index}] ({shorten(name)})"
    return f"jobs[{index}]"


def _sort_key(loc: tuple[str | int, ...]) -> tuple[int, int]:
    head = loc[0] if loc else ""
    rank = _SECTIONS.index(head) if head in _SECTIONS else len(_SECTIONS)
    return rank, loc[1] if len(loc) > 1 and isinstance(loc[1], int) else -1


class Settings(BaseSettings):
    """The whole configuration; construct it through :func:`load_config`."""

    model_config = SettingsConfigDict(
        env_prefix="GROUPPILOT_", env_nested_delimiter="__", extra="forbid"
    )

    pilot: PilotSettings = Field(default_factory=PilotSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    messages: MessagesSettings = Field(default_factory=MessagesSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    membership: MembershipSettings = Field(default_factory=MembershipSettings)
    groups: dict[str, str] = Field(default_factory=dict)
    targets: dict[str, list[str]] = Field(default_factory=dict)
    jobs: list[JobConfig] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Order is priority: explicit arguments, then the environment, then the file.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    @model_validator(mode="wrap")
    @classmethod
    def _collect_every_problem(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if not isinstance(data, dict):
            return handler(data)
        data = _with_job_zone(data)
        errors: list[tuple[tuple[str | int, ...], str]] = []
        settings: Self | None = None
        try:
            settings = handler(data)
        except ValidationError as exc:
            errors.extend(problems_from_errors(exc.errors()))
        errors.extend(_cross_problems(data))
        if errors or settings is None:
            ordered = sorted(dict.fromkeys(errors), key=lambda item: _sort_key(item[0]))
            raise ConfigError([_render(loc, reason, data) for loc, reason in ordered])
        return settings

    _env_warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def env_warnings(self) -> list[str]:
        """Environment variables meant for grouppilot that set nothing (names only)."""
        return list(self._env_warnings)

    @property
    def default_timezone(self) -> str:
        return self.scheduler.timezone


def _render(loc: tuple[str | int, ...], reason: str, data: Mapping[str, Any]) -> str:
    path = ""
    for position, part in enumerate(loc):
        if isinstance(part, int) and position == 1 and loc[0] == "jobs":
            path = _job_label(data, part)
        elif isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{shorten(part)}" if path else shorten(part)
    # One line per problem, however odd the keys and values (a key may hold a line break).
    return one_line(f"{path or 'config'}: {shorten(reason, MAX_REASON)}")


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, override from the environment and validate; raise ConfigError listing problems."""
    # Said first: a misspelt variable may be why the file or a key is missing.
    warnings = unused_variable_warnings(os.environ, _setting_layout())
    for warning in warnings:
        log.warning("%s", warning)
    if path is None:
        path = os.environ.get("GROUPPILOT_CONFIG") or DEFAULT_PATH
    file = Path(path)
    if not file.is_file():
        reason = "is a directory, not a config file" if file.is_dir() else "config file not found"
        raise ConfigError([f"{file}: {reason}"], path=file)
    try:
        # Bytes, as pydantic-settings reads the file: read_text() would turn a
        # lone "\r" (invalid TOML) into "\n" and hide it from this check.
        tomllib.loads(file.read_bytes().decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{file}: invalid TOML: {exc}"], path=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{file}: cannot read: {exc}"], path=file) from None

    # A subclass per load carries the file path: no state shared between loads.
    loaded = type(
        "Settings",
        (Settings,),
        {"model_config": SettingsConfigDict(toml_file=file), "__module__": __name__},
    )
    try:
        settings: Settings = loaded()
    except ConfigError as exc:
        raise ConfigError(exc.problems, path=file) from None
    except SettingsError as exc:
        hint = "lists and tables need JSON, e.g. GROUPPILOT_TELEGRAM__ADMINS='[1, 2]'"
        raise ConfigError([f"environment: {exc} ({hint})"], path=file) from None
    settings._env_warnings = warnings
    return settings


def _setting_layout() -> dict[str, list[str] | None]:
    """Each top-level setting and its keys (None: free keys, as in [groups], or a list)."""
    layout: dict[str, list[str] | None] = {}
    for name, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            layout[name] = list(model.model_fields)
        else:
            layout[name] = None
    return layout
