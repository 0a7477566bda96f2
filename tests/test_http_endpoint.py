"""The HTTP endpoint itself: liveness and metrics over real HTTP on 127.0.0.1."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.http import HttpEndpoint
from bot.metrics import COMMANDS


async def test_healthz_and_metrics_over_http() -> None:
    endpoint = HttpEndpoint(host="127.0.0.1", port=0)
    await endpoint.start()
    try:
        base = f"http://127.0.0.1:{endpoint.bound_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            health = await http.get("/healthz")
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            before = COMMANDS.labels("help", "ok")._value.get()
            COMMANDS.labels("help", "ok").inc()
            metrics = await http.get("/metrics")
            assert metrics.status_code == 200
            families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
            [sample] = [
                s
                for s in families["grouppilot_commands"].samples
                if s.name == "grouppilot_commands_total"
                and s.labels == {"command": "help", "outcome": "ok"}
            ]
            assert sample.value == before + 1
            assert "process_resident_memory_bytes" in families
            missing = await http.get("/nope")
            assert missing.status_code == 404
    finally:
        await endpoint.stop()
