"""At start, before polling: settle what the update journal kept from the last run.

- Updates whose command had started and never finished (the process was
  killed or crashed mid-command) are never run again: their chat is told the
  command may have been partly done (only chats that may hear errors: admin
  chats and listed people), and the row is closed.
- Updates fetched but never started (queued behind others at a stop, or
  fetched just before a crash) are put back on the Application's queue in
  update order, before polling starts, so they run first and each once: a
  command marks its row ``taken`` before it touches anything. A command that
  would change something and is by now older than the command layer's
  ``max_command_age`` is answered "not run" instead of run late.
- With ``drop_pending_updates = true`` they are dropped instead, as Telegram
  drops the updates it still holds.
"""

from __future__ import annotations

import asyncio
import json
import logging

from telegram import Bot, Message, Update
from telegram.error import TelegramError

from bot.commands.layer import CommandLayer
from bot.telegram.intake import JournalingQueue
from bot.telegram.journal import JournalEntry, UpdateJournal
from bot.telegram.principals import RightsPolicy
from bot.telegram.replies import send_text

__all__ = ["recover"]

log = logging.getLogger(__name__)

_A_CONFIRMED_COMMAND = "a confirmed command"


async def recover(
    journal: UpdateJournal,
    queue: JournalingQueue,
    bot: Bot,
    commands: CommandLayer,
    rights: RightsPolicy,
    *,
    drop: bool,
    notice_timeout: float,
) -> None:
    """Tell the cut-off commands, then replay (or drop) the waiting ones, oldest first."""
    journal.prune()
    for entry in journal.cut_off():
        update = _decode(entry, bot)
        if update is not None:
            await _tell_cut_off(update, commands, rights, notice_timeout)
        journal.finish(entry.update_id)
    waiting = journal.waiting()
    if not waiting:
        return
    if drop:
        for entry in waiting:
            journal.finish(entry.update_id)
        log.info("dropped %d Telegram updates kept from before the restart", len(waiting))
        return
    log.info("replaying %d Telegram updates kept from before the restart", len(waiting))
    for entry in waiting:
        update = _decode(entry, bot)
        if update is None:
            journal.finish(entry.update_id)
            continue
        await queue.put_journaled(update)


def _decode(entry: JournalEntry, bot: Bot) -> Update | None:
    try:
        return Update.de_json(json.loads(entry.payload), bot)
    except Exception:  # written by an older or broken version: never worth a crash
        log.exception("journaled Telegram update %s is unreadable: skipped", entry.update_id)
        return None


async def _tell_cut_off(
    update: Update, commands: CommandLayer, rights: RightsPolicy, notice_timeout: float
) -> None:
    if not rights.may_hear_errors(update.effective_chat, update.effective_user):
        return
    query = update.callback_query
    if query is not None:
        about = query.message if isinstance(query.message, Message) else None
        text = commands.interrupted_text(_A_CONFIRMED_COMMAND, changes=True)
    else:
        about = update.effective_message
        text = commands.interrupted_text(about.text or "" if about else "")
    if about is None:
        return
    log.warning(
        "update %s was cut off by a crash: telling chat %s", update.update_id, about.chat_id
    )
    try:
        async with asyncio.timeout(notice_timeout):
            await send_text(update.get_bot(), about.chat_id, text, reply_to=about.message_id)
    except (TelegramError, TimeoutError) as exc:
        log.warning("could not tell chat %s that a command was cut off (%s)", about.chat_id, exc)
