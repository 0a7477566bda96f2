"""The command layer shared by every front end (docs/commands.md).

Front ends (Telegram, the console, ``grouppilot exec``) hand typed text and a
`Principal` to `CommandLayer.execute` and get back a `Reply` or, for a command
that needs confirmation, a `Pending` to settle with `confirm` / `cancel`. The
layer knows nothing of Telegram. `CommandOptions` are the configured values
the commands read; `bot.runtime` builds both.
"""

from bot.commands.context import Attachment, CommandOptions
from bot.commands.layer import CommandLayer
from bot.commands.types import Outcome, Pending, Principal, Reply, Rights

__all__ = [
    "Attachment",
    "CommandLayer",
    "CommandOptions",
    "Outcome",
    "Pending",
    "Principal",
    "Reply",
    "Rights",
]
