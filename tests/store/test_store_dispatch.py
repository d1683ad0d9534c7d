"""Fair dispatch order: a short job queued behind a long one is not starved."""

from __future__ import annotations

import pytest

from sttdesk.store import InvalidStoreValueError, JobStore
from tests.store.helpers import ManualClock, complete, lease, planned_job


def _names(store: JobStore, chunks, names: dict[str, str]) -> list[str]:
    return [f"{names[c.job_id]}{c.index}" for c in chunks]


def test_jobs_alternate_when_nothing_is_leased(store: JobStore) -> None:
    long_job, _ = planned_job(store, 5, "long.wav")
    short_job, _ = planned_job(store, 2, "short.wav")
    names = {long_job.id: "L", short_job.id: "S"}
    order = _names(store, store.dispatchable_chunks(limit=7), names)
    assert order == ["L0", "S0", "L1", "S1", "L2", "L3", "L4"]


def test_short_job_queued_behind_a_busy_long_job_goes_first(store: JobStore) -> None:
    long_job, long_chunks = planned_job(store, 20, "long.wav")
    lease(store, long_chunks[0], agent="a1")
    lease(store, long_chunks[1], agent="a2")
    short_job, _ = planned_job(store, 3, "short.wav")
    names = {long_job.id: "L", short_job.id: "S"}
    # The long job has 2 chunks out, so the short one's first two turns come before its next one.
    order = _names(store, store.dispatchable_chunks(limit=6), names)
    assert order == ["S0", "S1", "L2", "S2", "L3", "L4"]


def test_short_job_finishes_early_in_a_dispatch_loop(store: JobStore, clock: ManualClock) -> None:
    """Two agents take the first chunk in dispatch order whenever they are free."""
    long_job, _ = planned_job(store, 12, "long.wav")
    first = store.dispatchable_chunks(limit=2)
    out = [lease(store, first[0], agent="a1"), lease(store, first[1], agent="a2")]
    short_job, _ = planned_job(store, 3, "short.wav")
    finished_order = []
    while out:
        clock.advance(10)
        done = out.pop(0)
        outcome = complete(store, done, "x")
        if outcome.job_completed:
            finished_order.append(done.job_id)
        nxt = store.dispatchable_chunks(limit=1)
        if nxt:
            out.append(lease(store, nxt[0], agent=done.lease_agent_id))
    assert finished_order == [short_job.id, long_job.id]
    # The short job was done after at most 2 + 3 * 2 = 8 completions, not after the 12 long chunks.
    done_events = [e.job_id for e in store.events(kinds=["chunk_done"])]
    last_short = max(i for i, job_id in enumerate(done_events) if job_id == short_job.id)
    assert last_short < 8


def test_priority_goes_before_fairness(store: JobStore) -> None:
    low, _ = planned_job(store, 2, "low.wav")
    high, _ = planned_job(store, 2, "high.wav")
    store.update_job_fields(high.id, priority=10)
    names = {low.id: "L", high.id: "H"}
    assert _names(store, store.dispatchable_chunks(limit=4), names) == ["H0", "H1", "L0", "L1"]


def test_excluded_chunks_count_as_out_and_are_not_returned(store: JobStore) -> None:
    a, a_chunks = planned_job(store, 4, "a.wav")
    b, _ = planned_job(store, 2, "b.wav")
    names = {a.id: "A", b.id: "B"}
    # The caller is about to hand out A0 and A1.
    order = _names(store, store.dispatchable_chunks(limit=4, exclude_ids=[a_chunks[0].id, a_chunks[1].id]), names)
    assert order == ["B0", "B1", "A2", "A3"]


def test_limit_must_be_positive(store: JobStore) -> None:
    with pytest.raises(InvalidStoreValueError):
        store.dispatchable_chunks(limit=0)
