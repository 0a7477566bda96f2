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
  question) and applies it (`bot.apply_cli`); like ``exec`` it takes no
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
from bot.config import ConfigError, Settings, load_config
from bot.config_service import LOG_LEVELS
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

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_CHANGES = 2  # plan: there are changes (like `terraform plan -detailed-exitcode`)


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


def _setup_logging(args: argparse.Namespace, settings: Settings | None = None) -> None:
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


def storage_failed(exc: StorageError) -> int:
    """Print the storage fault's sentence; its exit code (2 when the config is wrong)."""
    print(f"grouppilot: {exc}", file=sys.stderr)
    return EXIT_CONFIG if exc.config_problem else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    from bot.lock import AlreadyRunning, InstanceLock
    from bot.storage_errors import check_storage_path, storage_error

    settings = load_or_report(args.config)
    if settings is None or not declared_or_report(settings)[0]:
        return EXIT_CONFIG
    _setup_logging(args, settings)
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
    _setup_logging(args, settings)
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


def _dump(args: argparse.Namespace) -> int:
    from bot.whatsapp.errors import PilotError

    settings = load_or_report(args.config)
    if settings is None:
        return EXIT_CONFIG
    _setup_logging(args, settings)
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


def _plan(args: argparse.Namespace) -> int:
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
    _setup_logging(args, settings)
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


def _apply(args: argparse.Namespace) -> int:
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
    _setup_logging(args, settings)
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
    _setup_logging(args)
    handlers = {
        "run": _run,
        "exec": _exec,
        "check": _check,
        "dump": _dump,
        "plan": _plan,
        "apply": _apply,
        "sandbox": _sandbox,
    }
    return handlers[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
