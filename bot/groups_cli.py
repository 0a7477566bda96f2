"""``grouppilot dump``, ``plan`` and ``apply``: groups as code from the command line.

``dump`` writes the live groups as a groups file; ``plan`` prints what would
make the live groups match the groups file (``membership.file``) and changes
nothing, with ``terraform plan -detailed-exitcode`` exit codes (0 no changes,
2 changes or a bad config or groups file, 1 an error); ``apply`` computes the
same plan, shows it, asks and applies it (its run is `bot.apply_cli`). None
of them takes the run lock: they work beside a running bot
(docs/groups-as-code.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli_common import (
    EXIT_CHANGES,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    load_or_report,
    setup_logging,
    storage_failed,
)
from bot.config import Settings
from bot.membership.model import GroupsFile
from bot.storage_errors import StorageError

__all__ = ["apply_command", "dump_command", "plan_command"]


def dump_command(args: argparse.Namespace) -> int:
    from bot.whatsapp.errors import PilotError

    settings = load_or_report(args.config)
    if settings is None:
        return EXIT_CONFIG
    setup_logging(args, settings)
    try:
        text = asyncio.run(_dump_groups(settings, args.text))
    except PilotError as exc:
        print(f"grouppilot dump: cannot read the groups: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("grouppilot: interrupted", file=sys.stderr)
        return EXIT_FAILED
    sys.stdout.write(text)
    sys.stdout.flush()
    return EXIT_OK


async def _dump_groups(settings: Settings, only: str | None) -> str:
    """The live groups (those whose subject contains `only`) as a groups file."""
    from bot.membership.dump import read_live_groups, render_groups_file
    from bot.runtime import client_from_settings
    from bot.whatsapp.errors import InvalidNumber
    from bot.whatsapp.identifiers import PhoneNumber

    try:
        owner = PhoneNumber.parse(settings.membership.owner, settings.pilot.default_country).digits
    except InvalidNumber:
        owner = ""  # unset or unreadable: the header just does not name it
    async with client_from_settings(settings.pilot) as client:
        groups = await read_live_groups(client, only=only, concurrency=settings.pilot.concurrency)
    return render_groups_file(groups, owner=owner)


def plan_command(args: argparse.Namespace) -> int:
    """``grouppilot plan [group]``: 0 no changes, 2 changes (or a bad file), 1 an error."""
    from pathlib import Path

    from bot.membership.file import load_groups_file
    from bot.membership.model import GroupsFileError
    from bot.membership.plan import owner_digits
    from bot.runtime import groups_file_path
    from bot.whatsapp.errors import InvalidNumber

    settings = load_or_report(args.config)
    if settings is None:
        return EXIT_CONFIG
    setup_logging(args, settings)
    path = groups_file_path(settings.membership.file)
    if not path:
        return _plan_failed("no groups file: set membership.file in the config.")
    if not Path(path).is_file():
        return _plan_failed(f"the groups file {path} does not exist (membership.file).")
    country = settings.pilot.default_country
    try:
        owner = owner_digits(settings.membership.owner, country)
        declared = load_groups_file(path, default_country=country)
    except InvalidNumber as exc:
        return _plan_failed(f"membership.owner: {exc}.", EXIT_CONFIG)
    except GroupsFileError as exc:
        problems = "\n".join(f"  {problem}" for problem in exc.problems)
        return _plan_failed(f"invalid groups file {path}\n{problems}", EXIT_CONFIG)
    try:
        return asyncio.run(_plan_live(settings, declared, only=args.group, owner=owner))
    except KeyboardInterrupt:
        print("grouppilot: interrupted", file=sys.stderr)
        return EXIT_FAILED


def _plan_failed(sentence: str, code: int = EXIT_FAILED) -> int:
    print(f"grouppilot plan: {sentence}", file=sys.stderr)
    return code


async def _plan_live(
    settings: Settings, declared: GroupsFile, *, only: str | None, owner: str
) -> int:
    from bot.membership.plan import compute_plan, format_plan
    from bot.runtime import client_from_settings
    from bot.services import explain
    from bot.whatsapp.errors import PilotError

    async with client_from_settings(settings.pilot) as client:
        try:
            plan = await compute_plan(client, declared, only=only, owner=owner)
        except PilotError as exc:
            return _plan_failed(explain(exc))
        except ValueError as exc:  # `only` names no group of the file
            return _plan_failed(str(exc))
    print(format_plan(plan), flush=True)
    return EXIT_CHANGES if plan.has_changes else EXIT_OK


def apply_command(args: argparse.Namespace) -> int:
    """``apply``: plan, show, confirm, apply (`bot.membership.apply`; docs/groups-as-code.md).

    Like ``exec`` it takes no run lock: it changes groups through the API
    beside a running bot (the history and audit log share the SQLite file).
    Exit 0 when everything was applied (or nothing was to do), 1 on a
    failure or a refusal, 2 when the config or the groups file is wrong.
    """
    from bot.membership.file import load_groups_file
    from bot.membership.model import GroupsFileError

    settings = load_or_report(args.config)
    if settings is None:
        return EXIT_CONFIG
    setup_logging(args, settings)
    if not settings.membership.file:
        print(
            "grouppilot apply: no groups file: set membership.file in the config", file=sys.stderr
        )
        return EXIT_CONFIG
    if args.allow_removals < 0:
        print("grouppilot apply: --allow-removals must not be negative", file=sys.stderr)
        return EXIT_CONFIG
    try:
        declared = load_groups_file(
            settings.membership.file, default_country=settings.pilot.default_country
        )
    except GroupsFileError as exc:
        print("grouppilot apply: invalid groups file", *exc.problems, sep="\n", file=sys.stderr)
        return EXIT_CONFIG
    try:
        from bot.apply_cli import apply_file

        return asyncio.run(apply_file(settings, declared, args.key, args.yes, args.allow_removals))
    except StorageError as exc:
        return storage_failed(exc)
    except KeyboardInterrupt:
        print("grouppilot: interrupted", file=sys.stderr)
        return EXIT_FAILED
