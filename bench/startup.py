"""Wall time of ``grouppilot exec "/groups"`` as a process, against ``import httpx``.

    uv run python bench/startup.py [--runs 10] [--config config.example.toml]
                                   [--module bot.config ...]

Runs the commands in turn, ``--runs`` times, each as a fresh ``python`` process (this
interpreter, this environment, one warm-up run first; bytecode cached as in
an installed bot unless ``--no-bytecode``) and prints the median and spread
of the wall time: ``python -m bot.cli exec --config CONFIG /groups`` (the example config
talks to the in-process sandbox: nothing leaves the machine), the floor
``python -c "import httpx"``, and the bare interpreter. ``--module`` adds
``python -c "import MODULE"`` rows, to see what an import costs. The target
is exec <= 2.5x the httpx floor. Bounded: at most 50 runs of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 2.5


def bytecode_env(cache: str) -> dict[str, str]:
    """The environment with bytecode caching on, cached in ``cache`` (not in the tree).

    ``PYTHONDONTWRITEBYTECODE`` makes every process compile every module from
    source, which is not what an installed bot does and swamps the import times.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def timed(commands: list[list[str]], runs: int, env: dict[str, str]) -> list[list[float]]:
    """Wall times of each command, run in turn ``runs`` times (paired: same load for each)."""
    for command in commands:  # warm-up (and bytecode written)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60, env=env)
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for command, series in zip(commands, times, strict=True):
            began = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60, env=env)
            series.append(time.perf_counter() - began)
    return times


def show(label: str, times: list[float], floor: float | None = None) -> float:
    median = statistics.median(times)
    ratio = f"  {median / floor:4.2f}x httpx" if floor else ""
    print(
        f"{label:<34} median {median * 1000:7.1f} ms"
        f"  (min {min(times) * 1000:6.1f}, max {max(times) * 1000:6.1f}){ratio}"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--config", default="config.example.toml")
    parser.add_argument("--module", action="append", default=[], help="also time this import")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE as set: every process compiles from source",
    )
    args = parser.parse_args()
    runs = min(max(args.runs, 1), 50)
    python = sys.executable
    exec_command = [python, "-m", "bot.cli", "exec", "--config", args.config, "/groups"]
    mode = "as the environment says" if args.no_bytecode else "cached"
    print(f"{runs} runs each after one warm-up, bytecode {mode}, {python}")
    with tempfile.TemporaryDirectory(prefix="gp-pycache-") as cache:
        env = dict(os.environ) if args.no_bytecode else bytecode_env(cache)
        commands = [
            [python, "-c", "pass"],
            [python, "-c", "import httpx"],
            exec_command,
            *([python, "-c", f"import {module}"] for module in args.module),
        ]
        bare, httpx_times, exec_times, *modules = timed(commands, runs, env)
    show("python -c pass", bare)
    floor = show("python -c 'import httpx'", httpx_times)
    for module, series in zip(args.module, modules, strict=True):
        show(f"import {module}", series, floor)
    show('exec "/groups"', exec_times, floor)
    ratio = statistics.median(e / h for e, h in zip(exec_times, httpx_times, strict=True))
    verdict = "met" if ratio <= TARGET else "missed"
    print(
        f"target exec <= {TARGET}x import httpx: {verdict} ({ratio:.2f}x, median of paired ratios)"
    )


if __name__ == "__main__":
    main()
