"""`grouppilot exec "/groups"` as a process vs `python -c "import httpx"`.

Both are fresh interpreters started the same way (the venv's Python, the
installed `grouppilot` script); the command talks HTTP to a sandbox process
on 127.0.0.1 with a storage file of its own. Paired per repetition; the
target is <= 2.5x the import floor.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    Options,
    Row,
    grouppilot_command,
    paired,
    quiet_env,
    sandbox_process,
    write_config,
)


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, timeout=60, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{command[-1]!r} exited {done.returncode}: {done.stderr[-300:]!r}")
    return elapsed


def rows(options: Options) -> list[Row]:
    ours: list[float] = []
    floor: list[float] = []
    with sandbox_process(4, 0) as url, tempfile.TemporaryDirectory() as temp:
        env = quiet_env(GROUPPILOT_CONFIG=str(write_config(Path(temp), url)))
        timed([*grouppilot_command(), "exec", "/groups"], env)  # warm the page cache
        for _ in range(options.reps):
            ours.append(timed([*grouppilot_command(), "exec", "/groups"], env))
            floor.append(timed([sys.executable, "-c", "import httpx"], env))
    return [
        paired(
            'exec "/groups" as a process',
            "s",
            ours,
            floor,
            target=2.5,
            floor_name="import httpx",
        )
    ]
