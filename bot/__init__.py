"""grouppilot: chat-ops bot for WhatsApp groups."""

__version__ = "0.1.0"
