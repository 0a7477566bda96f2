"""The sandbox's demo templates and its template variable checks, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.sandbox import Sandbox, SandboxServerThread

SALES = "120363123456789012@g.us"
KEY = {"x-api-key": "ps_test"}
WELCOME_VARIABLES = {"nome": "Ana", "grupo": "Sales", "cupom": "X1"}


@pytest.fixture
def client(sandbox_server: SandboxServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_server.url, headers=KEY, timeout=5) as http:
        yield http


def test_list_has_the_three_demo_templates_without_variables(client: httpx.Client) -> None:
    response = client.get("/v1/templates")
    assert response.status_code == 200
    templates = response.json()["templates"]
    assert [(t["id"], t["sendable"], t["metaStatus"]) for t in templates] == [
        ("boas_vindas", True, "APPROVED"),
        ("lembrete", True, "APPROVED"),
        ("promo_rejeitada", False, "REJECTED"),
    ]
    for template in templates:
        assert set(template) == {"id", "name", "sendable", "metaStatus", "category", "language"}


@pytest.mark.parametrize(
    ("template_id", "variables", "sendable"),
    [
        ("boas_vindas", ["nome", "grupo", "cupom"], True),
        ("lembrete", [], True),
        ("promo_rejeitada", ["codigo"], False),
    ],
)
def test_template_detail_lists_body_and_button_variables(
    client: httpx.Client, template_id: str, variables: list[str], sendable: bool
) -> None:
    response = client.get(f"/v1/templates/{template_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["variables"] == variables
    assert body["sendable"] is sendable
    assert {"body", "buttons", "name", "metaStatus", "category", "language"} <= set(body)


def test_welcome_template_has_a_url_button_with_a_variable(client: httpx.Client) -> None:
    body = client.get("/v1/templates/boas_vindas").json()
    assert body["body"] == "Olá {{nome}}! Bem-vindo ao grupo {{grupo}}."
    [button] = body["buttons"]
    assert button["type"] == "URL"
    assert button["text"] == "Ver oferta {{cupom}}"


def test_unknown_template_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/templates/nope%20here")
    assert response.status_code == 404
    assert response.json() == {
        "error": "Template nope here not found",
        "code": "TEMPLATE_NOT_FOUND",
    }


def test_template_send_is_recorded_with_its_variables(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    response = client.post(
        "/v1/messages/send",
        json={"groupId": SALES, "templateId": "boas_vindas", "variables": WELCOME_VARIABLES},
    )
    assert response.status_code == 202
    [message] = sandbox.sent_messages
    assert message.id == response.json()["id"]
    assert (message.kind, message.template_id, message.variables) == (
        "template",
        "boas_vindas",
        WELCOME_VARIABLES,
    )
    assert (message.group_id, message.text) == (SALES, None)


@pytest.mark.parametrize("variables", [None, {}])
def test_template_without_variables_needs_none(client: httpx.Client, variables: Any) -> None:
    payload: dict[str, Any] = {"groupId": SALES, "templateId": "lembrete"}
    if variables is not None:
        payload["variables"] = variables
    assert client.post("/v1/messages/send", json=payload).status_code == 202


@pytest.mark.parametrize(
    ("extra", "status", "code", "named"),
    [
        ({"templateId": "nope"}, 404, "TEMPLATE_NOT_FOUND", "nope"),
        ({"templateId": "promo_rejeitada", "variables": {"codigo": "A"}}, 400,
         "TEMPLATE_NOT_SENDABLE", "promo_rejeitada"),
        ({"templateId": "boas_vindas", "variables": {"nome": "A", "grupo": "B"}}, 400,
         "TEMPLATE_VARIABLE_MISSING", "cupom"),
        ({"templateId": "boas_vindas", "variables": {**WELCOME_VARIABLES, "nome": "  "}}, 400,
         "TEMPLATE_VARIABLE_MISSING", "nome"),
        ({"templateId": "boas_vindas"}, 400, "TEMPLATE_VARIABLE_MISSING", "nome"),
        ({"templateId": "boas_vindas", "variables": {**WELCOME_VARIABLES, "extra": "x"}}, 400,
         "TEMPLATE_VARIABLE_UNKNOWN", "extra"),
        ({"templateId": "lembrete", "variables": {"x": "1"}}, 400,
         "TEMPLATE_VARIABLE_UNKNOWN", "x"),
        ({"templateId": "boas_vindas", "variables": {**WELCOME_VARIABLES, "cupom": 5}}, 400,
         "VALIDATION_ERROR", "cupom"),
        ({"templateId": "boas_vindas", "variables": ["nome"]}, 400, "VALIDATION_ERROR", ""),
        ({"templateId": "lembrete", "text": "hi"}, 400, "VALIDATION_ERROR", ""),
        ({"text": "hi", "variables": {}}, 400, "VALIDATION_ERROR", "variables"),
        ({"templateId": 3}, 400, "VALIDATION_ERROR", "templateId"),
    ],
)  # fmt: skip
def test_template_send_errors_send_nothing(
    client: httpx.Client,
    sandbox: Sandbox,
    extra: dict[str, Any],
    status: int,
    code: str,
    named: str,
) -> None:
    response = client.post("/v1/messages/send", json={"groupId": SALES, **extra})
    assert response.status_code == status
    assert response.json()["code"] == code
    assert named in response.json()["error"]
    assert sandbox.sent_messages == []


@pytest.mark.parametrize("path", ["/v1/templates", "/v1/templates/lembrete"])
def test_template_reads_need_a_key(sandbox_server: SandboxServerThread, path: str) -> None:
    response = httpx.get(f"{sandbox_server.url}{path}", timeout=5)
    assert response.status_code == 401


@pytest.mark.parametrize("endpoint", ["list_templates", "get_template"])
def test_template_reads_take_injected_faults(
    client: httpx.Client, sandbox: Sandbox, endpoint: str
) -> None:
    sandbox.inject(endpoint, status=503, code="WHATSAPP_UPSTREAM_ERROR")
    path = "/v1/templates" if endpoint == "list_templates" else "/v1/templates/lembrete"
    assert client.get(path).status_code == 503
    assert client.get(path).status_code == 200
