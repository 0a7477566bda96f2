"""What every ``grouppilot`` subcommand shares: exit codes, reading the config, logging.

`bot.cli` (the parser and the bot's own subcommands) and `bot.groups_cli`
(``dump``, ``plan``, ``apply``) both stand on these, so neither imports
the other.
"""

from __future__ import annotations

import argparse
import sys

from bot.config import ConfigError, Settings, load_config
from bot.storage_errors import StorageError

__all__ = [
    "EXIT_CHANGES",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_OK",
    "load_or_report",
    "setup_logging",
    "storage_failed",
]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_CHANGES = 2  # plan: there are changes (like `terraform plan -detailed-exitcode`)


def setup_logging(args: argparse.Namespace, settings: Settings | None = None) -> None:
    """Where, how much and in which format the process logs (docs/operations.md, Logs).

    First with no settings (before the config is read: the plain format), then
    with them: ``--log-level`` wins over ``log.level`` (``GROUPPILOT_LOG__LEVEL``).
    exec and dump are scripting helpers: only warnings and errors on stderr unless
    ``--log-level`` says otherwise (a config's ``log.level`` is for the service).
    """
    from bot import logs

    level = getattr(args, "log_level", None)
    if level is None:
        if args.command in ("exec", "dump", "plan", "apply"):
            level = "WARNING"
        else:
            level = settings.log.level if settings is not None else "INFO"
    if settings is None:
        logs.configure(level)
        return
    for secret, mask in (
        (settings.pilot.api_key, "<api-key>"),
        (settings.telegram.token, "<bot-token>"),
        (settings.http.webhook_secret, "<webhook-secret>"),
    ):
        logs.protect(secret.get_secret_value(), mask)
    logs.configure(level, settings.log.format)


def load_or_report(path: str | None) -> Settings | None:
    """The settings, or None after printing every problem to stderr."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"grouppilot: invalid configuration\n{exc}", file=sys.stderr)
        return None


def storage_failed(exc: StorageError) -> int:
    """Print the storage fault's sentence; its exit code (2 when the config is wrong)."""
    print(f"grouppilot: {exc}", file=sys.stderr)
    return EXIT_CONFIG if exc.config_problem else EXIT_FAILED
