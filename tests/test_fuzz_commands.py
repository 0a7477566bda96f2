"""Fuzzing the command layer: whatever anyone types, a short clear answer and no crash.

Hypothesis writes lines (random unicode with control characters, command
names with random arguments, long words, quotes, odd digits, odd blanks) and
each goes through the real `CommandLayer` as an admin, a viewer and a
stranger: the example config's aliases, targets and jobs, a real SQLite file,
the in-process sandbox through the real client, and a running scheduler on a
fake clock and timer. Questions are cancelled, never confirmed.

Bounded: a fixed number of examples per test and a per-example deadline keep
the whole file well under 30 seconds.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from conftest import ADMIN, EXAMPLE_CONFIG, STRANGER, VIEWER
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduler_kit import START, FakeClock, FakeTimer, GatedSleep, Notes

from bot.commands.catalog import command_specs
from bot.commands.layer import CommandLayer
from bot.commands.registry import CommandSpec
from bot.commands.types import Outcome, Pending, Principal, Reply
from bot.config import load_config
from bot.runtime import build_parts
from bot.sandbox import Sandbox, SandboxTransport
from bot.store import Store
from bot.usertext import EXCERPT_LENGTH
from bot.whatsapp import RetryPolicy, WhatsAppClient
from jobs.scheduler import JobScheduler

SALES = "120363123456789012@g.us"
MAX_FAILURE_CHARS = 1_000  # a refusal or an error: one or a few sentences
MAX_REPLY_CHARS = 50_000  # listings grow with the data (groups the fuzzer created, /log 100)
FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=5),  # generous on a loaded machine; an example takes milliseconds
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Bench:
    """The bot's command layer and scheduler, driven from synchronous Hypothesis tests."""

    runner: asyncio.Runner
    layer: CommandLayer
    sandbox: Sandbox

    def run(self, text: str, principal: Principal) -> Outcome:
        return self.runner.run(self.layer.execute(text, principal))

    def cancel(self, pending: Pending, principal: Principal) -> Reply:
        return self.runner.run(self.layer.cancel(pending.token, principal))


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    settings_ = load_config(EXAMPLE_CONFIG)
    store = Store(tmp_path_factory.mktemp("fuzz") / "grouppilot.db")
    sandbox = Sandbox()
    runner = asyncio.Runner()

    async def build() -> tuple[CommandLayer, JobScheduler, WhatsAppClient]:
        client = WhatsAppClient(
            base_url="http://sandbox",
            api_key="sandbox",
            max_rps=100_000,
            concurrency=8,
            retry=RetryPolicy.fast(),
            transport=SandboxTransport(sandbox),
        )
        clock = FakeClock(START)
        parts = build_parts(
            settings_,
            client=client,
            store=store,
            timer=FakeTimer(),
            clock=clock,
            sleep=GatedSleep(),
            rng=random.Random(7),
        )
        layer, scheduler = parts.commands, parts.scheduler
        await scheduler.start(Notes())
        return layer, scheduler, client

    layer, scheduler, client = runner.run(build())
    try:
        yield Bench(runner, layer, sandbox)
    finally:
        runner.run(scheduler.stop())
        runner.run(client.aclose())
        runner.close()
        store.close()


# -- what people type ---------------------------------------------------------------------------

SPECS = command_specs()
NAMES = [spec.name for spec in SPECS] + ["start", "nosuch", "grups", "x", "log_2"]
KNOWN_WORDS = [
    "sales", "rio", "support", "vip", "all", "all-sales", "Sales", '"Sales Team"', "Team",
    SALES, SALES.removesuffix("@g.us"), "morning-sales", "nightly-invite-reset", "promo",
    "every", "at", "send", "reset-invite", "reset", "last", "15m", "1h30m", "0", "1d",
    '"0 9 * * mon-fri"', '"*/5 * * * 1/2"', '"0 0 31 2 *"', "2026-12-24T09:00", "2020-01-01T00:00",
    "5511955551234", "+55", "11", "97777-1111", "(11)", "hello", "{group}", "{date:%d/%m}",
    "{nosuch}", "{", "Don't", '"', "'", "\\", "#1", "--", "-1", "100", "101", "@", "/help",
]  # fmt: skip
ODD_NUMBERS = [
    "²", "٣", "１", "٣٠", "１０", "1²", "5٣", "৩", "½", "Ⅻ", "99999999999999999999",
    "0" * 30 + "1", "1_0", "+5", "1e3", "0x10", "١٢٠٣٦٣١٢٣٤٥٦٧٨٩٠١٢", "٣m", "１h",
]  # fmt: skip
LONG_CHARS = "qQz9٣ \"'\n"
SEPARATORS = [" ", "  ", "\n", "\t", "\u00a0", "\u2028", "\u3000", "\u200b", ""]

long_words = st.builds(
    lambda ch, n: ch * n, st.sampled_from(LONG_CHARS), st.integers(EXCERPT_LENGTH, 5_000)
)
known_words = st.sampled_from(KNOWN_WORDS)
words = st.one_of(
    known_words,  # weighted: most words are ones the bot knows, so commands get far
    known_words,
    known_words,
    st.sampled_from(ODD_NUMBERS),
    st.text(max_size=12),  # any code point but surrogates: controls, NUL, bidi, emoji
    st.text(max_size=10).map(lambda t: f'"{t}"'),
    long_words,
)
heads = st.builds(
    lambda name, case, suffix: "/" + case(name) + suffix,
    st.sampled_from(NAMES),
    st.sampled_from([str.lower, str.upper, str.title]),
    st.sampled_from(["", "", "", "@PilotBot", "@pilotbot", "@OtherBot", "@"]),
)
separated_words = st.tuples(st.sampled_from(SEPARATORS), words)


def _line(head: str, tail: list[tuple[str, str]]) -> str:
    return head + "".join(sep + word for sep, word in tail)


def _fitting(spec: CommandSpec) -> st.SearchStrategy[str]:
    """`spec`'s command with about as many words as it takes (so it gets past the usage check)."""
    most = spec.max_args if spec.max_args is not None else spec.min_args + 4
    return st.builds(
        _line,
        st.just(f"/{spec.name}"),
        st.lists(st.tuples(st.just(" "), words), min_size=spec.min_args, max_size=most + 1),
    )


command_lines = st.one_of(
    st.sampled_from(SPECS).flatmap(_fitting),
    st.builds(_line, heads, st.lists(separated_words, max_size=8)),
)
random_lines = st.one_of(
    st.text(max_size=300),
    st.text(max_size=300).map(lambda t: "/" + t),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="replace")),
)


# -- what must hold -----------------------------------------------------------------------------


def long_runs(text: str) -> list[str]:
    """Runs of one repeated non-blank character longer than an excerpt."""
    return [m.group(0) for m in re.finditer(rf"(\S)\1{{{EXCERPT_LENGTH},}}", text)]


def addressed_to_another_bot(text: str) -> bool:
    head = text.split(maxsplit=1)[0] if text.split() else ""
    return "@" in head and head.partition("@")[2].lower() != "pilotbot"


def check(bench: Bench, text: str) -> None:
    """Run `text` as admin, viewer and stranger; every answer is bounded and clear."""
    stranger = bench.run(text, STRANGER)
    assert isinstance(stranger, Reply)
    assert stranger.silent, stranger
    for principal in (ADMIN, VIEWER):
        outcome = bench.run(text, principal)
        if isinstance(outcome, Pending):
            assert principal is ADMIN
            assert outcome.question.strip()
            assert len(outcome.question) <= MAX_REPLY_CHARS
            outcome = bench.cancel(outcome, principal)
            assert outcome.text == "Cancelled. Nothing was changed."
            continue
        assert isinstance(outcome, Reply)
        if outcome.silent:
            assert addressed_to_another_bot(text), text
            continue
        assert outcome.text.strip(), text
        assert not outcome.text.startswith("Internal error"), (text, outcome.text)
        assert len(outcome.text) <= MAX_REPLY_CHARS
        if not outcome.ok:
            assert len(outcome.text) <= MAX_FAILURE_CHARS, (text[:200], outcome.text[:2000])
            for run in long_runs(text):
                assert run[: EXCERPT_LENGTH + 1] not in outcome.text, outcome.text[:300]


@FUZZ
@given(text=command_lines)
def test_commands_with_random_arguments(bench: Bench, text: str) -> None:
    check(bench, text)


@FUZZ
@given(text=random_lines)
def test_random_text(bench: Bench, text: str) -> None:
    check(bench, text)


numberish = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=6),
    st.integers(-(10**30), 10**30).map(str),
)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@settings(FUZZ, max_examples=15)
@given(args=st.lists(numberish, min_size=1, max_size=3))
def test_every_command_with_numbers_in_any_script(
    bench: Bench, spec: CommandSpec, args: list[str]
) -> None:
    check(bench, f"/{spec.name} " + " ".join(args))


@settings(FUZZ, max_examples=40)
@given(
    text=st.builds(
        lambda name, word, count: f"/{name} " + " ".join([word] * count),
        st.sampled_from(NAMES),
        st.sampled_from(["x", "\"'", "٣", "a b"]),
        st.integers(1_000, 3_000),
    )
)
def test_long_lines_at_and_past_the_limit(bench: Bench, text: str) -> None:
    check(bench, text)


@settings(FUZZ, max_examples=40)
@given(token=st.text(max_size=64))
def test_random_confirmation_tokens_change_nothing(bench: Bench, token: str) -> None:
    sent = len(bench.sandbox.sent_messages)
    for principal in (ADMIN, VIEWER, STRANGER):
        for settle in (bench.layer.confirm, bench.layer.cancel):
            reply = bench.runner.run(settle(token, principal))
            assert not reply.ok
            assert reply.text.strip()
    assert len(bench.sandbox.sent_messages) == sent
