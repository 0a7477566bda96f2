"""Emulator of the Pilot Status WhatsApp Groups API (see docs/sandbox.md).

- `Sandbox`: in-memory state, fault injection and request statistics.
- `SandboxTransport`: httpx transport answering from a `Sandbox` in process.
- `SandboxServerThread`: the HTTP server in a background thread (tests).
- `serve` / `serve_forever`: the HTTP server in a running loop / blocking (CLI).
"""

from bot.sandbox.server import SandboxServerThread, serve, serve_forever
from bot.sandbox.state import Sandbox
from bot.sandbox.transport import SandboxTransport

__all__ = ["Sandbox", "SandboxServerThread", "SandboxTransport", "serve", "serve_forever"]
