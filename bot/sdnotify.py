"""systemd's notify protocol: READY=1, WATCHDOG=1, STOPPING=1 as datagrams to $NOTIFY_SOCKET.

Under a ``Type=notify`` unit systemd sets ``NOTIFY_SOCKET`` (a path, or
``@name`` for the abstract namespace) and, with ``WatchdogSec=``,
``WATCHDOG_USEC`` (and ``WATCHDOG_PID``, the process it is meant for). The
protocol is one ``AF_UNIX`` datagram of newline-separated ``KEY=value`` lines
(sd_notify(3)); twenty lines of code here instead of a dependency. Outside
systemd (no ``NOTIFY_SOCKET``) every call does nothing. A send that fails is
logged once and never raised: notifications must not stop the bot.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["SystemdNotifier", "watchdog_interval"]

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends states to systemd's notify socket (nothing when there is none)."""

    def __init__(self, address: str | None) -> None:
        """`address`: the value of ``NOTIFY_SOCKET`` (None or "": not under systemd)."""
        self.address = address or None
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SystemdNotifier:
        return cls((os.environ if env is None else env).get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *states: str) -> bool:
        """Send ``KEY=value`` states in one datagram; True when it went out."""
        if self.address is None:
            return False
        target = self.address
        if target.startswith("@"):  # the abstract namespace: a leading NUL byte
            target = "\0" + target[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(target)
                sock.sendall("\n".join(states).encode())
        except OSError as exc:
            if not self._warned:
                log.warning("systemd notification not sent to %s: %s", self.address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")


def watchdog_interval(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between two ``WATCHDOG=1`` (half of ``WATCHDOG_USEC``), or None when not asked.

    ``WATCHDOG_PID``, when set, must name this process (a child started by
    the bot would otherwise ping for it).
    """
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    expected = env.get("WATCHDOG_PID", "")
    if expected and expected != str(os.getpid() if pid is None else pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None
