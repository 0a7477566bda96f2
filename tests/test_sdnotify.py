"""systemd's notify protocol over a real AF_UNIX datagram socket (a path, or abstract).

The last test runs ``grouppilot run --no-console`` with ``NOTIFY_SOCKET`` set, as
systemd would, and reads READY=1, WATCHDOG=1 and STOPPING=1 off the socket.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sdnotify import SystemdNotifier, watchdog_interval

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(5)
    with sock:
        yield sock, path


def test_states_go_out_as_one_datagram(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("serving")
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving"
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux's")
def test_an_abstract_socket_address_starts_with_at() -> None:
    name = f"grouppilot-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert SystemdNotifier(f"@{name}").ready()
        assert sock.recv(4096) == b"READY=1"


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = SystemdNotifier.from_env({})
    assert not notifier.enabled
    assert not notifier.ready()


def test_a_socket_that_is_gone_is_logged_once_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    assert not notifier.watchdog()
    assert not notifier.watchdog()
    assert len([m for m in caplog.messages if "not sent" in m]) == 1


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "4242"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_interval_is_half_of_watchdog_usec(
    env: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(env, pid=4242) == expected


def test_grouppilot_run_tells_systemd_ready_watchdog_and_stopping(
    tmp_path: Path, listener: tuple[socket.socket, str]
) -> None:
    sock, path = listener
    env = {
        **os.environ,
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "200000",  # ping every 0.1 s
        "GROUPPILOT_STORAGE__PATH": str(tmp_path / "grouppilot.db"),
        "GROUPPILOT_TELEGRAM__TOKEN": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--no-console", "--config", str(EXAMPLE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        received = [sock.recv(4096).decode()]
        assert received[0].startswith("READY=1\nSTATUS=serving: sandbox"), received
        for _ in range(20):  # the watchdog pings while its checks pass (bounded)
            received.append(sock.recv(4096).decode())
            if received[-1] == "WATCHDOG=1":
                break
        assert received[-1] == "WATCHDOG=1"
        process.send_signal(signal.SIGTERM)
        for _ in range(50):
            message = sock.recv(4096).decode()
            if message != "WATCHDOG=1":
                break
        assert message == "STOPPING=1"
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
