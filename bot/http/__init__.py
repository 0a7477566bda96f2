"""The optional HTTP endpoint of ``grouppilot run``: webhooks, health and metrics."""

from bot.http.server import HttpEndpoint

__all__ = ["HttpEndpoint"]
