"""Shared fixtures: a fresh sandbox, the client and layer over it, the store.

By default the client reaches the `sandbox` through the in-process transport
(`SandboxTransport`: the same dispatch as the HTTP server, no sockets) and the
store is `Store.memory()`. Where the wire is the subject a test asks for
`sandbox_server` (the same sandbox on 127.0.0.1) or `http_client` (the same
client over it); where the file is the subject it uses `tmp_path`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from scheduler_kit import HarnessFactory, harness_factory

from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Principal, Reply, Rights
from bot.config import Settings, load_config
from bot.runtime import build_commands
from bot.sandbox import Sandbox, SandboxServerThread, SandboxTransport
from bot.store import Store
from bot.whatsapp import RetryPolicy, WhatsAppClient


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without GROUPPILOT_* (for subprocesses), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GROUPPILOT_")}
    return {**env, **extra}


@pytest.fixture(scope="session", autouse=True)
def no_ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """httpx clients trust an empty CA directory instead of loading the CA bundle.

    Tests speak plain HTTP to 127.0.0.1 only, yet every httpx client (two per
    PTB front end, one per wire test) parses the whole bundle, ~35 ms each. A
    CA directory is read lazily, so this costs nothing, and a test that
    reached for a real TLS server by mistake would fail. Subprocesses inherit it.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SSL_CERT_FILE", raising=False)
        patch.setenv("SSL_CERT_DIR", str(tmp_path_factory.mktemp("no-ca-certs")))
        yield


@pytest.fixture
def no_grouppilot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GROUPPILOT_* variable of the machine running the tests leaks into a config."""
    for name in list(os.environ):
        if name.upper().startswith("GROUPPILOT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh in-memory sandbox with the demo groups."""
    return Sandbox()


@pytest.fixture
def sandbox_server(sandbox: Sandbox) -> Iterator[SandboxServerThread]:
    """The `sandbox` fixture served on 127.0.0.1 (random port); `.url`, `.sandbox`."""
    with SandboxServerThread(sandbox) as server:
        yield server


# -- the command layer over the real client against the sandbox ----------------------

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"


@pytest.fixture(scope="session")
def example_settings() -> Settings:
    """The example config, read once (without the machine's GROUPPILOT_* variables)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith("GROUPPILOT_"):
                patch.delenv(name)
        return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def settings(example_settings: Settings) -> Settings:
    """The example config (sandbox base_url, demo aliases and targets); each test its own copy."""
    return example_settings.model_copy(deep=True)


@pytest.fixture
def store() -> Iterator[Store]:
    """A real SQLite database in memory (a file only where the file is the subject)."""
    with Store.memory() as opened:
        yield opened


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[WhatsAppClient]:
    """The real client against the `sandbox`, in process; retries without waits.

    Same requests, answers and faults as over HTTP (a drop is a dropped
    connection, the read timeout is honoured), without a socket or a TLS context.
    """
    async with WhatsAppClient(
        base_url="http://sandbox",
        api_key="ps_test_key",
        timeout=2.0,
        max_rps=1000,
        concurrency=8,
        retry=RetryPolicy.fast(),
        transport=SandboxTransport(sandbox),
    ) as opened:
        yield opened


@pytest.fixture
async def http_client(sandbox_server: SandboxServerThread) -> AsyncIterator[WhatsAppClient]:
    """The same client over real HTTP to the served `sandbox`, where the wire is the subject.

    A test module overrides `client` with it to run `layer` and `make_harness` over HTTP.
    """
    async with WhatsAppClient(
        base_url=sandbox_server.url,
        api_key="ps_test_key",
        timeout=2.0,
        max_rps=1000,
        concurrency=8,
        retry=RetryPolicy.fast(),
    ) as opened:
        yield opened


@pytest.fixture
def layer(settings: Settings, client: WhatsAppClient, store: Store) -> CommandLayer:
    return build_commands(settings, client=client, store=store)


ADMIN = Principal(chat="telegram:-1001", who="user:1", rights=Rights.ADMIN)
VIEWER = Principal(chat="telegram:-1001", who="user:2", rights=Rights.VIEWER)
STRANGER = Principal(chat="telegram:777", who="user:777", rights=Rights.NONE)


async def run_confirmed(layer: CommandLayer, text: str, principal: Principal = ADMIN) -> Reply:
    """Run a command as `principal`, pressing Confirm when it asks."""
    outcome = await layer.execute(text, principal)
    if isinstance(outcome, Pending):
        return await layer.confirm(outcome.token, principal)
    return outcome


@pytest.fixture
async def make_harness(
    tmp_path: Path, sandbox: Sandbox, client: WhatsAppClient
) -> AsyncIterator[HarnessFactory]:
    """Builds scheduler harnesses (real store file, real client, fake clock and timer)."""
    async with harness_factory(tmp_path, sandbox, client) as factory:
        yield factory
