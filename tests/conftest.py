"""Shared fixtures: a fresh sandbox and the same sandbox served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox import Sandbox, SandboxServerThread


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh in-memory sandbox with the demo groups."""
    return Sandbox()


@pytest.fixture
def sandbox_server(sandbox: Sandbox) -> Iterator[SandboxServerThread]:
    """The `sandbox` fixture served on 127.0.0.1 (random port); `.url`, `.sandbox`."""
    with SandboxServerThread(sandbox) as server:
        yield server
