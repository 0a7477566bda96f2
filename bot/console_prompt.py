"""The console on a terminal: prompt_toolkit line editing, history and completion.

`Console` (bot/console.py) uses a `TerminalPrompt` when stdin and stdout are
both a terminal (the wiring decides, bot/cli.py); otherwise it reads plain
lines as before. What the terminal adds:

- line editing and a history kept in a file (`open_history`): Up recalls
  earlier commands, also from earlier sessions. Only commands typed at the
  main prompt are kept (never the answers to ``Confirm? [y/N]``, never a
  blank line), the file is created readable by its owner only (0600), and
  it is cut to its last `HISTORY_LIMIT` entries at each start;
- Tab completion (`CommandCompleter`): command names first, then alias,
  target and job names where the command takes one. The names come from a
  callable the wiring gives (`NamesSource`), asked at each Tab, so new
  aliases and chat jobs complete at once;
- job reports printed above the prompt, keeping the line being typed
  (`TerminalPrompt.show`, safe from any thread), and so are log lines
  written to the terminal while the console runs (`printing_above`);
- Ctrl-C: at the main prompt it clears the line being typed, or, on an
  empty line, stops the bot; at a question it cancels only the question.
  Ctrl-D on an empty line quits (at a question: cancels it, then quits).

prompt_toolkit runs inside the bot's event loop (``prompt_async``) and
leaves the process's SIGINT handler alone (``handle_sigint=False``): in raw
mode Ctrl-C is a key, handled here; a SIGINT from elsewhere still reaches
the wiring's handler, which sets the stop event and ends the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from bot.commands.registry import CommandSpec

__all__ = [
    "HINT",
    "HISTORY_LIMIT",
    "CommandCompleter",
    "ConsoleNames",
    "End",
    "NamesSource",
    "TerminalPrompt",
    "history_path_for",
    "open_history",
]

log = logging.getLogger(__name__)

HINT = "Type /help for the commands; Ctrl-D to quit."
HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class ConsoleNames:
    """The names worth completing now: groups (aliases, targets, "all") and jobs."""

    groups: Sequence[str] = field(default_factory=tuple)
    jobs: Sequence[str] = field(default_factory=tuple)


NamesSource = Callable[[], ConsoleNames]


class End(enum.Enum):
    """Why a prompt gave no line."""

    EOF = "eof"  # Ctrl-D on an empty line
    INTERRUPT = "interrupt"  # Ctrl-C (on an empty line, at the main prompt)
    STOP = "stop"  # the bot is stopping (a signal)


# -- history ------------------------------------------------------------------------


def history_path_for(storage_path: str | os.PathLike[str]) -> Path:
    """The console history beside the database: ``<storage.path>.history``."""
    path = Path(storage_path).expanduser()
    return path.with_name(path.name + ".history")


class _CommandHistory(FileHistory):
    """A `FileHistory` that never keeps a blank line."""

    def store_string(self, string: str) -> None:
        if string.strip():
            super().store_string(string)


def open_history(path: Path, *, limit: int = HISTORY_LIMIT) -> History:
    """The history in `path` (0600, cut to its last `limit` entries).

    A file that cannot be made or read (a read-only folder, say) costs only
    the memory across restarts: the session keeps an in-memory history.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)  # an older file made with a looser mode
        history = _CommandHistory(str(path))
        kept = list(history.load_history_strings())  # newest first
        if len(kept) > limit:
            _rewrite(path, reversed(kept[:limit]))
    except OSError as exc:
        log.warning("console history %s unusable (%s): kept in memory only", path, exc)
        return InMemoryHistory()
    return history


def _rewrite(path: Path, entries: Iterable[str]) -> None:
    """Replace the file with `entries` (oldest first), atomically, mode 0600."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        for entry in entries:
            out.write(b"\n")
            for line in entry.split("\n"):
                out.write(f"+{line}\n".encode("utf-8", errors="replace"))
    os.replace(temporary, path)


# -- completion ---------------------------------------------------------------------


class CommandCompleter(Completer):
    """Completes the word under the cursor from what the words before it say.

    First word: ``/command`` names (those the console's rights allow). Later
    words: alias and target names (and "all") where the command takes a
    group, job names where it takes a job, command names after ``/help``.
    A command the list does not know gets every name; a known one that takes
    no name gets nothing (its words are numbers or free text).
    """

    def __init__(self, commands: Sequence[CommandSpec], names: NamesSource) -> None:
        self._commands = {spec.name: spec for spec in commands}
        self._names = names

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        words = before.split()
        if before[-1:].isspace() or not words:
            words.append("")  # the cursor starts a new word
        word = words[-1]
        for candidate in sorted(set(self._candidates(words[:-1]))):
            if candidate.lower().startswith(word.lower()):
                yield Completion(candidate, start_position=-len(word))

    def _candidates(self, before: list[str]) -> Iterable[str]:
        if not before:
            return [f"/{name}" for name in self._commands]
        command = before[0].lower().lstrip("/")
        position = len(before) - 1  # of the word being completed among the arguments
        if command == "help":
            return list(self._commands) if position == 0 else []
        spec = self._commands.get(command)
        try:
            names = self._names()
        except Exception:  # a nicety: a fault here must never reach the prompt
            log.exception("console completion names failed")
            return []
        if spec is None:
            return [*names.groups, *names.jobs]
        if position in spec.group_args:
            return names.groups
        if position == spec.job_arg:
            return names.jobs
        return []


# -- the prompt ---------------------------------------------------------------------


class TerminalPrompt:
    """The prompt_toolkit sessions of one console: commands, and questions apart.

    Questions get their own session, so their answers never enter the
    command history and get no completion. `input` and `output` are for
    tests (prompt_toolkit's pipe input and an output over a buffer); by
    default the process's terminal.
    """

    def __init__(
        self,
        commands: Sequence[CommandSpec],
        names: NamesSource,
        *,
        history: History | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self._main: PromptSession[str] = PromptSession(
            history=history if history is not None else InMemoryHistory(),
            completer=CommandCompleter(commands, names),
            complete_while_typing=False,  # Tab completes, as in a shell
            key_bindings=_main_bindings(),
            input=input,
            output=output,
        )
        self._question: PromptSession[str] = PromptSession(input=input, output=output)
        self.output: Output = self._main.output
        self._ended = False  # Ctrl-D at a question: the next prompt ends the session

    async def ask(self, prompt: str, stop: asyncio.Event, *, question: bool = False) -> str | End:
        """Show `prompt` and wait for a line, or why there is none."""
        if self._ended:
            return End.EOF
        session = self._question if question else self._main
        reading = asyncio.ensure_future(self._read(session, prompt, question=question))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading  # let prompt_toolkit give the terminal back
        return End.STOP if reading.cancelled() else reading.result()

    async def _read(self, session: PromptSession[str], prompt: str, *, question: bool) -> str | End:
        # Ctrl-C and Ctrl-D end in exceptions; they are caught here, inside the
        # task: a task that raises KeyboardInterrupt would stop the event loop.
        try:
            return await session.prompt_async(
                prompt, handle_sigint=False, set_exception_handler=False
            )
        except KeyboardInterrupt:
            return End.INTERRUPT
        except EOFError:
            self._ended = question
            return End.EOF

    def line(self) -> str:
        """The command line being typed (empty when none)."""
        return self._main.default_buffer.text

    @contextlib.contextmanager
    def printing_above(self) -> Iterator[None]:
        """While the console runs, anything printed (and the log) goes above the prompt.

        `patch_stdout` routes ``sys.stdout``/``sys.stderr`` through the prompt;
        log handlers keep the stream they were given at start, so those that
        write to the real stdout or stderr are pointed at the patched one for
        the duration, then back.
        """
        real = {id(sys.stdout): "stdout", id(sys.stderr): "stderr"}
        handlers = [
            handler
            for handler in logging.getLogger().handlers
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in real
        ]
        with patch_stdout(raw=True):
            streams = {"stdout": sys.stdout, "stderr": sys.stderr}
            previous = [(handler, handler.stream) for handler in handlers]
            for handler in handlers:
                handler.setStream(streams[real[id(handler.stream)]])
            try:
                yield
            finally:
                for handler, stream in previous:
                    handler.setStream(stream)

    def show(self, text: str) -> None:
        """Print `text` (a reply, a report): above the prompt when one is shown.

        Safe from any thread: with a prompt running, prompt_toolkit hands the
        printing to the prompt's event loop, which erases the prompt, prints
        and draws it again with the line being typed.
        """
        print_formatted_text(text.rstrip("\n"), output=self.output)


def _main_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        if buffer.text:
            buffer.reset()  # a line being typed: drop it, stay at the prompt
        else:
            event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    return bindings
