"""Commands while the database refuses writes: one clear sentence, never "Internal error".

Real command layer and scheduler over a real SQLite file, made read-only
with SQLite's own mechanism (see `StorageFault`).
"""

from __future__ import annotations

import pytest
from conftest import ADMIN
from scheduler_kit import HarnessFactory, StorageFault, broadcast

from bot.commands.types import Pending, Reply


@pytest.mark.parametrize(
    "command",
    [
        "/pause morning holiday",
        "/schedule promo every 1h send sales Hi",
        "/alias launch sales",
    ],
)
async def test_a_command_the_database_refuses_says_so_in_one_sentence(
    make_harness: HarnessFactory, command: str
) -> None:
    harness = await make_harness([broadcast(targets=["sales"], text="x")]).start()
    StorageFault(harness.store.db).read_only()  # every write refused
    reply = await harness.layer.execute(command, ADMIN)
    if isinstance(reply, Pending):  # /schedule asks first: the write comes on Confirm
        reply = await harness.layer.confirm(reply.token, ADMIN)
    assert isinstance(reply, Reply)
    assert not reply.ok
    assert "Internal error" not in reply.text
    assert reply.text.startswith("The bot's database failed (")
    assert "check (/jobs, /log) before repeating it" in reply.text
    assert "\n" not in reply.text
