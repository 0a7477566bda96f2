"""The console front end: the local operator types admin commands on stdin.

Used by ``grouppilot run`` when no Telegram token is set (docs/operations.md). It
is a thin adapter over the command layer: each non-empty line goes to
``execute`` as ``Principal.local_operator("console")`` and the reply is
printed; a `Pending` prints its question, asks ``Confirm? [y/N] `` and calls
``confirm`` on ``y``/``yes`` (any case) or ``cancel`` on anything else, EOF
and Ctrl-C included. EOF ends the session.

Stdin is read by a daemon thread with ``os.read`` on the file descriptor
(`LineReader`), so the event loop (and the scheduler that shares it) never
blocks, whether stdin is a TTY, a pipe or a regular file. Raw reads hold no
Python-level lock, so a thread still blocked on a terminal cannot hang the
interpreter at exit. `Console.notify` prints job reports and alerts without
corrupting a prompt that is waiting for input: the prompt line is cleared (on
a terminal) or ended, the text printed, and the prompt shown again.

Given a `TerminalPrompt` (bot/console_prompt.py; the wiring gives one when
stdin and stdout are a terminal), the console reads through prompt_toolkit
instead: line editing, history, completion, a hint at start, reports above
the prompt, and Ctrl-C at a question cancelling only the question.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol, TextIO

from bot.commands.types import Outcome, Pending, Principal, Reply

if TYPE_CHECKING:
    from bot.console_prompt import TerminalPrompt

__all__ = ["CONFIRM_PROMPT", "PROMPT", "CommandRunner", "Console", "LineReader", "is_yes"]

log = logging.getLogger(__name__)

PROMPT = "grouppilot> "
CONFIRM_PROMPT = "Confirm? [y/N] "
_YES = frozenset({"y", "yes"})
_CLEAR_LINE = "\r\x1b[2K"
# Far past what the command layer accepts (MAX_COMMAND_CHARS): a longer line
# is still refused there, and its excess is never held in memory.
MAX_LINE_CHARS = 1 << 20


def is_yes(answer: str | None) -> bool:
    """True only for ``y`` or ``yes`` (any case, surrounding blanks ignored)."""
    return answer is not None and answer.strip().lower() in _YES


class CommandRunner(Protocol):
    """What a front end needs from the command layer (`CommandLayer` fits)."""

    async def execute(self, text: str, principal: Principal) -> Outcome: ...

    async def confirm(self, token: str, principal: Principal) -> Reply: ...

    async def cancel(self, token: str, principal: Principal) -> Reply: ...


class LineSource(Protocol):
    async def readline(self) -> str | None: ...


class LineReader:
    """Lines of a file descriptor, read by a daemon thread, awaited in the loop.

    `readline` returns one line without its line ending, or None at end of
    input (EOF, or the descriptor is closed or unreadable; a process started
    with stdin closed has none). Bytes are decoded
    as UTF-8; undecodable bytes become U+FFFD rather than an error. A line
    is kept to its first `MAX_LINE_CHARS` characters (the command layer
    refuses anything past 4,096 anyway), and reading one is linear in its
    length, so a runaway paste cannot hold the event loop or fill the memory.
    """

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._queue: asyncio.Queue[str | None] | None = None
        self._eof = False

    def start(self) -> None:
        """Start reading; call from inside the running event loop."""
        if self._queue is not None:
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queue = queue
        if self.fd == 0 and sys.stdin is None:
            # Started with stdin closed: descriptor 0 may since belong to
            # another file (the lock, the database), which is not our input.
            queue.put_nowait(None)
            return
        thread = threading.Thread(
            target=self._pump, args=(loop, queue), name="console-stdin", daemon=True
        )
        thread.start()

    async def readline(self) -> str | None:
        if self._eof:
            return None
        if self._queue is None:
            self.start()
        assert self._queue is not None
        line = await self._queue.get()
        if line is None:
            self._eof = True
        return line

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        line = _LineBuffer()

        def deliver(item: str | None) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody listens any more
                return False
            return True

        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except InterruptedError:  # pragma: no cover - PEP 475 retries already
                continue
            except OSError as exc:
                log.debug("stdin unreadable (%s): treated as end of input", exc)
                chunk = b""
            if not chunk:
                line.add(decoder.decode(b"", final=True))
                if line:
                    deliver(line.take())
                deliver(None)
                return
            *ends, rest = decoder.decode(chunk).split("\n")
            for end in ends:
                line.add(end)
                if not deliver(line.take()):
                    return
            line.add(rest)


class _LineBuffer:
    """The line being read, in pieces (joined once, at its end), at most MAX_LINE_CHARS."""

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._size = 0

    def add(self, text: str) -> None:
        room = MAX_LINE_CHARS - self._size
        if text and room > 0:
            self._pieces.append(text[:room])
            self._size += min(len(text), room)

    def take(self) -> str:
        """The whole line without its line ending; the buffer starts afresh."""
        text = "".join(self._pieces).rstrip("\r")
        self._pieces, self._size = [], 0
        return text

    def __bool__(self) -> bool:
        return self._size > 0


class Console:
    """The interactive admin console over a `CommandRunner`."""

    def __init__(
        self,
        commands: CommandRunner,
        *,
        lines: LineSource | None = None,
        out: TextIO | None = None,
        principal: Principal | None = None,
        terminal: TerminalPrompt | None = None,
    ) -> None:
        """`terminal`: read through prompt_toolkit (then `lines` and `out` are unused)."""
        self.commands = commands
        self.terminal = terminal
        self.lines: LineSource = lines if lines is not None else LineReader(0)
        self.out: TextIO = out if out is not None else sys.stdout
        self.principal = principal or Principal.local_operator("console")
        self._tty = _isatty(self.out)
        self._write_lock = threading.Lock()
        self._prompt: str | None = None  # the prompt now on screen, waiting for input

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Read and run commands until end of input or until `stop` is set."""
        stop = stop if stop is not None else asyncio.Event()
        if self.terminal is None:
            await self._session(stop)
            return
        from bot.console_prompt import HINT  # prompt_toolkit loads only on a terminal

        with self.terminal.printing_above():
            self.terminal.show(HINT)
            await self._session(stop)

    async def _session(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            line = await self._ask(PROMPT, stop)
            if line is None:
                return
            text = line.strip()
            if not text:
                continue
            outcome = await self._guard(self.commands.execute(text, self.principal))
            if isinstance(outcome, Pending):
                self._show(outcome.question)
                answer = await self._ask(CONFIRM_PROMPT, stop)
                settle = self.commands.confirm if is_yes(answer) else self.commands.cancel
                outcome = await self._guard(settle(outcome.token, self.principal))
            assert isinstance(outcome, Reply)
            if not outcome.silent:
                self._show(outcome.text)

    def notify(self, text: str) -> None:
        """Print a job report or alert, keeping a waiting prompt intact.

        Safe to call from the event loop or from another thread.
        """
        if self.terminal is not None:
            self.terminal.show(text)
            return
        with self._write_lock:
            prompt = self._prompt
            if prompt is not None:
                self._write(_CLEAR_LINE if self._tty else "\n")
            self._write(text.rstrip("\n") + "\n")
            if prompt is not None:
                self._write(prompt)
            self._flush()

    # -- internals ----------------------------------------------------------------

    async def _ask(self, prompt: str, stop: asyncio.Event) -> str | None:
        """Show `prompt` and wait for a line; None on end of input or stop."""
        if self.terminal is not None:
            return await self._ask_terminal(self.terminal, prompt, stop)
        with self._write_lock:
            self._write(prompt)
            self._flush()
            self._prompt = prompt
        reading = asyncio.ensure_future(self.lines.readline())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not reading.done():
                reading.cancel()
            with self._write_lock:
                self._prompt = None
        line = reading.result() if reading.done() and not reading.cancelled() else None
        if line is None:
            with self._write_lock:  # end the prompt's line so the shell starts clean
                self._write("\n")
                self._flush()
        return line

    async def _ask_terminal(
        self, terminal: TerminalPrompt, prompt: str, stop: asyncio.Event
    ) -> str | None:
        from bot.console_prompt import End

        question = prompt == CONFIRM_PROMPT
        answer = await terminal.ask(prompt, stop, question=question)
        if answer is End.INTERRUPT and not question:
            # Ctrl-C on an empty command line stops the bot, as SIGINT does.
            log.info("Ctrl-C: stopping")
            stop.set()
        return None if isinstance(answer, End) else answer

    async def _guard(self, call: Awaitable[Outcome]) -> Outcome:
        # The layer never raises; this only keeps the console alive if it did.
        try:
            return await call
        except Exception:
            log.exception("the command layer raised")
            return Reply.failed("Internal error (see the log). Nothing else was affected.")

    def _show(self, text: str) -> None:
        if self.terminal is not None:
            self.terminal.show(text)
            return
        with self._write_lock:
            self._write(text.rstrip("\n") + "\n")
            self._flush()

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # closed or broken stdout
            self.out.write(text)

    def _flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.out.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False
