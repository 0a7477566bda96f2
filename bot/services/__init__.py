"""Shared services that the command layer (`bot.commands`) and the jobs (`jobs`) stand on.

Nothing here imports either of them. What lives here:

- group lookup: :class:`GroupDirectory` turns the words admins type
  (`<group>`, `<target>`) into :class:`GroupRef`\\ s, or raises
  :class:`ResolveError`;
- failure wording: :func:`explain` gives the one sentence (with its stable
  code) for every WhatsApp API failure;
- refusals: :class:`Refusal`, the base of every "no" a user can get (its
  tree is drawn in ``bot/services/_refusal.py``);
- time: :func:`utc_now`, and moments as stored text (:func:`utc_text`,
  :func:`from_utc_text`);
- :func:`did_you_mean` for mistyped names;
- :class:`ConnectionState`: whether the number is connected, reported by the
  webhooks and the probe, each change announced once;
- template sends: :func:`checked_template` reads a template once and refuses
  wrong variables before anything is sent.

The modules are private; import the names from ``bot.services``.
"""

from bot.services._connection import ConnectionChange, ConnectionState
from bot.services._directory import (
    ALL,
    GroupDirectory,
    GroupRef,
    ResolveError,
    group_id_in,
)
from bot.services._refusal import Refusal
from bot.services._suggest import did_you_mean
from bot.services._templates import TemplateRefused, checked_template, variables_problem
from bot.services._time import from_utc_text, utc_now, utc_text
from bot.services._wording import explain, explain_unconfirmed_reset

__all__ = [
    "ALL",
    "ConnectionChange",
    "ConnectionState",
    "GroupDirectory",
    "GroupRef",
    "Refusal",
    "ResolveError",
    "TemplateRefused",
    "checked_template",
    "did_you_mean",
    "explain",
    "explain_unconfirmed_reset",
    "from_utc_text",
    "group_id_in",
    "utc_now",
    "utc_text",
    "variables_problem",
]
