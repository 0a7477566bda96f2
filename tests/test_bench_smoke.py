"""The benchmark harness runs end to end with tiny sizes (`--quick`): no timings asserted.

Proves `python -m bench` still builds every row against today's code (the
sandbox process, the fake Bot API, the real scheduler and store) and writes
its results file with a verdict per row.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.__main__ import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def test_quick_run_writes_every_row(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--reps", "1", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["failed"] == {}
    names = " ".join(row["name"] for row in results["rows"])
    for expected in (
        "broadcast",
        "/job",
        "/jobs",
        "/log",
        "lateness",
        "exec",
        "Telegram",
        "API calls per /promote",
        "idle RSS",
        "RSS growth",
    ):
        assert expected in names
    assert all(row["verdict"] for row in results["rows"])
