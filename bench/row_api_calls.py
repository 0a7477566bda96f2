"""API calls per command, counted in the sandbox's request log.

The real command layer over the in-process sandbox; the group list is
warmed first (``/groups``), as it is in a running bot, so names are known.
Each command runs once per repetition on a fresh sandbox (confirmation
pressed where asked). Targets: /promote 2, /demote 2, /add 3.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.harness import Options, Row, absolute

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
MEMBER = "5511933334444"  # a regular member of Sales Team in the demo sandbox
NEW = "5511955551234"  # nobody yet
CASES = (
    ("/promote", f"/promote sales {MEMBER}", 2),
    ("/demote", f"/demote sales {MEMBER}", 2),
    ("/add", f"/add sales {NEW}", 3),
)


async def count_calls(folder: Path) -> dict[str, int]:
    from bot.commands.types import Pending, Principal, Rights
    from bot.config import load_config
    from bot.runtime import build_parts, client_from_settings
    from bot.sandbox import Sandbox
    from bot.store import Store

    settings = load_config(EXAMPLE).model_copy(deep=True)
    settings.storage.path = folder / "calls.db"
    sandbox = Sandbox()
    admin = Principal(chat="bench", who="user:1", rights=Rights.ADMIN)
    counts: dict[str, int] = {}
    async with client_from_settings(settings.pilot, sandbox=sandbox) as client:
        with Store(settings.storage.path) as store:
            parts = build_parts(settings, client=client, store=store)
            await parts.commands.execute("/groups", admin)
            for name, text, _target in CASES:
                before = len(sandbox.requests)
                outcome = await parts.commands.execute(text, admin)
                if isinstance(outcome, Pending):
                    outcome = await parts.commands.confirm(outcome.token, admin)
                counts[name] = len(sandbox.requests) - before
    return counts


def rows(options: Options) -> list[Row]:
    samples: dict[str, list[float]] = {name: [] for name, _, _ in CASES}
    for _ in range(options.reps):
        with tempfile.TemporaryDirectory() as temp:
            for name, count in asyncio.run(count_calls(Path(temp))).items():
                samples[name].append(count)
    return [
        absolute(f"API calls per {name}", "calls", samples[name], target=target)
        for name, _, target in CASES
    ]
