"""Keep the bot token out of every log line, traceback and message.

The token is part of every Bot API URL, python-telegram-bot puts it in
``repr(bot)`` and in the text of `InvalidToken`, and httpx logs request URLs
at INFO. Three layers keep it out of sight:

- the ``httpx`` logger is set to WARNING (`quiet_http_logs`);
- `protect(token)` installs (once) a log record factory that rewrites any
  record whose message or traceback contains a protected token, whatever
  logger or handler it goes through;
- `redact(text)` cleans any text we build from a library's error before it
  is printed or sent.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["MASK", "protect", "quiet_http_logs", "redact"]

MASK = "<bot-token>"

_tokens: set[str] = set()
_installed = False
_formatter = logging.Formatter()


def redact(text: str) -> str:
    """`text` with every protected token (and its secret half) replaced by `MASK`."""
    for token in sorted(_tokens, key=len, reverse=True):
        text = text.replace(token, MASK)
        _, _, secret = token.partition(":")
        if len(secret) >= 8:
            text = text.replace(secret, MASK)
    return text


def _contains_secret(text: str) -> bool:
    return redact(text) != text


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler to report
        return
    if _contains_secret(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        text = _formatter.formatException(record.exc_info)
        if _contains_secret(text):
            record.exc_text = redact(text)  # formatters use exc_text when it is set


def _install() -> None:
    global _installed
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        if _tokens:
            _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def protect(token: str) -> None:
    """Redact `token` from every log record from now on (for the life of the process)."""
    if token:
        _tokens.add(token)
        _install()


def quiet_http_logs() -> None:
    """httpx logs each request URL at INFO; a Bot API URL contains the token."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET included: never inherit INFO from root
            logger.setLevel(logging.WARNING)
