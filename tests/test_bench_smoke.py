"""The benchmark harness runs end to end with tiny sizes (`--quick`): no timings asserted.

Proves `python -m bench` still builds its in-process rows against today's
code (the real command layer, store and scheduler schema) and writes its
results file with a verdict per row.
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


def test_quick_run_writes_its_rows(tmp_path: Path) -> None:
    # The in-process rows only: the rows that start processes or wait for a
    # scheduled instant take half a minute even at --quick sizes, too long for
    # every test run; `uv run python -m bench --quick` runs them all.
    out = tmp_path / "results.json"
    assert (
        main(["--quick", "--reps", "1", "--only", "history", "api-calls", "--out", str(out)]) == 0
    )
    results = json.loads(out.read_text())
    assert results["failed"] == {}
    names = " ".join(row["name"] for row in results["rows"])
    for expected in ("/job", "/jobs", "/log", "API calls per /promote"):
        assert expected in names
    assert all(row["verdict"] for row in results["rows"])
