"""The console on a terminal: prompt_toolkit driven by its own pipe input.

The `Console` runs over the real command layer against the sandbox, with a
`TerminalPrompt` reading prompt_toolkit's pipe input (keys as a terminal
sends them) and writing VT100 output into a buffer: no real terminal needed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import clean_env
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.data_structures import Size
from prompt_toolkit.document import Document
from prompt_toolkit.history import History
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output
from test_console import ROOT, db_of, write_config

from bot.cli import _console, console_names
from bot.commands.layer import CommandLayer
from bot.commands.types import Principal
from bot.config import Settings
from bot.console import Console
from bot.console_prompt import (
    HINT,
    CommandCompleter,
    ConsoleNames,
    TerminalPrompt,
    history_path_for,
    open_history,
)
from bot.notify import LogNotifier
from bot.runtime import Runtime
from bot.store import Store

UP, CTRL_C, CTRL_D = "\x1b[A", "\x03", "\x04"
OPERATOR = Principal.local_operator("console")


def names_of(layer: CommandLayer, settings: Settings) -> Callable[[], ConsoleNames]:
    def names() -> ConsoleNames:
        directory = layer.directory
        groups = sorted({*directory.aliases(), *directory.targets, "all"})
        return ConsoleNames(groups=groups, jobs=[job.name for job in settings.jobs])

    return names


@dataclass
class Session:
    """A console on a fake terminal: `type` keys, read `screen`, `wait_for` things."""

    keys: PipeInput
    screen: io.StringIO
    console: Console
    stop: asyncio.Event
    task: asyncio.Task[None]

    def type(self, keys: str) -> None:
        self.keys.send_text(keys)

    async def wait_for(self, check: Callable[[], bool], what: str) -> None:
        for _ in range(300):  # 3 s at most
            if check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"never happened: {what}; screen: {self.screen.getvalue()!r}")

    async def shown(self, text: str) -> None:
        await self.wait_for(lambda: text in self.screen.getvalue(), repr(text))

    async def end(self) -> None:
        self.type(CTRL_D)
        await asyncio.wait_for(self.task, 5)


@pytest.fixture
def open_session(
    layer: CommandLayer, settings: Settings
) -> Callable[[History | None], AbstractAsyncContextManager[Session]]:
    @asynccontextmanager
    async def open_(history: History | None = None) -> AsyncIterator[Session]:
        with create_pipe_input() as keys:
            screen = io.StringIO()
            output = Vt100_Output(screen, lambda: Size(rows=40, columns=200), enable_cpr=False)
            terminal = TerminalPrompt(
                layer.commands_for(OPERATOR.rights),
                names_of(layer, settings),
                history=history,
                input=keys,
                output=output,
            )
            console = Console(layer, terminal=terminal)
            stop = asyncio.Event()
            task = asyncio.create_task(console.run(stop))
            session = Session(keys, screen, console, stop, task)
            try:
                yield session
            finally:
                if not task.done():
                    stop.set()
                    await asyncio.wait_for(task, 5)

    return open_


async def commands_run(store: Store) -> list[str]:
    return [e.command for e in reversed(store.recent_audit(50))]


async def test_hint_then_commands_then_ctrl_d_ends(open_session, store) -> None:
    async with open_session(None) as session:
        await session.shown(HINT)
        await session.shown("grouppilot>")
        session.type("/groups\r")
        await session.shown("VIP Customers")
        await session.end()
    assert await commands_run(store) == ["/groups"]


async def test_history_is_written_and_recalled_with_up(open_session, store, tmp_path) -> None:
    path = history_path_for(tmp_path / "grouppilot.db")
    assert path == tmp_path / "grouppilot.db.history"
    async with open_session(open_history(path)) as session:
        session.type("/groups sales\r")
        await session.shown("Sales Team")
        session.type("   \r")  # blank: not kept
        session.type("/remove sales 5511933334444\r")
        await session.shown("Confirm? [y/N]")
        session.type("n\r")  # an answer: not kept
        await session.shown("Cancelled")
        await session.end()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(open_history(path).load_history_strings()) == [
        "/remove sales 5511933334444",
        "/groups sales",
    ]

    # A new session (a restart): Up Up recalls the older command.
    async with open_session(open_history(path)) as session:
        await session.shown(HINT)
        session.type(UP + UP + "\r")
        await session.wait_for(lambda: len(store.recent_audit(50)) == 4, "the recalled command")
        await session.end()
    assert (await commands_run(store))[-1] == "/groups sales"


def test_history_keeps_the_last_entries(tmp_path: Path) -> None:
    path = tmp_path / "grouppilot.db.history"
    history = open_history(path, limit=5)
    for n in range(8):
        history.store_string(f"/group g{n}")
    history.store_string("  ")
    assert list(open_history(path, limit=5).load_history_strings()) == [
        f"/group g{n}" for n in (7, 6, 5, 4, 3)
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_history_in_an_unusable_folder_stays_in_memory(tmp_path: Path) -> None:
    history = open_history(tmp_path / "missing-folder" / "grouppilot.db.history")
    history.store_string("/groups")
    assert not (tmp_path / "missing-folder").exists()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/ad", None),  # every command starting with /ad: computed below
        ("/send sa", ["sales"]),
        ("/send ", ["all", "all-sales", "rio", "sales", "support", "vip"]),
        (
            "/run ",
            [
                "drift-check",
                "morning-sales",
                "nightly-invite-reset",
                "weekly-offers",
                "welcome-offer",
            ],
        ),
        ("/pause n", ["nightly-invite-reset"]),
        ("/help inv", ["invite"]),
        ("/add sales ", []),  # a number, not a name
        ("/frobnicate s", ["sales", "support"]),  # unknown command: every name
    ],
)
def test_completion(layer, settings, typed: str, expected: list[str] | None) -> None:
    specs = layer.commands_for(OPERATOR.rights)
    completer = CommandCompleter(specs, names_of(layer, settings))
    got = [c.text for c in completer.get_completions(Document(typed), CompleteEvent())]
    if expected is None:
        expected = sorted(f"/{s.name}" for s in specs if s.name.startswith("ad"))
        assert "/add" in expected
    assert got == expected


async def test_tab_completes_on_the_prompt(open_session, store) -> None:
    async with open_session(None) as session:
        await session.shown(HINT)
        line = session.console.terminal.line
        session.type("/gro")
        await session.wait_for(lambda: line() == "/gro", "/gro typed")
        session.type("\t")  # /group and /groups: their common part, and a menu
        await session.wait_for(lambda: line() == "/group", "the common part")
        session.type("\t\t")  # the menu's first entry, then its second
        await session.wait_for(lambda: line() == "/groups", "the second entry")
        session.type("\x7f ")  # Backspace: /group, which takes a group
        await session.wait_for(lambda: line() == "/group ", "/group typed")
        session.type("sa\t")  # one candidate: completed in place
        await session.wait_for(lambda: line() == "/group sales", "sales completed")
        session.type("\r")
        await session.shown("Sales Team")
        await session.end()
    assert await commands_run(store) == ["/group sales"]


async def test_ctrl_c_at_a_question_cancels_only_the_question(open_session, sandbox, store) -> None:
    async with open_session(None) as session:
        session.type("/remove sales 5511933334444\r")
        await session.shown("Confirm? [y/N]")
        session.type("y" + CTRL_C)
        await session.shown("Cancelled. Nothing was changed.")
        session.type("/groups\r")
        await session.shown("VIP Customers")
        assert not session.task.done() and not session.stop.is_set()
        await session.end()
    assert "5511933334444" in sandbox.groups["120363123456789012@g.us"].participants
    outcomes = [e.outcome for e in reversed(store.recent_audit(5))]
    assert outcomes == ["awaiting confirmation", "cancelled", "ok"]


async def test_ctrl_c_clears_a_line_then_stops_on_an_empty_one(open_session, store) -> None:
    async with open_session(None) as session:
        await session.shown(HINT)
        session.type("/invite sales reset" + CTRL_C)
        session.type("/groups\r")
        await session.shown("VIP Customers")
        session.type(CTRL_C)
        await asyncio.wait_for(session.task, 5)
        assert session.stop.is_set()  # the bot stops, as with SIGINT
    assert await commands_run(store) == ["/groups"]


async def test_a_report_keeps_the_line_being_typed(open_session, store) -> None:
    async with open_session(None) as session:
        await session.shown(HINT)
        session.type("/gro")
        await session.shown("/gro")
        session.console.notify("morning-sales: sent 2, failed 0, unknown 0")
        await session.shown("morning-sales: sent 2, failed 0, unknown 0")
        assert session.console.terminal.line() == "/gro"
        screen = session.screen.getvalue()
        assert "/gro" in screen[screen.index("morning-sales: sent 2") :]  # drawn again below
        session.type("ups\r")
        await session.shown("VIP Customers")
        await session.end()
    assert await commands_run(store) == ["/groups"]


async def test_stop_ends_a_waiting_prompt(open_session, store) -> None:
    async with open_session(None) as session:
        session.type("/remove sales 5511933334444\r")
        await session.shown("Confirm? [y/N]")
        session.stop.set()
        await asyncio.wait_for(session.task, 5)
        await session.shown("Cancelled. Nothing was changed.")
    assert [e.outcome for e in store.recent_audit(5)] == ["cancelled", "awaiting confirmation"]


async def test_the_wiring_completes_the_runtime_names(settings, sandbox, store) -> None:
    # The example's first job has `until`: left out here (the scheduler stores
    # config jobs at start), the names are what matters.
    settings.jobs = [job for job in settings.jobs if job.until is None]
    async with Runtime(settings, sandbox=sandbox, store=store) as runtime:
        await runtime.start_scheduler(LogNotifier())
        await runtime.commands.execute("/alias launch vip", OPERATOR)
        names = console_names(runtime)()
        # Under pytest stdin is not a terminal: exactly the console of before.
        assert _console(runtime).terminal is None
    assert names.groups == ["all", "all-sales", "launch", "rio", "sales", "support", "vip"]
    assert names.jobs == sorted(job.name for job in settings.jobs)
    assert names.jobs


# -- `grouppilot run` on a real pseudo-terminal ---------------------------------------


class OnTerminal:
    """`grouppilot run` with stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, config: Path) -> None:
        self.master, follower = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            cwd=ROOT,
            # A pseudo-terminal nobody reads answers no cursor position request.
            env=clean_env(PROMPT_TOOLKIT_NO_CPR="1"),
        )
        os.close(follower)
        self.screen = ""

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for(self, text: str, *, after: str = "", timeout: float = 30) -> None:
        """Wait until `text` shows, after the last `after` when given."""
        deadline = time.monotonic() + timeout
        while not self.seen(text, after) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the process ended and closed the terminal
                    break
        assert self.seen(text, after), f"{text!r} not seen: {self.screen!r}"

    def seen(self, text: str, after: str) -> bool:
        start = self.screen.rfind(after) if after else 0
        return start >= 0 and text in self.screen[start:]

    def finish(self) -> int:
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            os.close(self.master)


@pytest.mark.parametrize("how", ["ctrl-c", "ctrl-d", "sigint"])
def test_run_on_a_terminal_uses_the_prompt(tmp_path: Path, how: str) -> None:
    bot = OnTerminal(write_config(tmp_path))
    bot.wait_for(HINT)
    bot.wait_for("grouppilot>")
    bot.type("/groups\r")
    bot.wait_for("VIP Customers")
    bot.wait_for("grouppilot>", after="VIP Customers")  # the prompt is back
    if how == "sigint":
        bot.process.send_signal(signal.SIGINT)  # the wiring's handler still stops it
    else:
        bot.type(CTRL_C if how == "ctrl-c" else CTRL_D)
    bot.wait_for("stopped")
    assert bot.finish() == 0, bot.screen
    assert "Traceback" not in bot.screen
    history = db_of(tmp_path).with_name("grouppilot.db.history")
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert list(open_history(history).load_history_strings()) == ["/groups"]


async def test_log_lines_go_above_the_prompt_while_it_runs(open_session) -> None:
    original = sys.stderr
    handler = logging.StreamHandler(original)
    logging.getLogger().addHandler(handler)
    try:
        async with open_session(None) as session:
            await session.shown(HINT)
            # prompt_toolkit's proxy, which prints above the prompt
            assert handler.stream is sys.stderr is not original
            await session.end()
        assert handler.stream is sys.stderr is original  # given back once the console ends
    finally:
        logging.getLogger().removeHandler(handler)
