"""Fixtures for agent tests: a ZeroMQ context, and agent processes that never outlive a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from .harness import AgentProcess, ScriptedCoordinator, start_agent


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """``agent_factory(*args, name=..., trust=...)`` starts a real agent; all are killed after the test."""
    started: list[AgentProcess] = []

    def start(*args: str, name: str = "agent", trust: bool = True) -> AgentProcess:
        agent = start_agent(tmp_path, *args, name=name, trust=trust)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.kill()


@pytest.fixture
def coordinator_factory(zmq_context: zmq.Context) -> Iterator[Callable[..., ScriptedCoordinator]]:
    """``coordinator_factory(endpoint, coordinator_id=..., ...)`` makes a scripted DEALER."""
    made: list[ScriptedCoordinator] = []

    def make(endpoint: str, **kwargs: object) -> ScriptedCoordinator:
        coordinator = ScriptedCoordinator(zmq_context, endpoint, **kwargs)  # type: ignore[arg-type]
        made.append(coordinator)
        return coordinator

    yield make
    for coordinator in made:
        coordinator.close()
