"""The `grouppilot` command line: run, check, exec, dump, plan, apply, sandbox (docs/operations.md).

Exit codes: 0 success, 1 a command failed or was refused (or another instance
runs), 2 a config error. Logs go to stderr; stdout carries only what the user
asked for (check's table, the console, exec's reply).

- ``run`` takes the single-instance lock on the storage (`bot.lock`), builds
  the `Runtime` and serves the console (no Telegram token) or just waits
  (``--no-console``) until EOF, SIGINT or SIGTERM. A first signal stops
  cleanly (a command in flight finishes); a second one stops at once. With
  ``[http]`` it serves the HTTP endpoint too (webhooks, /readyz, /healthz,
  /metrics); an address it cannot listen on ends it with one sentence, exit 1.
  The watchdog (`bot.watchdog`) stops it the same way, with exit 1, when
  Telegram polling or the scheduler is dead past its ``[monitor]`` grace;
  under systemd it reports READY=1, WATCHDOG=1 and STOPPING=1 (`bot.sdnotify`).
- ``dump`` prints the live groups (those whose subject contains its filter)
  as a groups file on stdout (`bot.membership.dump`); like ``exec`` it takes
  no lock. ``run`` and ``check`` refuse a groups file (``membership.file``)
  that does not load, naming its problems, with exit 2 as for the config.
- ``plan`` prints what would make the live groups match the groups file
  (``membership.file``) and changes nothing. Its exit codes follow
  ``terraform plan -detailed-exitcode``: 0 no changes, 2 changes, 1 an error
  (the API, a missing groups file); a bad config or groups file is 2 as well,
  with every problem on stderr and nothing on stdout.
- ``apply`` computes the same plan, shows it, asks (``--yes`` skips the
  question) and applies it (`bot.groups_cli`); like ``exec`` it takes no
  lock: the API's own answers keep it consistent beside a running bot.
- ``exec`` runs one command as the local operator and exits. It does not take
  the lock: it is a one-shot helper meant to work beside a running bot (both
  processes share the SQLite file; the in-process sandbox is its own).

A storage fault (`StorageError`: a damaged, read-only or full database) ends
``run`` and ``exec`` with its one sentence on stderr and exit 1, or 2 when
``storage.path`` itself is wrong (a directory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from bot import __version__
from bot.cli_common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    load_or_report,
    setup_logging,
    storage_failed,
)
from bot.config import Settings
from bot.config_service import LOG_LEVELS
from bot.groups_cli import apply_command, dump_command, plan_command
from bot.storage_errors import StorageError

if TYPE_CHECKING:
    from bot.commands.types import Pending, Principal, Reply
    from bot.console import CommandRunner, Console
    from bot.console_prompt import NamesSource
    from bot.membership.model import GroupsFile
    from bot.runtime import Runtime
    from bot.telegram import TelegramFrontEnd
    from bot.watchdog import PollingAlive, Watchdog

log = logging.getLogger("grouppilot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grouppilot",
        description="Chat-ops bot for WhatsApp groups (Pilot Status groups API).",
    )
    parser.add_argument("--version", action="version", version=f"grouppilot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (Telegram or console, and the scheduler)")
    _add_config_option(run)
    _add_log_level_option(run, "default: log.level in the config, INFO")
    run.add_argument(
        "--no-console",
        action="store_true",
        help="no console on stdin: run until SIGTERM/SIGINT (services without Telegram)",
    )

    exec_ = commands.add_parser(
        "exec", help="run one admin command as the local operator and print the reply"
    )
    _add_config_option(exec_)
    _add_log_level_option(exec_, "default: WARNING")
    exec_.add_argument(
        "--yes", action="store_true", help="confirm a command that asks for confirmation"
    )
    exec_.add_argument("text", metavar="COMMAND", help='the command, quoted: "/groups sales"')

    apply = commands.add_parser(
        "apply", help="make the live groups match the groups file (shows the plan, asks first)"
    )
    _add_config_option(apply)
    _add_log_level_option(apply, "default: WARNING")
    apply.add_argument("key", nargs="?", default=None, help="only this group of the file")
    apply.add_argument("--yes", action="store_true", help="apply without asking")
    apply.add_argument(
        "--allow-removals",
        type=int,
        default=0,
        metavar="N",
        help="let the plan remove up to N people in all, past membership.max_removal_share",
    )

    check = commands.add_parser(
        "check", help="validate the config (and the groups file) and show the next job runs"
    )
    _add_config_option(check)

    dump = commands.add_parser(
        "dump", help="print the live groups as a groups file: grouppilot dump > groups.toml"
    )
    _add_config_option(dump)
    _add_log_level_option(dump, "default: WARNING")
    dump.add_argument(
        "text",
        nargs="?",
        default=None,
        metavar="FILTER",
        help="only the groups whose subject contains this text (any case)",
    )

    plan = commands.add_parser(
        "plan",
        help="show what apply would change to make the live groups match the groups file",
        description="Read membership.file and the live groups; print the changes (nothing is "
        "changed). Exit 0: no changes; 2: changes, or a bad config or groups file (its "
        "problems on stderr); 1: an error (the API, a missing groups file).",
    )
    _add_config_option(plan)
    _add_log_level_option(plan, "default: WARNING")
    plan.add_argument("group", nargs="?", help="a key (or group id) of the file: plan only it")

    sandbox = commands.add_parser("sandbox", help="serve the WhatsApp API emulator over HTTP")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8085)
    sandbox.add_argument("--groups", type=int, default=4, help="groups in total (at least 4)")
    sandbox.add_argument(
        "--members",
        type=int,
        default=0,
        metavar="N",
        help="N generated members (the same every time) in each group beyond the demo ones",
    )
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument(
        "--mode",
        default="normal",
        choices=["normal", "disconnected", "meta-not-eligible", "evolution", "meta"],
    )
    sandbox.add_argument(
        "--no-media-plan",
        dest="media_plan",
        action="store_false",
        help="answer media sends with 402 SUBSCRIPTION_REQUIRED_FOR_MEDIA",
    )
    sandbox.add_argument(
        "--failure-share",
        type=float,
        default=0.0,
        help="share of sent messages (0 to 1) that end FAILED after being queued",
    )
    return parser


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="TOML config file (default: $GROUPPILOT_CONFIG or config.toml)",
    )


def _add_log_level_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=None,
        metavar="LEVEL",
        help=f"{' | '.join(LOG_LEVELS)} ({default})",
    )


def declared_or_report(settings: Settings) -> tuple[bool, GroupsFile | None]:
    """Whether the groups file (``membership.file``) loads, and what it declares (None: unset).

    A file that does not load has every problem printed to stderr, as a config error.
    """
    from bot.membership.file import load_groups_file
    from bot.membership.model import GroupsFileError

    if not settings.membership.file:
        return True, None
    try:
        declared = load_groups_file(
            settings.membership.file, default_country=settings.pilot.default_country
        )
    except GroupsFileError as exc:
        print(f"grouppilot: invalid groups file\n{exc}", file=sys.stderr)
        return False, None
    return True, declared


def _check(args: argparse.Namespace) -> int:
    from bot.check import format_check

    settings = load_or_report(args.config)
    if settings is None:
        return EXIT_CONFIG
    ok, declared = declared_or_report(settings)
    if not ok:
        return EXIT_CONFIG
    print(format_check(settings, now=datetime.now(UTC), declared=declared))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from bot.lock import AlreadyRunning, InstanceLock
    from bot.storage_errors import check_storage_path, storage_error

    settings = load_or_report(args.config)
    if settings is None or not declared_or_report(settings)[0]:
        return EXIT_CONFIG
    setup_logging(args, settings)
    try:
        check_storage_path(settings.storage.path)  # before the lock creates files beside it
    except StorageError as exc:
        return storage_failed(exc)
    lock = InstanceLock(settings.storage.path)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        return storage_failed(storage_error(exc, path=lock.storage_path))
    try:
        # With a Telegram token, the console is off and stdin is ignored.
        console = not args.no_console and not settings.telegram.enabled
        return asyncio.run(_serve(settings, console=console))
    except StorageError as exc:
        return storage_failed(exc)
    except (KeyboardInterrupt, asyncio.CancelledError):
        log.warning("stopped before a clean shutdown")
        return EXIT_FAILED
    finally:
        lock.release()


async def _serve(settings: Settings, *, console: bool) -> int:
    from bot.notify import ConsoleNotifier, LogNotifier
    from bot.runtime import Runtime

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    exit_code = EXIT_OK

    def fail(code: int) -> None:
        """The watchdog gave up: stop as on SIGTERM, then exit with `code`."""
        nonlocal exit_code
        exit_code = code
        stop.set()

    def on_signal(signum: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s again: stopping now", signum.name)
            if main is not None:
                main.cancel()
            return
        log.info("%s: stopping (send it again to stop at once)", signum.name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        async with Runtime(settings) as runtime:
            front = "console on stdin" if console else "no console"
            log.info(
                "grouppilot %s started: %s, storage %s, %s",
                __version__,
                runtime.mode,
                settings.storage.path,
                "Telegram" if settings.telegram.enabled else front,
            )
            telegram = _telegram(settings, runtime) if settings.telegram.enabled else None
            if settings.http.enabled and not await _start_http(runtime, telegram):
                return EXIT_FAILED
            if telegram is not None:
                from bot.telegram import TelegramStartError

                try:
                    await telegram.start()
                except TelegramStartError as exc:
                    print(f"grouppilot: {exc}", file=sys.stderr)
                    return EXIT_FAILED
                runtime.on_close(telegram.stop)  # closed before the client and the store
                # Started after the front end, so it stops first: reports still go out.
                await runtime.start_scheduler(telegram)
                async with _supervised(runtime, fail, polling_alive=telegram.polling_alive):
                    await stop.wait()
                # Both stops are bounded; side by side they end within one bound. The
                # front end stops taking commands but still sends the scheduler's reports.
                await asyncio.gather(telegram.stop_commands(), runtime.scheduler.stop())
            elif console:
                front_end = _console(runtime)
                await runtime.start_scheduler(ConsoleNotifier(front_end))
                async with _supervised(runtime, fail):
                    await front_end.run(stop)
                if not stop.is_set():
                    log.info("end of console input: stopping")
            else:
                await runtime.start_scheduler(LogNotifier())
                async with _supervised(runtime, fail):
                    await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info("stopped" if exit_code == EXIT_OK else f"stopped by the watchdog (exit {exit_code})")
    return exit_code


@contextlib.asynccontextmanager
async def _supervised(
    runtime: Runtime,
    fail: Callable[[int], None],
    *,
    polling_alive: PollingAlive | None = None,
) -> AsyncIterator[Watchdog]:
    """The watchdog and systemd's notifications around the serving part of ``run``.

    READY=1 once everything started; the watchdog (and its WATCHDOG=1 pings)
    while serving; STOPPING=1 and the watchdog stopped first when leaving, so
    a clean shutdown stopping the scheduler is no alarm.
    """
    from bot.sdnotify import SystemdNotifier, watchdog_interval
    from bot.watchdog import Watchdog

    systemd = SystemdNotifier.from_env()
    monitor = runtime.settings.monitor
    watchdog = Watchdog(
        scheduler=runtime.scheduler,
        polling_alive=polling_alive,
        polling_grace=monitor.polling_grace,
        scheduler_grace=monitor.scheduler_grace,
        on_fatal=fail,
        systemd=systemd,
        ping_every=watchdog_interval(),
    )
    await watchdog.start()
    systemd.ready(f"serving: {runtime.mode}")
    try:
        yield watchdog
    finally:
        systemd.stopping()
        await watchdog.stop()


def _telegram(settings: Settings, runtime: Runtime) -> TelegramFrontEnd:
    from bot.telegram import TelegramFrontEnd

    return TelegramFrontEnd(settings.telegram, runtime.commands)


async def _start_http(runtime: Runtime, telegram: TelegramFrontEnd | None) -> bool:
    """The ``[http]`` endpoint; False after one sentence on stderr when it cannot listen."""
    try:
        await runtime.start_http(polling=telegram)
    except OSError as exc:
        listen = runtime.settings.http.listen
        print(f"grouppilot: cannot listen on {listen}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _console(runtime: Runtime) -> Console:
    """The console: through prompt_toolkit when stdin and stdout are a terminal.

    Its history lives beside the database (``<storage.path>.history``);
    completion asks the directory and the scheduler for names at each Tab.
    """
    from bot.console import Console

    if not (_isatty(sys.stdin) and _isatty(sys.stdout)):
        return Console(runtime.commands)
    from bot.commands.types import Principal
    from bot.console_prompt import TerminalPrompt, history_path_for, open_history

    principal = Principal.local_operator("console")
    terminal = TerminalPrompt(
        runtime.commands.commands_for(principal.rights),
        console_names(runtime),
        history=open_history(history_path_for(runtime.settings.storage.path)),
    )
    return Console(runtime.commands, principal=principal, terminal=terminal)


def console_names(runtime: Runtime) -> NamesSource:
    """What the console completes: aliases, targets and "all"; the scheduler's jobs."""
    from bot.console_prompt import ConsoleNames

    def names() -> ConsoleNames:
        directory = runtime.directory
        groups = {*directory.aliases(), *directory.targets, "all"}
        return ConsoleNames(groups=sorted(groups), jobs=sorted(runtime.scheduler.slots))

    return names


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


def _exec(args: argparse.Namespace) -> int:
    settings = load_or_report(args.config)
    if settings is None:
        return EXIT_CONFIG
    setup_logging(args, settings)
    try:
        return asyncio.run(_exec_once(settings, args.text, yes=args.yes))
    except StorageError as exc:
        return storage_failed(exc)
    except KeyboardInterrupt:
        print("grouppilot: interrupted", file=sys.stderr)
        return EXIT_FAILED


async def _exec_once(settings: Settings, text: str, *, yes: bool) -> int:
    from bot.commands.types import Pending, Principal
    from bot.runtime import Runtime

    principal = Principal.local_operator("exec")
    async with Runtime(settings) as runtime:
        outcome = await runtime.commands.execute(text, principal)
        declined = False
        if isinstance(outcome, Pending):
            outcome, declined = await _settle(runtime.commands, outcome, principal, yes=yes)
        if not outcome.silent:
            print(outcome.text, flush=True)
    return EXIT_OK if outcome.ok and not declined else EXIT_FAILED


async def _settle(
    commands: CommandRunner, pending: Pending, principal: Principal, *, yes: bool
) -> tuple[Reply, bool]:
    """Confirm or cancel `pending`; the final reply and whether it was declined.

    The question and the ``Confirm? [y/N]`` prompt go to stderr (as ``rm -i``
    does), so stdout holds only the reply.
    """
    from bot.console import CONFIRM_PROMPT, LineReader, is_yes

    print(pending.question, file=sys.stderr, flush=True)
    if yes:
        return await commands.confirm(pending.token, principal), False
    if not os.isatty(0):
        print(
            f"grouppilot: not confirmed: {pending.command!r} needs confirmation and stdin "
            "is not a terminal; pass --yes to confirm it.",
            file=sys.stderr,
            flush=True,
        )
        return await commands.cancel(pending.token, principal), True
    print(CONFIRM_PROMPT, end="", file=sys.stderr, flush=True)
    answer = await LineReader(0).readline()
    if answer is None:
        print(file=sys.stderr, flush=True)
    if is_yes(answer):
        return await commands.confirm(pending.token, principal), False
    return await commands.cancel(pending.token, principal), True


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox import serve_forever

    try:
        serve_forever(
            host=args.host,
            port=args.port,
            groups=args.groups,
            members_per_group=args.members,
            latency_ms=args.latency_ms,
            mode=args.mode,
            media_plan=args.media_plan,
            failure_share=args.failure_share,
        )
    except ValueError as exc:  # an option out of range: a usage error, like argparse's
        print(f"grouppilot sandbox: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:  # the port is taken, the address is not ours...
        print(
            f"grouppilot sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args)
    handlers = {
        "run": _run,
        "exec": _exec,
        "check": _check,
        "dump": dump_command,
        "plan": plan_command,
        "apply": apply_command,
        "sandbox": _sandbox,
    }
    return handlers[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
