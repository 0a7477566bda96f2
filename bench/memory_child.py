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
import tempfile
import time
from pathlib import Path

from bench.harness import rss_kib, write_config
from bench.row_broadcast import JOB


async def main(url: str) -> dict[str, float]:
    from bot.config import load_config
    from bot.runtime import build_parts, client_from_settings
    from bot.store import Store

    with tempfile.TemporaryDirectory() as folder:
        settings = load_config(write_config(Path(folder), url, extra=JOB))
        async with client_from_settings(settings.pilot) as client:
            with Store(settings.storage.path) as store:
                parts = build_parts(settings, client=client, store=store)
                await parts.scheduler.start()
                try:
                    await parts.directory.groups(fresh=True)
                    before = rss_kib(os.getpid())
                    began = time.perf_counter()
                    submission = parts.scheduler.run_now("blast", by="bench")
                    assert submission.task is not None
                    run = await asyncio.wait_for(submission.task, timeout=200)
                    seconds = time.perf_counter() - began
                finally:
                    await parts.scheduler.stop()
        peak = rss_kib(os.getpid(), "VmHWM")
    return {"before_kib": before, "peak_kib": peak, "sent": run.sent, "seconds": seconds}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
