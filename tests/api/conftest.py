"""Fixtures for the REST API tests: real cores (store, coordinator, agent processes) and clients.

Most tests run the fake engine in a real ``sttdesk-agent`` process: it answers
at once, needs no model loaded, and announces the models installed in the
models folder, so jobs asking for the default model ``base-q8_0`` run. The
models folder is the user's real one (read only) where that model is
installed; tests skip where it is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sttdesk.api import create_app
from sttdesk.app import Core

from .helpers import DEFAULT_MODEL, LOCAL_BASE_URL, make_core, wait_for_agents


@pytest.fixture(scope="session")
def models_dir(real_models_dir: Path) -> Path:
    """The real models folder, if it holds the default model (the fake agent announces it from there)."""
    if not (real_models_dir / "manifest.json").is_file() or DEFAULT_MODEL not in (
        real_models_dir / "manifest.json"
    ).read_text(encoding="utf-8"):
        pytest.skip(f"the default model {DEFAULT_MODEL} is not installed in {real_models_dir} "
                    "(run 'sttdesk models install-default')")
    return real_models_dir


@pytest.fixture(scope="module")
def running_core(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Core]:
    """A started core with one fake-engine agent, shared by a module's tests (each makes its own jobs)."""
    core = make_core(tmp_path_factory.mktemp("api-core"), models_dir, agents=1)
    with core:
        wait_for_agents(core)
        yield core


@pytest.fixture
def idle_core(tmp_path: Path, models_dir: Path) -> Iterator[Core]:
    """A started core without agents: jobs are accepted and stay PENDING."""
    core = make_core(tmp_path / "idle", models_dir, agents=0)
    with core:
        yield core


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """Makes in-process clients of ``create_app(core, ...)``; all are closed after the test."""
    clients: list[TestClient] = []

    def make(core: Core, *, token: str | None = None, require_token: bool = False, **options: Any) -> TestClient:
        client = TestClient(create_app(core, token=token, require_token=require_token, **options),
                            base_url=LOCAL_BASE_URL)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
