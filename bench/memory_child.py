"""Child process of the memory row: one broadcast to every group, RSS before and at peak.

    python -m bench.memory_child URL

Prints one JSON line: before_kib (VmRSS once the scheduler is started and the
group list is read), peak_kib (VmHWM after the run), sent, seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from bench.harness import rss_kib
from bench.row_broadcast import grouppilot_broadcast


async def main(url: str) -> dict[str, float]:
    before: list[int] = []
    seconds, sent = await grouppilot_broadcast(
        url, wait_limit=200, ready=lambda: before.append(rss_kib(os.getpid()))
    )
    peak = rss_kib(os.getpid(), "VmHWM")
    return {"before_kib": before[0], "peak_kib": peak, "sent": sent, "seconds": seconds}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
