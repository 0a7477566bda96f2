"""/log [n] [who=…] [command=…] [group=…] [failed]: the audit log, filtered.

The words come in any order: a count, `key=value` filters and the word
`failed`. The filtering is done by the store in SQL (`AuditFilter`), so
`/log 5 failed` reads five rows however long the history is.

- `who=` a part of who sent it (`user:42`, `console:ana`), any case;
- `command=` a command name, with or without its slash (`add`, `/add`);
  any name is taken, so attempts of a mistyped command can be found too;
- `group=` commands that name the group: the word itself anywhere in the
  command text, and, when the word is a group id or an alias, also that
  id and every alias of it (no API call: a name given by chat is matched
  as typed);
- `failed` anything that did not go well: refused, denied, failed, unknown,
  usage, unparseable, expired, interrupted, not run. Done, confirmed,
  waiting for a yes, and cancelled are not failures.

Times are shown in `scheduler.timezone` with their offset. A failed
entry shows the stored reason after its outcome, on the same line.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.context import Context
from bot.commands.types import Reply
from bot.services import group_id_in
from bot.store import AuditEntry, AuditFilter, command_name
from bot.usertext import ascii_int, excerpt, one_line, shorten

LOG_DEFAULT, LOG_MAX = 10, 100
# Each entry stays one line of under 200 characters: the command is cut to
# LOG_COMMAND_CHARS (the audit log keeps 1,000), or, with a reason after it,
# to LOG_SHORT_COMMAND_CHARS, leaving LOG_REASON_CHARS for the reason (it keeps 500).
LOG_COMMAND_CHARS, LOG_SHORT_COMMAND_CHARS, LOG_REASON_CHARS = 80, 50, 70
LOG_USAGE = "/log [n] [who=…] [command=…] [group=…] [failed], e.g. /log 20 command=add failed"
COUNT_RULE = f"Give a number of entries from 1 to {LOG_MAX}, e.g. /log 20"
_KEYS = ("who", "command", "group")
# The outcome says it all: the stored reply only repeats that the command needs an admin.
_REASON_IN_OUTCOME = {"refused: viewer"}


class _BadFilter(ValueError):
    """One sentence saying which word of /log is wrong."""


async def show_log(ctx: Context, args: list[str]) -> Reply:
    try:
        limit, values, failed = _read_words(args)
    except _BadFilter as exc:
        return Reply.failed(str(exc))
    name = command_name("/" + values["command"].lstrip("/")) if "command" in values else ""
    if "command" in values and name != values["command"].lstrip("/").lower():
        return Reply.failed(
            f"{excerpt(values['command'])} is not a command name: give one like command=add. "
            f"Usage: {LOG_USAGE}"
        )
    where = AuditFilter(
        who=values.get("who", ""),
        name=name,
        text=_group_words(ctx, values["group"]) if "group" in values else (),
        failed=failed,
    )
    entries = ctx.store.recent_audit(limit, where)
    if not entries:
        filtered = where != AuditFilter()
        return Reply("No audit entries match." if filtered else "The audit log is empty.")
    zone = ZoneInfo(ctx.options.timezone)
    return Reply("\n".join(_line(entry, zone) for entry in entries))


def _read_words(args: list[str]) -> tuple[int, dict[str, str], bool]:
    """The count, the `key=value` filters and whether `failed` was given."""
    limit: int | None = None
    values: dict[str, str] = {}
    failed = False
    for word in args:
        key, equals, value = word.partition("=")
        if equals:
            key = key.lower()
            if key not in _KEYS:
                raise _BadFilter(f"{excerpt(key)} is not a /log filter. Usage: {LOG_USAGE}")
            if key in values:
                raise _BadFilter(f"{key}= is given twice. Usage: {LOG_USAGE}")
            if not value.strip():
                raise _BadFilter(f"{key}= needs a value, e.g. {key}={_EXAMPLES[key]}.")
            values[key] = value.strip()
        elif word.lower() == "failed":
            failed = True
        elif _looks_like_a_count(word):
            if limit is not None:
                raise _BadFilter(f"Give one number of entries. Usage: {LOG_USAGE}")
            limit = ascii_int(word)
            if limit is None or not 1 <= limit <= LOG_MAX:
                raise _BadFilter(COUNT_RULE)
        else:
            raise _BadFilter(f"{excerpt(word)} is not a /log filter. Usage: {LOG_USAGE}")
    return (LOG_DEFAULT if limit is None else limit), values, failed


_EXAMPLES = {"who": "user:42", "command": "add", "group": "sales"}


def _looks_like_a_count(word: str) -> bool:
    """A word meant as the count (digits of any script, a sign), even when it is a bad one."""
    return word[:1] in "+-" or any(char.isnumeric() for char in word)


def _group_words(ctx: Context, word: str) -> tuple[str, ...]:
    """The texts that name the group `word`: itself, and its id and aliases when known."""
    group_id = group_id_in(word) or ctx.directory.aliases().get(word.lower())
    if group_id is None:
        return (word,)
    aliases = [name for name, target in ctx.directory.aliases().items() if target == group_id]
    return tuple(dict.fromkeys([word, group_id, *aliases]))


def _line(entry: AuditEntry, zone: ZoneInfo) -> str:
    reason = " ".join(entry.detail.split()) if entry.outcome not in _REASON_IN_OUTCOME else ""
    command = shorten(
        one_line(entry.command), LOG_SHORT_COMMAND_CHARS if reason else LOG_COMMAND_CHARS
    )
    line = f"{_local(entry.at, zone)} {entry.chat} {entry.who}: {command} -> {entry.outcome}"
    if reason:
        line += f": {shorten(one_line(reason), LOG_REASON_CHARS)}"
    return line


def _local(moment: datetime, zone: ZoneInfo) -> str:
    """`2026-11-30 09:00:12 -03:00`: the moment in `zone`, with its offset."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"
