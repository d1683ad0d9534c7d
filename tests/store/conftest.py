"""Fixtures for the store tests: a real SQLite file in tmp_path and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sttdesk.store import JobStore
from tests.store.helpers import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def store(db_path: Path, clock: ManualClock) -> Iterator[JobStore]:
    with JobStore(db_path, clock=clock) as opened:
        yield opened
