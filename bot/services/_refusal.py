"""The base class of every refusal a user can get, and its family tree.

A refusal is the bot saying no, in one sentence, to something a user asked:
the text of the exception *is* the reply (``str(refusal)``), written for the
person who typed the command. The command layer's guard
(:class:`bot.commands.layer.CommandLayer`) is the one place that turns a
refusal into a failed reply; nothing else catches them to answer.

Failures of the WhatsApp API are not refusals: they are
:class:`bot.whatsapp.errors.PilotError` and get their sentence from
:func:`bot.services.explain`.

::

    Refusal
    ├── ParseError            bot.commands.parsing: a command line that cannot be read
    ├── ResolveError          bot.services: a word that names no group, or several
    ├── TemplateRefused       bot.services: a template that is not sendable, or wrong variables
    ├── JobNotFound           jobs.slots: no job by that name (with "did you mean")
    ├── DefinitionError       jobs.definitions: a job that cannot be stored or run
    └── SchedulerNotRunning   jobs.slots: a change asked of a scheduler this process does not run
        └── StorageRefused    jobs.scheduler: /run refused, the database would not record it

Each subclass also keeps the builtin base it had before (``ValueError``,
``LookupError``, ``RuntimeError``), so code that catches those still does.
"""

from __future__ import annotations


class Refusal(Exception):
    """Something a user asked for is refused; ``str(self)`` is the sentence to show."""
