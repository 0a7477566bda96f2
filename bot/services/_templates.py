"""Template sends checked before anything is sent.

A template's ``{{variables}}`` are validated by the provider on each send, one
group at a time: a wrong name would fail every group of a broadcast, one by
one. So :func:`checked_template` reads the template once, before the first
send, and refuses the whole command or run (nothing sent) when it is not
sendable or the variables do not match: a missing, unknown or empty one.
``/send … template``, broadcast jobs and ``/run`` all go through it.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.services._refusal import Refusal
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.models import Template

__all__ = ["TemplateRefused", "checked_template", "variables_problem"]


class TemplateRefused(Refusal, ValueError):
    """A template send refused before any send: ``str()`` names what is wrong."""


def variables_problem(template: Template, variables: Mapping[str, str]) -> str | None:
    """The sentence saying why ``variables`` cannot fill ``template`` (None: they can)."""
    label = template.label
    if not template.sendable:
        return (
            f"Template {label} is {template.why_not_sendable}: nothing was sent. "
            "Choose a sendable one (/templates)."
        )
    names = template.variable_names
    missing = [name for name in names if name not in variables]
    unknown = [name for name in variables if name not in names]
    empty = [name for name in names if name in variables and not variables[name].strip()]
    problems: list[str] = []
    if missing:
        problems.append(f"missing {_listed(missing)}")
    if unknown:
        problems.append(f"unknown {_listed(unknown)}")
    if empty:
        problems.append(f"empty {_listed(empty)}")
    if not problems:
        return None
    wanted = ", ".join(names) if names else "none"
    return f"Template {label}: {'; '.join(problems)} (its variables: {wanted}). Nothing was sent."


async def checked_template(
    client: WhatsAppClient, template_id: str, variables: Mapping[str, str]
) -> Template:
    """Read ``template_id`` once and check ``variables`` against it.

    Raises :class:`TemplateRefused` with one sentence when the template is not
    sendable or a variable is missing, unknown or empty; API failures
    (an unknown template: ``NotFound``) propagate as ``PilotError``.
    """
    template = await client.get_template(template_id)
    problem = variables_problem(template, variables)
    if problem is not None:
        raise TemplateRefused(problem)
    return template


def _listed(names: list[str]) -> str:
    word = "variable" if len(names) == 1 else "variables"
    return f"{word} {', '.join(names)}"
