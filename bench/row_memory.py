"""Memory: idle RSS of `grouppilot run --no-console`, and RSS growth per group of a broadcast.

Idle: the real command as a process (config pointing at a sandbox process on
127.0.0.1, no Telegram), VmRSS read from /proc once it has logged that it
started and settled. Broadcast: a child process (`python -m bench.memory_child`)
runs one real broadcast to every group of a sandbox process and reports its
VmRSS before and its peak (VmHWM) after; growth / groups is the figure. The
sandbox caps groups at its MAX_GROUPS (10,000), so the row uses that, not 20,000.
Targets: idle <= 60 MiB, <= 1 KiB per group.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    Options,
    Row,
    absolute,
    grouppilot_command,
    quiet_env,
    rss_kib,
    sandbox_process,
    stop_process,
    sys_path_env,
    write_config,
)

SETTLE = 1.0  # seconds after the start line before reading VmRSS


def idle_rss_mib(url: str, folder: Path) -> float:
    env = quiet_env(GROUPPILOT_CONFIG=str(write_config(folder, url)))
    proc = subprocess.Popen(
        [*grouppilot_command(), "run", "--no-console"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # bounded: the log line or the deadline
            line = proc.stderr.readline()
            if not line or b"started" in line:
                break
        if proc.poll() is not None:
            raise RuntimeError(f"grouppilot run exited with {proc.returncode}")
        time.sleep(SETTLE)
        return rss_kib(proc.pid) / 1024
    finally:
        stop_process(proc)


def broadcast_growth(url: str, groups: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory_child", url],
        env=quiet_env(**sys_path_env()),
        capture_output=True,
        timeout=240,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed: {done.stderr[-500:]!r}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def rows(options: Options) -> list[Row]:
    groups = options.size(10_000, 50)
    idle: list[float] = []
    with sandbox_process(4, 0) as url, tempfile.TemporaryDirectory() as temp:
        for rep in range(options.reps):
            folder = Path(temp) / str(rep)
            folder.mkdir()
            idle.append(idle_rss_mib(url, folder))
    # One broadcast only: it is the slowest thing in the bench, and memory hardly varies.
    with sandbox_process(groups, 0) as url:
        grown = broadcast_growth(url, groups)
    per_group = (grown["peak_kib"] - grown["before_kib"]) / max(grown["sent"], 1)
    return [
        absolute("idle RSS, grouppilot run --no-console", "MiB", idle, target=60.0),
        absolute(
            f"broadcast {groups:,} groups: RSS growth per group",
            "KiB",
            [per_group],
            target=1.0,
            note=(
                f"before {grown['before_kib'] / 1024:.0f} MiB, peak {grown['peak_kib'] / 1024:.0f}"
                f" MiB, {grown['sent']:.0f} sent in {grown['seconds']:.1f} s; the sandbox caps"
                " groups at 10,000 (MAX_GROUPS), so not 20,000"
            ),
        ),
    ]
