"""The job kinds table: every kind the config accepts has one module, and no other kind passes."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import ValidationError

from bot.jobconfig import JobConfig
from jobs.kind_rules import CONFIG_RULES, KindName
from jobs.kinds import KINDS, SCHEDULE_ACTIONS, kind_of

# The smallest valid job of each kind.
VALID: dict[str, dict[str, Any]] = {
    "broadcast": {"text": "hello {group}"},
    "invite_reset": {},
    "drift": {},
}


def _job(kind: Any, **extra: Any) -> dict[str, Any]:
    return {"name": "j", "kind": kind, "every": "1h", "targets": ["sales"], **extra}


def test_the_table_covers_every_kind_the_config_accepts() -> None:
    accepted = set(get_args(JobConfig.model_fields["kind"].annotation))
    assert accepted == set(get_args(KindName))
    assert set(KINDS) == accepted
    assert set(CONFIG_RULES) == accepted
    assert set(VALID) == accepted  # a new kind needs a valid example here too


def test_each_kind_is_registered_under_its_own_name_and_one_schedule_word() -> None:
    assert all(name == kind.name for name, kind in KINDS.items())
    assert sorted(SCHEDULE_ACTIONS) == sorted(kind.action for kind in KINDS.values())
    assert len(SCHEDULE_ACTIONS) == len(KINDS)


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_valid_job_of_each_kind_finds_its_kind(name: str) -> None:
    job = JobConfig.model_validate(_job(name, **VALID[name]))
    assert kind_of(job) is KINDS[name]


@pytest.mark.parametrize("kind", ["brodcast", "Broadcast", "", 1, ["broadcast"], {"a": 1}, None])
def test_an_unknown_kind_is_refused_by_the_config(kind: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        JobConfig.model_validate(_job(kind, text="x"))
    errors = caught.value.errors()
    assert [error["loc"] for error in errors] == [("kind",)]
    assert errors[0]["msg"] == "Input should be 'broadcast', 'invite_reset' or 'drift'"
