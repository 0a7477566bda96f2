"""Template and media broadcasts, run by the real scheduler against the sandbox.

A template job reads its template once before the first send and fills each
group's variables; anything wrong refuses the whole run and sends nothing.
`/run` checks the template online before asking. Every check below looks at
the requests the sandbox received.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN
from scheduler_kit import RIO, SALES, START, Harness, HarnessFactory, broadcast

from bot.commands.types import Pending, Reply
from bot.config import load_config
from bot.sandbox import Sandbox
from jobs.definitions import job_to_data

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
NINE = START.replace(hour=9) + timedelta(days=1)  # Saturday 09:00 UTC
IMAGE = "https://example.com/offer.png"
WELCOME = {"nome": "equipe {group}", "grupo": "{group}", "cupom": "OFF-{date:%d%m}"}


def template_job(template: str = "boas_vindas", variables: Any = None, **keys: Any) -> Any:
    job = broadcast(template=template, variables=WELCOME if variables is None else variables)
    job.pop("text")
    job.update(keys)
    return job


def sends(harness: Harness) -> list[dict[str, Any]]:
    """The bodies of every send request the sandbox received, in order."""
    return [r.body for r in harness.sandbox.requests if r.endpoint == "send"]


def template_reads(harness: Harness) -> list[str]:
    return [r.path for r in harness.sandbox.requests if r.path.startswith("/v1/templates/")]


async def test_a_template_broadcast_sends_each_group_its_variables(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([template_job()]).start()
    await harness.advance_to(NINE)
    assert template_reads(harness) == ["/v1/templates/boas_vindas"]  # read once per run
    assert sends(harness) == [
        {
            "groupId": SALES,
            "templateId": "boas_vindas",
            "variables": {"nome": "equipe Sales Team", "grupo": "Sales Team", "cupom": "OFF-2811"},
        },
        {
            "groupId": RIO,
            "templateId": "boas_vindas",
            "variables": {"nome": "equipe Sales Rio", "grupo": "Sales Rio", "cupom": "OFF-2811"},
        },
    ]
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent, run.failed) == ("ok", 2, 0)
    assert harness.notes.texts == ["morning (09:00 UTC): queued 2, failed 0, unknown 0"]


async def test_a_template_without_variables(make_harness: HarnessFactory) -> None:
    harness = await make_harness([template_job("lembrete", {})]).start()
    await harness.advance_to(NINE)
    assert [(s["groupId"], s["templateId"], s["variables"]) for s in sends(harness)] == [
        (SALES, "lembrete", {}),
        (RIO, "lembrete", {}),
    ]


@pytest.mark.parametrize("caption", ["Ofertas, {group}! Até {date:%d/%m}.", None])
async def test_a_media_broadcast_sends_the_link_and_each_groups_caption(
    make_harness: HarnessFactory, caption: str | None
) -> None:
    job = broadcast(media=IMAGE, media_type="image", caption=caption)
    job.pop("text")
    harness = await make_harness([{k: v for k, v in job.items() if v is not None}]).start()
    await harness.advance_to(NINE)
    expected = [
        {"groupId": group, "media": IMAGE, "mediaType": "image"}
        | ({"caption": f"Ofertas, {name}! Até 28/11."} if caption else {})
        for group, name in ((SALES, "Sales Team"), (RIO, "Sales Rio"))
    ]
    assert sends(harness) == expected
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent) == ("ok", 2)


async def test_a_media_run_without_the_media_plan_fails_each_group_with_its_code(
    make_harness: HarnessFactory,
) -> None:
    job = broadcast(media=IMAGE, media_type="document")
    job.pop("text")
    harness = await make_harness([job]).start()
    harness.sandbox.media_plan = False
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    rows = harness.scheduler.ledger.deliveries(run.id)
    assert {(r.state, r.code) for r in rows} == {("failed", "SUBSCRIPTION_REQUIRED_FOR_MEDIA")}


async def test_on_a_meta_number_the_template_job_goes_out_where_text_cannot(
    make_harness: HarnessFactory,
) -> None:
    """Outside the 24 h window free text fails; the same groups take the template."""
    harness = await make_harness(
        [broadcast("text-job", text="Hi {group}"), template_job(name="template-job")]
    ).start()
    harness.sandbox.mode = "meta"
    await harness.advance_to(NINE)
    [text_run] = harness.runs("text-job")
    rows = harness.scheduler.ledger.deliveries(text_run.id)
    assert {(r.state, r.code) for r in rows} == {("failed", "META_OUTSIDE_24H_WINDOW")}
    [template_run] = harness.runs("template-job")
    assert (template_run.outcome, template_run.sent) == ("ok", 2)


async def test_a_caption_too_long_for_one_group_fails_that_group_only(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    """1000 characters plus the name: fits "Sales Rio", not a group with a long name."""
    long_name = sandbox.create_group("L" * 30, []).id
    job = broadcast(media=IMAGE, media_type="image", caption="x" * 1000 + " {group}")
    job.pop("text")
    harness = await make_harness([{**job, "targets": ["rio", long_name]}]).start()
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    rows = harness.scheduler.ledger.deliveries(run.id)
    assert [(r.group_id, r.state, r.code) for r in rows] == [
        (RIO, "sent", ""),
        (long_name, "failed", "INVALID_INPUT"),
    ]
    assert [body["groupId"] for body in sends(harness)] == [RIO]


WRONG: list[tuple[str, Any, str, str]] = [
    (
        "boas_vindas",
        {"nome": "{group}", "grupo": "x"},
        "TEMPLATE_REFUSED",
        "Template boas_vindas: missing variable cupom",
    ),
    (
        "boas_vindas",
        {**WELCOME, "extra": "x"},
        "TEMPLATE_REFUSED",
        "Template boas_vindas: unknown variable extra",
    ),
    (
        "promo_rejeitada",
        {"codigo": "X"},
        "TEMPLATE_REFUSED",
        "Template promo_rejeitada",
    ),
    ("nao_existe", {}, "TEMPLATE_NOT_FOUND", "Template nao_existe: "),
]


@pytest.mark.parametrize(("template", "variables", "code", "sentence"), WRONG)
async def test_a_wrong_template_sends_nothing_at_all(
    make_harness: HarnessFactory, template: str, variables: Any, code: str, sentence: str
) -> None:
    harness = await make_harness([template_job(template, variables)]).start()
    await harness.advance_to(NINE)
    assert sends(harness) == []  # not one send request reached the server
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent, run.failed) == ("failed", 0, 2)
    assert run.detail.startswith(sentence), run.detail
    rows = harness.scheduler.ledger.deliveries(run.id)
    assert {(r.state, r.code) for r in rows} == {("failed", code)}
    [report] = harness.notes.texts
    assert report.splitlines()[:2] == [
        "morning (09:00 UTC): queued 0, failed 2, unknown 0",
        f"({run.detail})",
    ]


async def test_a_variable_that_renders_empty_for_one_group_refuses_the_whole_run(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    """Valid on the sample name, blank for a group whose name starts with spaces: no send."""
    ops = sandbox.create_group("      Ops", []).id
    variables = {**WELCOME, "nome": "{group:.4}"}
    harness = await make_harness(
        [template_job(variables=variables, targets=["sales", ops])]
    ).start()
    await harness.advance_to(NINE)
    assert sends(harness) == []
    [run] = harness.runs("morning")
    assert run.detail.startswith(
        f"For       Ops ({ops}): Template boas_vindas: empty variable nome"
    )


async def test_the_example_configs_template_and_media_jobs_work_as_written(
    make_harness: HarnessFactory,
) -> None:
    jobs = {job.name: job_to_data(job) for job in load_config(EXAMPLE).jobs}
    harness = await make_harness([jobs["welcome-offer"], jobs["weekly-offers"]]).start()
    await harness.advance_to(START + timedelta(days=3, hours=2))  # past Monday 10:00 -03:00
    assert [(b["groupId"], b.get("templateId"), b.get("mediaType")) for b in sends(harness)] == [
        (SALES, None, "image"),  # Friday 11:00 -03:00
        (RIO, None, "image"),
        (SALES, "boas_vindas", None),  # Monday 10:00 -03:00
        (RIO, "boas_vindas", None),
    ]
    assert sends(harness)[0]["caption"] == "Ofertas da semana, Sales Team! Válidas até 27/11."
    assert sends(harness)[3]["variables"] == {
        "nome": "equipe Sales Rio",
        "grupo": "Sales Rio",
        "cupom": "BEMVINDO-1126",
    }
    assert [run.outcome for name in jobs for run in harness.runs(name)] == ["ok", "ok"]


async def say(harness: Harness, text: str) -> Reply | Pending:
    return await harness.layer.execute(text, ADMIN)


async def test_run_shows_the_template_and_its_variables_before_asking(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([template_job()]).start()
    outcome = await say(harness, "/run morning")
    assert isinstance(outcome, Pending), outcome
    assert outcome.question == (  # issue 12: the groups, and the first one's values filled
        "Run morning now (a manual run)? It sends to 2 groups: Sales Team, Sales Rio.\n"
        "Example, as Sales Team gets it:\n"
        "template boas_vindas with nome=equipe Sales Team, grupo=Sales Team, cupom=OFF-2711"
    )
    assert template_reads(harness) == ["/v1/templates/boas_vindas"]  # checked online
    assert sends(harness) == []
    reply = await harness.layer.confirm(outcome.token, ADMIN)
    assert reply.ok, reply.text
    assert len(sends(harness)) == 2


async def test_run_of_a_text_job_reads_no_template(make_harness: HarnessFactory) -> None:
    harness = await make_harness([broadcast(text="Hi {group}")]).start()
    outcome = await say(harness, "/run morning")
    assert isinstance(outcome, Pending), outcome
    assert outcome.question.endswith("gets it:\nHi Sales Team")  # issue 12: rendered
    assert template_reads(harness) == []


async def test_run_shows_the_media_before_asking(make_harness: HarnessFactory) -> None:
    job = broadcast(media=IMAGE, media_type="image", caption="Oi {group}")
    job.pop("text")
    harness = await make_harness([job]).start()
    outcome = await say(harness, "/run morning")
    assert isinstance(outcome, Pending), outcome
    assert outcome.question.endswith(f"gets it:\nimage {IMAGE}\ncaption: Oi Sales Team")


@pytest.mark.parametrize(("template", "variables", "code", "sentence"), WRONG)
async def test_run_refuses_a_wrong_template_online(
    make_harness: HarnessFactory, template: str, variables: Any, code: str, sentence: str
) -> None:
    harness = await make_harness([template_job(template, variables)]).start()
    outcome = await say(harness, "/run morning")
    assert isinstance(outcome, Reply), outcome  # refused before asking
    assert not outcome.ok
    assert outcome.text.startswith(f"Not run: {sentence}"), outcome.text
    assert sends(harness) == []
    assert harness.runs("morning") == []  # no run was started
