"""Storage faults as one sentence: `StorageError`, and how SQLite's and the OS's errors become one.

A damaged, read-only or full database, or a ``storage.path`` that cannot be a
file, reaches the bot as a ``sqlite3.Error`` or an ``OSError`` from deep inside
the store or the scheduler. The store (on open) and the runtime (around the
scheduler's start and shutdown) turn them into a `StorageError`, whose text is
one sentence naming the file and what to do; ``grouppilot run`` and ``exec``
print it and exit 1, or 2 when the configured path itself is wrong.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "StorageError",
    "check_storage_path",
    "damaged",
    "fault_text",
    "is_storage_fault",
    "storage_error",
    "storage_faults",
]

_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


class StorageError(Exception):
    """The database file cannot be used; ``str()`` is one sentence naming it and what to do.

    ``config_problem`` is true when ``storage.path`` itself is wrong (a
    directory, or under a file): the fix is in the config, not on the disk.
    """

    def __init__(self, message: str, *, path: Path, config_problem: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.config_problem = config_problem


def check_storage_path(path: str | os.PathLike[str]) -> None:
    """Raise a config-problem `StorageError` when ``path`` can never be a database file.

    It is a directory, or a file stands where one of its directories should
    be. Anything else (missing, unreadable) is left to the open that follows.
    """
    problem = _config_problem(Path(path).expanduser().absolute())
    if problem is not None:
        raise problem


def _config_problem(path: Path) -> StorageError | None:
    try:
        if path.is_dir():
            return StorageError(
                f"storage.path {path} is a directory, not a database file: set it to a file "
                f"in that directory, such as {path / 'grouppilot.db'}.",
                path=path,
                config_problem=True,
            )
        parent = next(p for p in path.parents if p.exists())  # "/" exists: never exhausted
        if parent.is_dir():
            return None
    except OSError:
        return None
    return StorageError(
        f"storage.path {path} cannot be created: {parent} is a file, not a directory; "
        "set storage.path to a file in a directory.",
        path=path,
        config_problem=True,
    )


def damaged(path: Path, reason: str) -> StorageError:
    """The error for a file that SQLite cannot read as a sound database."""
    return StorageError(_SENTENCES["damaged"].format(path=path, reason=reason), path=path)


def storage_error(exc: sqlite3.Error | OSError, *, path: Path) -> StorageError:
    """The one-sentence `StorageError` for ``exc``, raised while using the database ``path``."""
    if isinstance(exc, OSError):
        if exc.errno in {errno.EISDIR, errno.ENOTDIR}:
            problem = _config_problem(path)
            if problem is not None:
                return problem
        kind, reason = _os_fault(exc, path)
    else:
        kind, reason = _sqlite_fault(exc, path)
    sentence = _SENTENCES[kind].format(path=path, name=path.name, reason=reason)
    return StorageError(sentence, path=path)


# What each kind of fault says: what went wrong with which file, then what to do.
_SENTENCES = {
    "damaged": "the storage file {path} is damaged or is not a grouppilot database ({reason}): "
    "restore it from a backup, or move it aside to start with an empty one.",
    "full": "no room to write the storage file {path} ({reason}): "
    "free some disk space, then start again.",
    "read-only": "cannot write the storage file {path} ({reason}): make the file and its "
    "directory writable for this user (and not immutable), or set storage.path to a "
    "writable place.",
    "cannot-open": "cannot open or create the storage file {path} ({reason}): make sure its "
    "directory exists and is writable for this user (SQLite also creates {name}-wal and "
    "{name}-shm there).",
    "busy": "the storage file {path} is locked by another process ({reason}): "
    "wait for it to finish or stop it, then start again.",
    "io": "the disk failed while using the storage file {path} ({reason}): "
    "check the disk and free some space, then start again.",
    "other": "cannot use the storage file {path} ({reason}): check the file and its directory.",
}

# By SQLite's primary result code (https://sqlite.org/rescode.html), the low byte of a code.
_SQLITE_KINDS = {
    sqlite3.SQLITE_CORRUPT: "damaged",
    sqlite3.SQLITE_NOTADB: "damaged",
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_PERM: "read-only",
    sqlite3.SQLITE_AUTH: "read-only",
    sqlite3.SQLITE_CANTOPEN: "cannot-open",
    sqlite3.SQLITE_BUSY: "busy",
    sqlite3.SQLITE_LOCKED: "busy",
    sqlite3.SQLITE_IOERR: "io",
}


def _sqlite_fault(exc: sqlite3.Error, path: Path) -> tuple[str, str]:
    code: int = getattr(exc, "sqlite_errorcode", 0)
    if code == sqlite3.SQLITE_IOERR_SHMSIZE:  # the -shm file could not grow: a full disk, mostly
        return "full", f"{exc}: could not grow {path.name}-shm"
    return _SQLITE_KINDS.get(code & 0xFF, "other"), str(exc)


def _os_fault(exc: OSError, path: Path) -> tuple[str, str]:
    reason = exc.strerror or str(exc)
    if exc.filename is not None and Path(os.fsdecode(exc.filename)) != path:
        reason = f"{reason}: {os.fsdecode(exc.filename)}"  # e.g. the lock file, a directory
    if exc.errno in _NO_ROOM:
        return "full", reason
    if exc.errno in _NOT_WRITABLE:
        return "read-only", reason
    return "other", reason


@contextmanager
def storage_faults(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a ``sqlite3.Error`` raised inside into the `StorageError` about ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise storage_error(exc, path=Path(path).expanduser().absolute()) from exc


_NOT_STORAGE = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
_NETWORK = (TimeoutError, ConnectionError)  # OSErrors that never come from the database


def is_storage_fault(error: BaseException) -> bool:
    """True when the database could not be read or written (full, read-only, I/O, locked).

    A constraint violation or a misuse of the connection is a bug, not an outage.
    """
    if isinstance(error, (*_NOT_STORAGE, *_NETWORK)):
        return False
    return isinstance(error, (sqlite3.DatabaseError, OSError))


def fault_text(error: BaseException) -> str:
    """SQLite's own words for the fault (``database or disk is full``)."""
    return str(error) or type(error).__name__
