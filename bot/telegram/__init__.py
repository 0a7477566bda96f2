"""The Telegram front end of `grouppilot run` (python-telegram-bot 22.x, polling).

A thin adapter over the command layer (docs/telegram.md):

- `frontend`: `TelegramFrontEnd`, the Application wired in one place, its
  start/stop inside the caller's event loop, and `notify` for job reports;
- `principals`: the rights of docs/telegram.md from a message or a button press;
- `intake`: updates journaled before Telegram counts them as delivered, run
  side by side, and a stop that never waits on a hung API;
- `journal`: the update journal (SQLite): what is still to run after a restart;
- `recovery`: at start, replay what was kept, report what a crash cut off;
- `handlers`: commands, Confirm/Cancel presses, membership changes;
- `errors`: the one error handler (409 Conflict, Forbidden, incidents);
- `replies`: escaped HTML, splitting below 4096 characters, the buttons;
- `redact`: the bot token never reaches a log line or a message.
"""

from bot.telegram.frontend import ALLOWED_UPDATES, TelegramFrontEnd, TelegramStartError

__all__ = ["ALLOWED_UPDATES", "TelegramFrontEnd", "TelegramStartError"]
