"""One progress message per key (an ad-hoc run), edited in place: `bot.notify.Notifier.progress`.

The first update of a key sends a message to the chat and remembers its id;
later ones edit it (``editMessageText``), at most every `min_interval`
seconds: an update that comes sooner is dropped, since the next one carries
newer counts anyway. The final text (the run's report) always goes, and
after it the key takes no more updates. An edit Telegram refuses (the
message was deleted, the text is too long for one message) falls back to a
new message. Nothing here raises: what cannot be delivered is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, Message
from telegram.error import BadRequest

from bot.telegram.replies import edit_text, send_text

__all__ = ["PROGRESS_EVERY", "ProgressMessages"]

log = logging.getLogger(__name__)

PROGRESS_EVERY = 3.0  # seconds between two edits of one progress message
_KEPT = 200  # keys remembered; the oldest finished ones are forgotten first


@dataclass
class _Shown:
    message: Message | None = None
    edited_at: float = 0.0
    text: str = ""
    final: bool = False


class ProgressMessages:
    """The progress messages of one bot (event-loop thread only)."""

    def __init__(
        self,
        bot: Callable[[], Bot],
        *,
        min_interval: float = PROGRESS_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self.min_interval = min_interval
        self._clock = clock
        self._shown: dict[tuple[int, str], _Shown] = {}

    async def show(self, chat_id: int, key: str, text: str, *, final: bool) -> None:
        shown = self._shown.setdefault((chat_id, key), _Shown())
        if shown.final or text == shown.text:
            return  # the report is out (nothing overwrites it), or nothing changed
        now = self._clock()
        if shown.message is not None and not final and now - shown.edited_at < self.min_interval:
            return
        shown.text, shown.edited_at, shown.final = text, now, final
        bot = self._bot()
        try:
            if shown.message is None:
                shown.message = await send_text(bot, chat_id, text)
            else:
                try:
                    await edit_text(bot, shown.message, text)
                except BadRequest as exc:
                    log.info("progress message %s not edited (%s): sent anew", key, exc.message)
                    shown.message = await send_text(bot, chat_id, text)
        except Exception as exc:
            log.warning("cannot post the progress of %s in chat %s (%s)", key, chat_id, exc)
        self._forget_old()

    def _forget_old(self) -> None:
        if len(self._shown) <= _KEPT:
            return
        for key in [k for k, shown in self._shown.items() if shown.final][
            : len(self._shown) - _KEPT
        ]:
            del self._shown[key]
