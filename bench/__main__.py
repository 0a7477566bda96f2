"""`uv run python -m bench [--reps 3] [--quick] [--only NAME ...]`: every row, one table.

Runs each row module in turn (each cleans up its own servers), prints the
machine and one table with the target and verdict per row, and writes
``bench/results.json`` (or ``--out``). A row that fails is reported as such
and the others still run; the exit status is 1 if any row failed to run
(a missed target is a result, not a failure).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    row_api_calls,
    row_broadcast,
    row_exec,
    row_history,
    row_memory,
    row_scheduler,
    row_telegram,
)
from bench.harness import Options, Row, machine

ROWS: dict[str, Callable[[Options], list[Row]]] = {
    "broadcast": row_broadcast.rows,
    "history": row_history.rows,
    "scheduler": row_scheduler.rows,
    "exec": row_exec.rows,
    "telegram": row_telegram.rows,
    "api-calls": row_api_calls.rows,
    "memory": row_memory.rows,
}
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def table(rows: list[Row]) -> str:
    header = ("measure", "grouppilot", "floor", "ratio (spread)", "target", "verdict")
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        unit = f" {row.unit}" if row.unit else ""
        floor = f"{row.floor_name} {number(row.floor)}{unit}" if row.floor_name else "-"
        if row.ratio is not None and row.spread is not None:
            ratio = f"{row.ratio:.2f} ({row.spread[0]:.2f}-{row.spread[1]:.2f})"
        elif row.spread is not None:
            ratio = f"- ({number(row.spread[0])}-{number(row.spread[1])}{unit})"
        else:
            ratio = "-"
        target = f"<= {row.target:g}" + ("x" if row.compared == "ratio" else unit)
        lines.append((row.name, f"{number(row.value)}{unit}", floor, ratio, target, row.verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
        if index == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="paired repetitions per row (1-10)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves it runs")
    parser.add_argument("--only", nargs="+", choices=sorted(ROWS), help="run only these rows")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON file")
    args = parser.parse_args(argv)
    options = Options(reps=max(1, min(args.reps, 10)), quick=args.quick)
    about = machine()
    print(
        f"machine: {about['cpu']}, {about['cores']} cores, Python {about['python']}; "
        f"{options.reps} paired repetitions{' (quick sizes)' if options.quick else ''}",
        flush=True,
    )
    results: list[Row] = []
    failed: dict[str, str] = {}
    began = time.perf_counter()
    for name in args.only or list(ROWS):
        started = time.perf_counter()
        try:
            results.extend(ROWS[name](options))
        except Exception as exc:
            traceback.print_exc()
            failed[name] = f"{type(exc).__name__}: {exc}"
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - began
    print()
    print(table(results))
    for name, reason in failed.items():
        print(f"row {name} did not run: {reason}")
    for row in results:
        if row.note:
            print(f"  {row.name}: {row.note}")
    print(f"\ntotal {total:.0f} s; results in {args.out}")
    args.out.write_text(
        json.dumps(
            {
                "machine": about,
                "reps": options.reps,
                "quick": options.quick,
                "seconds": round(total, 1),
                "rows": [row.as_json() for row in results],
                "failed": failed,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
