"""Demo message templates of the sandbox and the provider's variable checks.

A template's variables are its `{{placeholder}}`s in the body and the
buttons, in order of first appearance, each once. A send with `templateId`
must give every variable a non-blank string and nothing else; the checks run
in the order the provider documents (see docs/sandbox.md, "Templates").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from bot.sandbox.errors import ApiError

_PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


@dataclass(frozen=True)
class Button:
    """A template button; `url` only for URL buttons."""

    type: str
    text: str
    url: str | None = None


@dataclass(frozen=True)
class Template:
    """One message template as the provider describes it."""

    id: str
    body: str
    buttons: tuple[Button, ...] = ()
    meta_status: str = "APPROVED"
    category: str = "MARKETING"
    language: str = "pt_BR"

    @property
    def sendable(self) -> bool:
        """Only approved templates can be sent."""
        return self.meta_status == "APPROVED"

    @property
    def variables(self) -> tuple[str, ...]:
        """Every placeholder of body and buttons, in order of first appearance, once."""
        texts = [self.body]
        for button in self.buttons:
            texts.append(button.text)
            if button.url is not None:
                texts.append(button.url)
        found: dict[str, None] = {}
        for text in texts:
            for name in _PLACEHOLDER.findall(text):
                found.setdefault(name, None)
        return tuple(found)

    def summary(self) -> dict[str, Any]:
        """The entry of `GET /v1/templates` (no variables: clients read each template)."""
        return {
            "id": self.id,
            "name": self.id,
            "sendable": self.sendable,
            "metaStatus": self.meta_status,
            "category": self.category,
            "language": self.language,
        }

    def detail(self) -> dict[str, Any]:
        """The answer of `GET /v1/templates/{id}`."""
        buttons: list[dict[str, str]] = []
        for button in self.buttons:
            shape = {"type": button.type, "text": button.text}
            if button.url is not None:
                shape["url"] = button.url
            buttons.append(shape)
        return {
            **self.summary(),
            "body": self.body,
            "buttons": buttons,
            "variables": list(self.variables),
        }


DEMO_TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        "boas_vindas",
        "Olá {{nome}}! Bem-vindo ao grupo {{grupo}}.",
        (Button("URL", "Ver oferta {{cupom}}", "https://example.com/oferta/{{cupom}}"),),
    ),
    Template("lembrete", "Lembrete: reunião hoje às 15h.", category="UTILITY"),
    Template("promo_rejeitada", "Promo {{codigo}}", meta_status="REJECTED"),
)
TEMPLATES: Final[dict[str, Template]] = {t.id: t for t in DEMO_TEMPLATES}


def find_template(template_id: str) -> Template:
    """The template with that id, or 404 TEMPLATE_NOT_FOUND."""
    template = TEMPLATES.get(template_id)
    if template is None:
        raise ApiError(404, "TEMPLATE_NOT_FOUND", f"Template {template_id} not found")
    return template


def checked_variables(template_id: Any, variables: Any) -> tuple[Template, dict[str, str]]:
    """The template and its variables, checked as the provider does, or ApiError."""
    if not isinstance(template_id, str) or not template_id.strip():
        raise ApiError(400, "VALIDATION_ERROR", "templateId must be a non-empty string")
    template = find_template(template_id)
    if not template.sendable:
        raise ApiError(
            400,
            "TEMPLATE_NOT_SENDABLE",
            f"Template {template.id} is not sendable (status {template.meta_status})",
        )
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise ApiError(400, "VALIDATION_ERROR", "variables must be an object of strings")
    for name in template.variables:
        value = variables.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ApiError(
                400, "TEMPLATE_VARIABLE_MISSING", f"Template variable {name!r} is missing or empty"
            )
    for name in variables:
        if name not in template.variables:
            raise ApiError(
                400,
                "TEMPLATE_VARIABLE_UNKNOWN",
                f"Template {template.id} has no variable {name!r}",
            )
    for name, value in variables.items():
        if not isinstance(value, str):
            raise ApiError(400, "VALIDATION_ERROR", f"variable {name!r} must be a string")
    return template, dict(variables)
