"""Single-instance lock: one `grouppilot run` per storage file (SPEC section 3).

`InstanceLock(storage_path)` takes an exclusive, non-blocking `flock` on
``<storage path>.lock``. The lock belongs to the open file, so the kernel
drops it when the holder exits in any way, ``kill -9`` included: a lock left
by a dead process never blocks a restart. The file itself stays on disk (it is
never deleted: removing a lock file while another process opens it is a race)
and holds the holder's pid, shown in the "already running" message.

`flock` locks are per open file description, so a second `InstanceLock` on the
same storage conflicts even inside one process. Unix only (``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["AlreadyRunning", "InstanceLock", "lock_path_for"]


def lock_path_for(storage_path: str | os.PathLike[str]) -> Path:
    """The lock file of a storage file: the same path with ``.lock`` appended."""
    path = Path(storage_path).expanduser()
    return path.with_name(path.name + ".lock")


class AlreadyRunning(Exception):
    """Another live process holds the lock of this storage."""

    def __init__(self, storage_path: Path, pid: int | None = None) -> None:
        self.storage_path = storage_path
        self.pid = pid
        holder = f" (pid {pid})" if pid is not None else ""
        super().__init__(f"grouppilot is already running with storage {storage_path}{holder}")


class InstanceLock:
    """An OS lock on ``<storage path>.lock`` that dies with its holder.

    Use as a context manager, or call `acquire` / `release`. `acquire` raises
    `AlreadyRunning` when another process holds the lock, and `OSError` when
    the lock file cannot be created (e.g. a read-only directory).
    """

    def __init__(self, storage_path: str | os.PathLike[str]) -> None:
        self.storage_path = Path(storage_path).expanduser().absolute()
        self.path = lock_path_for(self.storage_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now or raise `AlreadyRunning`; never waits."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise AlreadyRunning(self.storage_path, pid) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        with contextlib.suppress(OSError):  # the pid is informative only
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        """Drop the lock (closing the file releases it)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
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


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
