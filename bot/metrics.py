"""What grouppilot counts, for ``GET /metrics`` (Prometheus text format).

Every metric lives in one :data:`REGISTRY` (not prometheus-client's global
one, so nothing a library registers leaks in), with the process metrics
(memory, CPU, open files) alongside. The parts of the bot count where things
happen: the command layer, the API client and its gate, the ledger, the job
runs, the Telegram intake and the webhook receiver. Label values are
bounded: command names come from the catalog (anything else is "unknown"),
operations from the client, outcomes and codes from small sets (an API code
is kept only when it looks like one).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)

__all__ = [
    "API_REQUESTS",
    "API_RETRIES",
    "COMMANDS",
    "DELIVERIES",
    "JOB_RUNS",
    "LEDGER_PENDING",
    "RATE_CAP_WAIT",
    "RATE_LIMITED",
    "RATE_LIMITED_WAIT",
    "REGISTRY",
    "TELEGRAM_UPDATES",
    "WEBHOOKS",
    "code_label",
    "exposition",
    "watch_ledger",
]

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

COMMANDS = Counter(
    "grouppilot_commands", "Commands by name and outcome", ["command", "outcome"], registry=REGISTRY
)
API_REQUESTS = Counter(
    "grouppilot_api_requests",
    "WhatsApp API requests by operation and HTTP status (0: no answer)",
    ["operation", "status"],
    registry=REGISTRY,
)
API_RETRIES = Counter(
    "grouppilot_api_retries", "API requests retried, by operation", ["operation"], registry=REGISTRY
)
RATE_LIMITED = Counter(
    "grouppilot_api_rate_limited",
    "429 answers from the API, by operation",
    ["operation"],
    registry=REGISTRY,
)
RATE_LIMITED_WAIT = Counter(
    "grouppilot_api_rate_limited_wait_seconds",
    "Seconds waited after 429 answers",
    registry=REGISTRY,
)
RATE_CAP_WAIT = Counter(
    "grouppilot_rate_cap_wait_seconds",
    "Seconds requests waited for the client's own rate and concurrency caps",
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "grouppilot_deliveries",
    "Broadcast deliveries by outcome (sent, failed, unknown) and API code",
    ["outcome", "code"],
    registry=REGISTRY,
)
JOB_RUNS = Counter("grouppilot_job_runs", "Job runs by outcome", ["outcome"], registry=REGISTRY)
LEDGER_PENDING = Gauge(
    "grouppilot_ledger_pending", "Ledger rows still pending or sending", registry=REGISTRY
)
TELEGRAM_UPDATES = Counter(
    "grouppilot_telegram_updates", "Telegram updates handled", ["kind"], registry=REGISTRY
)
WEBHOOKS = Counter(
    "grouppilot_webhooks",
    "Provider webhooks by event and outcome",
    ["event", "outcome"],
    registry=REGISTRY,
)

_CODE = re.compile(r"^[A-Z0-9_]{1,64}$")


def code_label(code: str) -> str:
    """An API code as a label value: kept when it looks like one, else "OTHER"."""
    return code if _CODE.fullmatch(code) else ("" if not code else "OTHER")


def watch_ledger(count: Callable[[], int]) -> Callable[[], None]:
    """Read the ledger's pending rows with `count` at each scrape; returns the undo.

    The scrape runs in the event loop's thread (the endpoint lives there), the
    thread that owns the store's SQLite connection. A count that fails (the
    database is gone) shows as NaN rather than failing the whole scrape.
    """

    def read() -> float:
        try:
            return float(count())
        except Exception as exc:
            log.debug("ledger_pending: cannot count the ledger (%s)", exc)
            return math.nan

    LEDGER_PENDING.set_function(read)
    return lambda: LEDGER_PENDING.set_function(lambda: math.nan)


def exposition() -> tuple[bytes, str]:
    """The body and content type of ``GET /metrics``."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
