"""The vocabulary shared by the command layer and every front end.

A front end (console, `exec`, Telegram, the scheduler) turns whoever is typing
into a `Principal` with `Rights`, hands the text to `CommandLayer.execute`, and
shows the `Outcome`: a final `Reply`, or a `Pending` action that it must have
confirmed or cancelled (buttons in Telegram, `Confirm? [y/N]` on a terminal).
The layer itself knows nothing of Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Rights(IntEnum):
    """What a principal may do; higher includes lower. Deny by default."""

    NONE = 0
    VIEWER = 1
    ADMIN = 2


@dataclass(frozen=True)
class Principal:
    """Who is asking, from where, with which rights.

    `chat` names where the command came from (`console`, `exec`,
    `telegram:-100123…`); `who` names the person or, for a channel post, the
    channel and its author signature. Both go to the audit log as given.
    """

    chat: str
    who: str
    rights: Rights

    @classmethod
    def local_operator(cls, chat: str = "console") -> Principal:
        """The person at the machine's terminal: full rights."""
        return cls(chat=chat, who="local operator", rights=Rights.ADMIN)


@dataclass(frozen=True)
class Reply:
    """A final answer. `ok` is False when the command failed or was refused.

    `silent` means: say nothing at all (a stranger's attempt, a command
    addressed to another bot). The front end sends no message.
    """

    text: str
    ok: bool = True
    silent: bool = False

    @classmethod
    def failed(cls, text: str) -> Reply:
        return cls(text, ok=False)

    @classmethod
    def nothing(cls) -> Reply:
        return cls("", ok=False, silent=True)


@dataclass(frozen=True)
class Pending:
    """A command waiting for Confirm or Cancel (one-shot, expires).

    `question` already contains what the command will do and any facts read
    before asking (e.g. the current invite link); nothing has changed yet.
    """

    token: str
    question: str
    command: str


Outcome = Reply | Pending
