"""How the process logs: the level, text or JSON lines, the journal, no secrets.

`configure` installs one handler on the root logger, writing to stderr:

- ``text`` (the default): ``<time> <LEVEL> <logger>: <message>``, as it has
  always been;
- ``json``: one JSON object per line with ``time``, ``level``, ``logger``,
  ``message``, the fields ``command``, ``job``, ``run`` and ``group`` when
  they apply, and ``exception`` (the traceback) when there is one.

Under systemd, when stderr is the journal (``JOURNAL_STREAM`` names stderr's
device and inode, the systemd convention), the time is left out of both
formats: the journal stamps every line itself.

The fields come from `log_context` (a context variable, so every line logged
while a command or a run is being carried out has them, whatever module logs
it) or from a call's ``extra=``. Secrets registered with `protect` (the API
key, the bot token, the webhook secret) are replaced in the whole line, in
every format, tracebacks and fields included. (The bot token is also scrubbed
from records as they are made, by `bot.telegram.redact`; this is the last
look, at the output, for every secret.)

No import from the rest of the bot: any layer may use `log_context`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal, TextIO

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "TextFormatter",
    "configure",
    "log_context",
    "protect",
    "stderr_is_journal",
]

FIELDS = ("command", "job", "run", "group")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

LogFormat = Literal["text", "json"]
FieldValue = str | int

_NO_FIELDS: Mapping[str, FieldValue] = MappingProxyType({})
_context: ContextVar[Mapping[str, FieldValue]] = ContextVar(
    "grouppilot_log_fields", default=_NO_FIELDS
)
_secrets: dict[str, str] = {}  # secret -> what is shown instead


@contextmanager
def log_context(**fields: FieldValue | None) -> Iterator[None]:
    """Attach `fields` (command, job, run, group) to every line logged inside."""
    known = {name: value for name, value in fields.items() if value is not None}
    token = _context.set({**_context.get(), **known})
    try:
        yield
    finally:
        _context.reset(token)


def protect(secret: str, mask: str = "<secret>") -> None:
    """Never show `secret` in a log line from now on (`mask` instead).

    A bot token (``<id>:<secret>``) is also hidden by its secret half alone.
    """
    secret = secret.strip()
    if len(secret) < 4:  # hiding "a" everywhere would wreck every line and hide nothing
        return
    _secrets[secret] = mask
    _, _, half = secret.partition(":")
    if len(half) >= 8:
        _secrets[half] = mask


def redact(text: str) -> str:
    """`text` with every protected secret replaced by its mask (longest first)."""
    if not _secrets:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _secrets[secret])
    return text


def stderr_is_journal(
    stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether `stream` (stderr) is connected to the systemd journal.

    systemd sets ``JOURNAL_STREAM=<device>:<inode>`` for a service whose
    output goes to the journal; the stream is the journal if it is that file
    (a child whose stderr was redirected elsewhere inherits the variable, so
    the variable alone is not enough).
    """
    environ = os.environ if environ is None else environ
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    stream = sys.stderr if stream is None else stream
    try:
        status = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # no file behind it (pytest's capture)
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


class TextFormatter(logging.Formatter):
    """The plain line, secrets hidden (unchanged when there are none)."""

    def __init__(self, *, timestamps: bool = True) -> None:
        super().__init__(TEXT_FORMAT if timestamps else JOURNAL_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every value redacted."""

    def __init__(self, *, timestamps: bool = True) -> None:
        super().__init__()
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, FieldValue] = {}
        if self.timestamps:
            moment = datetime.fromtimestamp(record.created, UTC)
            line["time"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line["level"] = record.levelname
        line["logger"] = record.name
        line["message"] = redact(record.getMessage())
        fields = _context.get()
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = fields.get(name)
            if value is not None:
                line[name] = value if isinstance(value, int) else redact(str(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False)


_HANDLER_NAME = "grouppilot"


def configure(
    level: int | str,
    log_format: LogFormat = "text",
    *,
    stream: TextIO | None = None,
    journal: bool | None = None,
    force: bool = False,
) -> None:
    """Send every log line to `stream` (stderr) at `level` and above, in `log_format`.

    Called again (once the config is read), it replaces its own handler. As
    with `logging.basicConfig`, a root logger that already has someone else's
    handler (a test runner's capture, an embedding program) is left alone
    unless `force`. `journal`: whether the time is left out (default:
    `stderr_is_journal`).
    """
    # httpx logs request URLs at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    root = logging.getLogger()
    others = [h for h in root.handlers if h.get_name() != _HANDLER_NAME]
    if others and not force:
        return
    stream = sys.stderr if stream is None else stream
    timestamps = not (stderr_is_journal(stream) if journal is None else journal)
    formatter: logging.Formatter = (
        JsonFormatter(timestamps=timestamps)
        if log_format == "json"
        else TextFormatter(timestamps=timestamps)
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME or force:
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(level)
