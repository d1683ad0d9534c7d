"""Fixtures for the cluster tests: a real job store on a temp SQLite file and a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sttdesk.store import JobStore

#: Some epoch time for the fake clock to start at.
T0 = 1_700_000_000.0


class FakeClock:
    """Epoch seconds that move only when the test says so (no sleeping)."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[JobStore]:
    with JobStore(tmp_path / "jobs.db", clock=clock) as opened:
        yield opened
