"""What the rows share: options, results with verdicts, subprocess servers, the machine.

A row measures grouppilot and its floor in the same repetition ("paired"),
so the ratio of each repetition compares like with like; the table shows the
median over repetitions and the spread (lowest..highest). Every server the
bench starts listens on 127.0.0.1 only and is stopped in a ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Options:
    """How much each row does: full size, or tiny (`--quick`, for the smoke test)."""

    reps: int = 3
    quick: bool = False

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass
class Row:
    """One line of the table.

    `value` and `floor` are medians over repetitions; `ratio` is the median of
    the per-repetition ratios (paired), `spread` its lowest and highest.
    `target` is the bound on `compared` ("ratio" or "value"); `higher_is_worse`
    is always true here: every target is an upper bound.
    """

    name: str
    unit: str
    value: float
    target: float
    compared: str = "value"  # "value" or "ratio"
    floor: float | None = None
    floor_name: str = ""
    ratio: float | None = None
    spread: tuple[float, float] | None = None
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def measured(self) -> float:
        if self.compared == "ratio":
            assert self.ratio is not None
            return self.ratio
        return self.value

    @property
    def met(self) -> bool:
        return self.measured <= self.target

    @property
    def verdict(self) -> str:
        if self.met:
            return "met"
        over = self.measured - self.target
        suffix = "x" if self.compared == "ratio" else f" {self.unit}"
        return f"missed by {over:.3g}{suffix}"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict
        data["met"] = self.met
        return data


def paired(
    name: str,
    unit: str,
    ours: Sequence[float],
    floors: Sequence[float],
    *,
    target: float,
    floor_name: str,
    note: str = "",
) -> Row:
    """A ratio row from paired samples (ours[i] and floors[i] from the same repetition)."""
    ratios = [a / b if b > 0 else float("inf") for a, b in zip(ours, floors, strict=True)]
    return Row(
        name=name,
        unit=unit,
        value=statistics.median(ours),
        floor=statistics.median(floors),
        floor_name=floor_name,
        ratio=statistics.median(ratios),
        spread=(min(ratios), max(ratios)),
        samples=list(ours),
        target=target,
        compared="ratio",
        note=note,
    )


def absolute(
    name: str,
    unit: str,
    samples: Sequence[float],
    *,
    target: float,
    floor: float | None = None,
    floor_name: str = "",
    note: str = "",
) -> Row:
    """A row compared with an absolute target (the floor, if any, only shown beside it)."""
    return Row(
        name=name,
        unit=unit,
        value=statistics.median(samples),
        spread=(min(samples), max(samples)),
        samples=list(samples),
        target=target,
        floor=floor,
        floor_name=floor_name,
        note=note,
    )


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 of 500 starts is the 495th)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    """CPU model, cores, Python: printed above the table and kept in results.json."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def grouppilot_command() -> list[str]:
    """The installed `grouppilot` script, as a user runs it."""
    script = VENV_BIN / "grouppilot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def quiet_env(**extra: str) -> dict[str, str]:
    """This environment without GROUPPILOT_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GROUPPILOT_")}
    return {**env, **extra}


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {HOST}:{port} after {timeout:g} s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` (bounded)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


@contextlib.contextmanager
def sandbox_process(groups: int, latency_ms: float) -> Iterator[str]:
    """`grouppilot sandbox` as its own process on a free 127.0.0.1 port; yields its URL."""
    port = free_port()
    command = [
        *grouppilot_command(),
        "sandbox",
        "--host",
        HOST,
        "--port",
        str(port),
        "--groups",
        str(groups),
        "--latency-ms",
        f"{latency_ms:g}",
    ]
    proc = subprocess.Popen(
        command, env=quiet_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(port, proc)
        yield f"http://{HOST}:{port}"
    finally:
        stop_process(proc)


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A /proc/<pid>/status memory field in KiB (VmRSS now, VmHWM the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/{pid}/status")


def write_config(folder: Path, base_url: str, *, extra: str = "", concurrency: int = 16) -> Path:
    """A minimal grouppilot config: the API at `base_url`, no rate cap, storage in `folder`."""
    config = folder / "bench.toml"
    config.write_text(
        "[pilot]\n"
        f'base_url = "{base_url}"\napi_key = "bench"\nmax_rps = 1000\n'
        f"concurrency = {concurrency}\n"
        f'[storage]\npath = "{folder / "bench.db"}"\n' + extra,
        encoding="utf-8",
    )
    return config


def sys_path_env() -> dict[str, str]:
    """PYTHONPATH so that child processes import this checkout's bench and bot."""
    root = str(Path(__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": root + (os.pathsep + existing if existing else "")}
