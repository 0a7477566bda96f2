"""A broadcast job's content: exactly one of text, template + variables, media + media_type.

Offline validation only (the config file through `load_config`, and stored
chat jobs through `job_from_data`); the runs are in test_broadcast_templates.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env
from scheduler_kit import toml_value

from bot.config import ConfigError, JobConfig, load_config
from bot.whatsapp.content import MAX_CAPTION
from jobs.definitions import job_from_data, job_to_data

BASE = """
[pilot]
base_url = "sandbox"
[groups]
sales = "120363123456789012@g.us"
"""
IMAGE = "https://example.com/offer.png"


def job_file(tmp_path: Path, **keys: Any) -> Path:
    job: dict[str, Any] = {"name": "j", "kind": "broadcast", "every": "1h", "targets": ["sales"]}
    job.update(keys)
    lines = [f"{key} = {toml_value(value)}" for key, value in job.items() if value is not None]
    path = tmp_path / "config.toml"
    path.write_text(BASE + "[[jobs]]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems(tmp_path: Path, **keys: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(job_file(tmp_path, **keys))
    return caught.value.problems


@pytest.mark.parametrize(
    "keys",
    [
        {"text": "Hi {group}"},
        {"template": "boas_vindas", "variables": {"nome": "{group}", "cupom": "X-{date:%m}"}},
        {"template": "lembrete", "variables": {}},
        {"template": "lembrete"},
        {"media": IMAGE, "media_type": "image"},
        {"media": IMAGE, "media_type": "document", "caption": "{weekday} {time}: {group}"},
        {"media": "http://example.com/a.mp3", "media_type": "audio", "caption": ""},
    ],
)
def test_one_content_mode_loads(tmp_path: Path, keys: dict[str, Any]) -> None:
    [job] = load_config(job_file(tmp_path, **keys)).jobs
    assert {key: getattr(job, key) for key in keys} == keys


Bad = tuple[dict[str, Any], str]
BAD: list[Bad] = [
    (
        {"text": "x", "template": "boas_vindas"},
        "jobs[0] (j): set only one content mode (found text and template): text, template with "
        "variables, or media with media_type and caption",
    ),
    (
        {"text": "x", "media": IMAGE, "media_type": "image"},
        "jobs[0] (j): set only one content mode (found text, media and media_type)",
    ),
    (
        {"template": "boas_vindas", "variables": {}, "caption": "c"},
        "jobs[0] (j): set only one content mode (found template, variables and caption)",
    ),
    ({}, "jobs[0] (j).text: required for kind 'broadcast' unless it sends a template or media"),
    (
        {"template": "boas_vindas", "variables": {"nome": "{nome}"}},
        "jobs[0] (j).variables: variable 'nome': unknown placeholder {nome}: use {group}, "
        "{date}, {time}, {weekday}",
    ),
    (
        {"template": "boas_vindas", "variables": {"nome": " "}},
        "jobs[0] (j).variables: variable 'nome': is empty or has nothing visible",
    ),
    (
        {"template": "boas_vindas", "variables": {"nome": "{group:.0}"}},
        "jobs[0] (j).variables: variable 'nome': is empty or has nothing visible",
    ),
    (
        {"template": "boas_vindas", "variables": {"nome": 3}},
        "jobs[0] (j).variables.nome: Input should be a valid string",
    ),
    (
        {"template": "boas_vindas", "variables": "nome=x"},
        "jobs[0] (j).variables: Input should be a valid dictionary",
    ),
    ({"template": "boas vindas!"}, "jobs[0] (j).template: 'boas vindas!' is not a template id"),
    ({"variables": {"nome": "x"}}, "jobs[0] (j).template: required with variables"),
    (
        {"media": IMAGE, "media_type": "gif"},
        "jobs[0] (j).media_type: Input should be 'image', 'document', 'video' or 'audio'",
    ),
    ({"media": IMAGE}, "jobs[0] (j).media_type: required with media"),
    ({"media_type": "image"}, "jobs[0] (j).media: required with media_type or caption"),
    (
        {"media": "ftp://example.com/a.png", "media_type": "image"},
        "jobs[0] (j).media: 'ftp://example.com/a.png' is not a media link",
    ),
    (
        {"media": "offer.png", "media_type": "image"},
        "jobs[0] (j).media: 'offer.png' is not a media link",
    ),
    (
        {"media": "data:image/png;base64,AAAA", "media_type": "image"},
        "jobs[0] (j).media: a job's media is an http(s) URL of the file, not a data URI",
    ),
    (
        {"media": IMAGE, "media_type": "image", "caption": "{price}"},
        "jobs[0] (j).caption: unknown placeholder {price}",
    ),
    (
        {"media": IMAGE, "media_type": "image", "caption": "{group:>1000} {date:%A}{weekday:>900}"},
        f"jobs[0] (j).caption: at most {MAX_CAPTION} characters once its placeholders are filled",
    ),
    (
        {"media": IMAGE, "media_type": "image", "caption": "a\x00b"},
        "jobs[0] (j).caption: contains the control character U+0000",
    ),
]
BAD_INVITE_RESET: list[Bad] = [
    (
        {"kind": "invite_reset", key: value},
        f"jobs[0] (j).{key}: not allowed for kind 'invite_reset' (it sends no message)",
    )
    for key, value in [
        ("template", "boas_vindas"),
        ("variables", {"nome": "x"}),
        ("media", IMAGE),
        ("media_type", "image"),
        ("caption", "c"),
        ("text", "x"),
    ]
]


@pytest.mark.parametrize(("keys", "expected"), BAD + BAD_INVITE_RESET)
def test_bad_content_is_one_clear_problem(
    tmp_path: Path, keys: dict[str, Any], expected: str
) -> None:
    found = problems(tmp_path, **keys)
    assert any(problem.startswith(expected) for problem in found), found


def test_two_modes_is_the_only_problem_reported(tmp_path: Path) -> None:
    """Two modes is one sentence, not also a complaint per missing companion key."""
    found = problems(tmp_path, text="x", caption="c")
    assert found == [
        "jobs[0] (j): set only one content mode (found text and caption): text, template "
        "with variables, or media with media_type and caption"
    ]


@pytest.mark.parametrize(
    "keys",
    [
        {"template": "boas_vindas", "variables": {"nome": "{group}", "grupo": "x", "cupom": "y"}},
        {"media": IMAGE, "media_type": "video", "caption": "Oi {group}"},
        {"text": "plain"},
    ],
)
def test_a_stored_chat_job_round_trips_through_json(keys: dict[str, Any]) -> None:
    job = JobConfig.model_validate(
        {"name": "j", "kind": "broadcast", "every": "1h", "targets": ["sales"], **keys}
    )
    data = json.loads(json.dumps(job_to_data(job)))
    assert job_from_data(data) == job


def test_a_job_stored_before_content_modes_still_loads() -> None:
    old = {"name": "j", "kind": "broadcast", "every": "1h", "targets": ["sales"], "text": "x"}
    job = job_from_data(old)
    assert (job.text, job.template, job.variables, job.media, job.caption) == (
        "x",
        None,
        None,
        None,
        None,
    )


def test_check_refuses_a_bad_template_job_offline(tmp_path: Path) -> None:
    """`grouppilot check` runs the same validation, with no API to ask (an unreachable one)."""
    path = job_file(tmp_path, template="boas_vindas", variables={"nome": "{nome}"})
    text = path.read_text(encoding="utf-8").replace('"sandbox"', '"http://127.0.0.1:9"')
    path.write_text(text.replace("[groups]", 'api_key = "ps_x"\n[groups]'), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert result.returncode == 2, result
    assert "jobs[0] (j).variables: variable 'nome': unknown placeholder {nome}" in result.stderr
