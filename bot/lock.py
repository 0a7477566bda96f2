"""Single-instance lock: one `grouppilot run` per database file (docs/operations.md).

`InstanceLock(storage_path)` takes two exclusive, non-blocking `flock` locks:

- on ``<database>.lock``, next to the *resolved* database path (``~``,
  symlinks, ``..`` and the working directory all resolved), which also holds
  the holder's pid for the "already running" message;
- on the database file itself (created empty when it does not exist yet, which
  SQLite reads as an empty database), so a second path to the same file that
  resolving cannot see, a hard link, is refused too.

A `flock` lock belongs to the open file, so the kernel drops it when the
holder exits in any way, ``kill -9`` included: a lock left by a dead process
never blocks a restart. The lock file is never deleted (removing it while
another process opens it is a race). `flock` locks are per open file
description, so a second `InstanceLock` on the same database conflicts even
inside one process. Unix only (``fcntl``).

On Linux, `flock` and the POSIX (``fcntl``) locks SQLite uses are separate
and do not conflict. But closing *any* descriptor of a file drops the POSIX
locks the process holds on it, so release this lock only after the process's
SQLite connections to the database are closed (``grouppilot run`` does).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["AlreadyRunning", "InstanceLock", "lock_path_for", "resolved_database"]


def resolved_database(storage_path: str | os.PathLike[str]) -> Path:
    """The database file ``storage_path`` reaches: absolute, ``~``, ``..`` and symlinks resolved."""
    return Path(storage_path).expanduser().resolve()


def lock_path_for(storage_path: str | os.PathLike[str]) -> Path:
    """The lock file of a storage path: the resolved database path with ``.lock`` appended."""
    path = resolved_database(storage_path)
    return path.with_name(path.name + ".lock")


class AlreadyRunning(Exception):
    """Another live process holds the lock of this database."""

    def __init__(
        self, storage_path: Path, pid: int | None = None, *, other_path: bool = False
    ) -> None:
        self.storage_path = storage_path
        self.pid = pid
        holder = f" (pid {pid})" if pid is not None else ""
        how = " (reached by another path, e.g. a hard link)" if other_path else ""
        super().__init__(f"grouppilot is already running with storage {storage_path}{holder}{how}")


class InstanceLock:
    """`flock` locks on ``<database>.lock`` and on the database, that die with their holder.

    Use as a context manager, or call `acquire` / `release`. `acquire` raises
    `AlreadyRunning` when another process holds either lock, and `OSError`
    when a file cannot be opened or created (``filename`` says which).
    """

    def __init__(self, storage_path: str | os.PathLike[str]) -> None:
        self.storage_path = resolved_database(storage_path)
        self.path = lock_path_for(self.storage_path)
        self._fds: tuple[int, int] | None = None

    @property
    def held(self) -> bool:
        return self._fds is not None

    def acquire(self) -> None:
        """Take both locks now or raise `AlreadyRunning`; never waits."""
        if self._fds is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _open_and_flock(self.path, os.O_RDWR)
        if lock_fd is None:
            raise AlreadyRunning(self.storage_path, self._holder_pid())
        try:
            database_fd = _open_and_flock(self.storage_path, os.O_RDONLY)
        except BaseException:
            os.close(lock_fd)
            raise
        if database_fd is None:
            os.close(lock_fd)
            raise AlreadyRunning(self.storage_path, other_path=True)
        self._fds = (lock_fd, database_fd)
        with contextlib.suppress(OSError):  # the pid is informative only
            os.ftruncate(lock_fd, 0)
            os.pwrite(lock_fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        """Drop both locks (closing the files releases them)."""
        fds, self._fds = self._fds, None
        if fds is None:
            return
        lock_fd, database_fd = fds
        with contextlib.suppress(OSError):
            os.ftruncate(lock_fd, 0)
        os.close(lock_fd)
        os.close(database_fd)

    def _holder_pid(self) -> int | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return _read_pid(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"InstanceLock({str(self.path)!r}, held={self.held})"


def _open_and_flock(path: Path, mode: int) -> int | None:
    """``path`` opened (created if missing) and `flock`ed; None when another holds it."""
    fd = os.open(path, mode | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    # isascii: str.isdigit() is also true for digits int() refuses, such as '²'.
    return int(text) if text.isascii() and text.isdigit() else None
