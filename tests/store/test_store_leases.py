"""Chunks in the store: planning, every lease transition and every refused one, idempotent completion."""

from __future__ import annotations

import json

import pytest

from sttdesk.domain.chunks import ChunkSpan, CutKind
from sttdesk.domain.jobs import ChunkState, IllegalTransitionError, JobState
from sttdesk.domain.records import DropReason, ErrorInfo, EventKind
from sttdesk.store import InvalidStoreValueError, JobAlreadyPlannedError, JobStateConflictError, JobStore
from tests.store.helpers import (
    DEADLINE,
    ManualClock,
    add_job,
    complete,
    even_spans,
    lease,
    planned_job,
    result_json,
    transcript,
)

CRASH = ErrorInfo("engine_crashed", "The engine stopped.", "Bộ máy dừng.")
INVALID = ErrorInfo("invalid_audio", "Bad audio.", "Âm thanh hỏng.")
OOM = ErrorInfo("engine_oom", "Out of memory.", "Hết bộ nhớ.")


def _snapshot(store: JobStore, job_id: str):
    return store.get_job(job_id), store.chunks_of(job_id, include_split=True), store.events(job_id=job_id)


# --- planning ------------------------------------------------------------------


def test_plan_creates_pending_chunks_in_order(store: JobStore) -> None:
    job = add_job(store)
    planned = store.plan_chunks(job.id, even_spans(4), deadline_seconds=DEADLINE)
    assert [c.index for c in planned] == [0, 1, 2, 3]
    assert all(c.state is ChunkState.PENDING and c.attempt == 0 and c.deadline_seconds == DEADLINE for c in planned)
    after = store.get_job(job.id)
    assert after.chunk_total == 4 and after.is_planned and after.state is JobState.PENDING
    assert planned[2].span == ChunkSpan(2, 60.0, 90.0, CutKind.SILENCE)


def test_plan_is_idempotent_and_refuses_other_spans(store: JobStore) -> None:
    job = add_job(store)
    first = store.plan_chunks(job.id, even_spans(3), deadline_seconds=DEADLINE)
    again = store.plan_chunks(job.id, even_spans(3), deadline_seconds=DEADLINE)
    assert [c.id for c in again] == [c.id for c in first]
    with pytest.raises(JobAlreadyPlannedError) as caught:
        store.plan_chunks(job.id, even_spans(4), deadline_seconds=DEADLINE)
    assert "3" in caught.value.user_message("vi")
    assert store.get_job(job.id).chunk_total == 3


def test_plan_without_speech_completes_the_job(store: JobStore) -> None:
    job = add_job(store)
    assert store.plan_chunks(job.id, [], deadline_seconds=DEADLINE) == []
    assert store.get_job(job.id).state is JobState.COMPLETED


@pytest.mark.parametrize(
    "bad",
    [
        [ChunkSpan(0, 10.0, 10.0)],
        [ChunkSpan(0, -1.0, 10.0)],
        [ChunkSpan(0, 0.0, float("inf"))],
        [ChunkSpan(0, 0.0, 10.0, overlap_before=10.0)],
        [ChunkSpan(1, 10.0, 20.0), ChunkSpan(0, 0.0, 10.0)],
        [ChunkSpan(0, 0.0, 10.0), ChunkSpan(0, 10.0, 20.0)],
        [(0.0, 10.0)],
    ],
)
def test_bad_plans_are_refused_and_nothing_is_written(store: JobStore, bad) -> None:
    job = add_job(store)
    with pytest.raises(InvalidStoreValueError):
        store.plan_chunks(job.id, bad, deadline_seconds=DEADLINE)
    assert store.chunks_of(job.id) == [] and not store.get_job(job.id).is_planned


def test_plan_needs_a_positive_deadline(store: JobStore) -> None:
    job = add_job(store)
    with pytest.raises(InvalidStoreValueError, match="deadline"):
        store.plan_chunks(job.id, even_spans(1), deadline_seconds=0)


# --- lease -------------------------------------------------------------------------


def test_lease_takes_a_pending_chunk_and_starts_the_job(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 2)
    leased = store.lease_chunk(chunks[0].id, agent_id="a1", lease_id="L1", deadline=clock.now + 60)
    assert leased is not None
    assert (leased.state, leased.attempt, leased.lease_id, leased.lease_agent_id) == (ChunkState.LEASED, 1, "L1", "a1")
    assert leased.lease_deadline == clock.now + 60 and leased.leased_at == clock.now
    after = store.get_job(job.id)
    assert after.state is JobState.PROCESSING and after.started_at == clock.now
    leased_events = store.events(kinds=[EventKind.CHUNK_LEASED])
    assert [(e.chunk_id, e.agent_id, e.data["attempt"]) for e in leased_events] == [(chunks[0].id, "a1", 1)]


def test_lease_is_refused_when_not_pending(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 2)
    lease(store, chunks[0], lease_id="L1")
    before = _snapshot(store, job.id)
    assert store.lease_chunk(chunks[0].id, agent_id="a2", lease_id="L2", deadline=clock.now + 60) is None
    assert store.lease_chunk(99_999, agent_id="a2", lease_id="L3", deadline=clock.now + 60) is None
    assert _snapshot(store, job.id) == before


@pytest.mark.parametrize("state", [JobState.PAUSED, JobState.CANCELLED])
def test_chunks_of_a_stopped_job_are_not_leased_or_dispatched(store: JobStore, clock: ManualClock, state) -> None:
    job, chunks = planned_job(store, 2)
    store.change_job_state(job.id, JobState.PENDING, state)
    assert store.dispatchable_chunks(limit=10) == []
    assert store.lease_chunk(chunks[0].id, agent_id="a", lease_id="L", deadline=clock.now + 60) is None


def test_lease_arguments_are_checked(store: JobStore, clock: ManualClock) -> None:
    _, chunks = planned_job(store, 1)
    with pytest.raises(InvalidStoreValueError, match="deadline"):
        store.lease_chunk(chunks[0].id, agent_id="a", lease_id="L", deadline=clock.now)
    with pytest.raises(InvalidStoreValueError, match="lease id"):
        store.lease_chunk(chunks[0].id, agent_id="a", lease_id="", deadline=clock.now + 5)
    assert store.get_chunk(chunks[0].id).state is ChunkState.PENDING


# --- complete ----------------------------------------------------------------------


def test_completing_every_chunk_completes_the_job(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 3)
    outcomes = []
    for chunk, word in zip(chunks, ["one", "two", "three"]):
        leased = lease(store, chunk)
        clock.advance(4)
        outcomes.append(complete(store, leased, word))
    assert all(o.accepted for o in outcomes)
    assert [o.job_completed for o in outcomes] == [False, False, True]
    done = store.get_job(job.id)
    assert done.state is JobState.COMPLETED and done.chunk_done == 3 and done.finished_at == clock.now
    assert transcript(store.chunks_of(job.id)) == "one two three"
    assert outcomes[0].chunk.done_at is not None and outcomes[0].chunk.done_agent_id == "agent-1"


def test_duplicate_and_late_replies_are_dropped_without_doubling_text(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 2)
    first = lease(store, chunks[0], agent="a1")
    # The lease expires: the chunk is retried and leased to another agent (attempt 2).
    clock.advance(DEADLINE + 1)
    assert store.fail_chunk(
        first.id,
        lease_id=first.lease_id,
        attempt=1,
        new_state=ChunkState.RETRY_WAIT,
        error=CRASH,
        not_before=clock.now,
        expired=True,
    )
    store.wake_retries()
    second = lease(store, store.get_chunk(first.id), agent="a2")
    assert second.attempt == 2

    late = complete(store, first, "hello world", agent="a1")
    assert not late.accepted and late.reason is DropReason.SUPERSEDED
    current = complete(store, second, "hello world", agent="a2")
    assert current.accepted
    duplicate = complete(store, second, "hello world", agent="a2")
    assert not duplicate.accepted and duplicate.reason is DropReason.DUPLICATE

    assert store.get_job(job.id).chunk_done == 1
    assert transcript(store.chunks_of(job.id)) == "hello world"
    dropped = store.events(kinds=[EventKind.REPLY_DROPPED])
    assert [e.data["reason"] for e in dropped] == ["superseded", "duplicate"]
    assert [
        e.kind for e in store.events(chunk_id=first.id, kinds=[EventKind.LEASE_EXPIRED, EventKind.CHUNK_LEASED])
    ] == [
        "chunk_leased",
        "lease_expired",
        "chunk_leased",
    ]


def test_reply_while_waiting_for_retry_is_dropped(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    store.fail_chunk(
        leased.id,
        lease_id=leased.lease_id,
        attempt=1,
        new_state=ChunkState.RETRY_WAIT,
        error=CRASH,
        not_before=clock.now + 2,
    )
    outcome = complete(store, leased, "text")
    assert outcome.reason is DropReason.NOT_LEASED and outcome.chunk.state is ChunkState.RETRY_WAIT
    assert store.get_job(job.id).chunk_done == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lease_id": "forged"}, DropReason.LEASE_MISMATCH),
        ({"attempt": 7}, DropReason.LEASE_MISMATCH),
        ({"agent_id": "intruder"}, DropReason.LEASE_MISMATCH),
        ({"chunk_id": 123_456}, DropReason.UNKNOWN_CHUNK),
    ],
)
def test_mismatched_replies_are_dropped(store: JobStore, change: dict, reason: DropReason) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    reply = {"chunk_id": leased.id, "lease_id": leased.lease_id, "attempt": 1, "agent_id": leased.lease_agent_id}
    reply.update(change)
    chunk_id = reply.pop("chunk_id")
    outcome = store.complete_chunk(chunk_id, result_json=result_json("x"), **reply)
    assert not outcome.accepted and outcome.reason is reason
    assert store.get_chunk(leased.id).state is ChunkState.LEASED
    assert store.get_job(job.id).chunk_done == 0


@pytest.mark.parametrize(
    "change", [{"attempt": 0}, {"attempt": "1"}, {"attempt": True}, {"lease_id": ""}, {"agent_id": None}]
)
def test_malformed_reply_keys_are_refused(store: JobStore, change: dict) -> None:
    _, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    reply = {"lease_id": leased.lease_id, "attempt": 1, "agent_id": leased.lease_agent_id}
    reply.update(change)
    with pytest.raises(InvalidStoreValueError):
        store.complete_chunk(leased.id, result_json=result_json("x"), **reply)
    assert store.get_chunk(leased.id).state is ChunkState.LEASED


@pytest.mark.parametrize("garbage", ["not json", "[1, 2]", ""])
def test_a_result_that_is_not_a_json_object_is_refused(store: JobStore, garbage: str) -> None:
    _, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    with pytest.raises(InvalidStoreValueError):
        store.complete_chunk(
            leased.id, lease_id=leased.lease_id, attempt=1, result_json=garbage, agent_id=leased.lease_agent_id
        )
    assert store.get_chunk(leased.id).state is ChunkState.LEASED


# --- fail, retry, dead letter ---------------------------------------------------------


def test_transient_failure_waits_then_wakes(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    assert store.fail_chunk(
        leased.id,
        lease_id=leased.lease_id,
        attempt=1,
        new_state=ChunkState.RETRY_WAIT,
        error=CRASH,
        not_before=clock.now + 6,
        deadline_seconds=600,
    )
    waiting = store.get_chunk(leased.id)
    assert (waiting.state, waiting.failures, waiting.error, waiting.deadline_seconds) == (
        ChunkState.RETRY_WAIT,
        1,
        CRASH,
        600,
    )
    assert waiting.lease_id is None and store.get_job(job.id).retry_count == 1
    assert store.dispatchable_chunks(limit=5) == []
    clock.advance(5.9)
    assert store.wake_retries() == []
    clock.advance(0.1)
    woken = store.wake_retries()
    assert [c.id for c in woken] == [leased.id] and woken[0].state is ChunkState.PENDING
    assert [c.id for c in store.dispatchable_chunks(limit=5)] == [leased.id]
    again = lease(store, woken[0])
    assert again.attempt == 2 and again.failures == 1
    assert store.events(kinds=[EventKind.CHUNK_WOKEN])[0].chunk_id == leased.id


def test_stale_failure_report_changes_nothing(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    before = _snapshot(store, job.id)
    for kwargs in ({"lease_id": "old", "attempt": 1}, {"lease_id": leased.lease_id, "attempt": 2}):
        assert not store.fail_chunk(
            leased.id, new_state=ChunkState.RETRY_WAIT, error=CRASH, not_before=clock.now, **kwargs
        )
    assert not store.fail_chunk(4242, lease_id="x", attempt=1, new_state=ChunkState.FAILED, error=CRASH)
    assert _snapshot(store, job.id) == before


def test_a_lease_is_never_expired_before_its_deadline(store: JobStore, clock: ManualClock) -> None:
    _, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    assert store.expired_leases() == []
    assert not store.fail_chunk(
        leased.id,
        lease_id=leased.lease_id,
        attempt=1,
        new_state=ChunkState.RETRY_WAIT,
        error=CRASH,
        not_before=clock.now,
        expired=True,
    )
    clock.advance(DEADLINE)
    assert [c.id for c in store.expired_leases()] == [leased.id]
    assert store.fail_chunk(
        leased.id,
        lease_id=leased.lease_id,
        attempt=1,
        new_state=ChunkState.RETRY_WAIT,
        error=CRASH,
        not_before=clock.now,
        expired=True,
    )
    assert store.expired_leases() == []


@pytest.mark.parametrize(
    ("kwargs", "error_type"),
    [
        ({"new_state": ChunkState.DONE}, InvalidStoreValueError),
        ({"new_state": ChunkState.RETRY_WAIT, "not_before": None}, InvalidStoreValueError),
        ({"new_state": ChunkState.RETRY_WAIT, "deadline_seconds": -5}, InvalidStoreValueError),
        ({"new_state": ChunkState.FAILED, "error": None}, InvalidStoreValueError),
        ({"new_state": "BROKEN"}, ValueError),
    ],
)
def test_bad_failure_reports_are_refused(store: JobStore, clock: ManualClock, kwargs: dict, error_type) -> None:
    _, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    call = {"lease_id": leased.lease_id, "attempt": 1, "error": CRASH, "not_before": clock.now + 2}
    call.update(kwargs)
    with pytest.raises(error_type):
        store.fail_chunk(leased.id, **call)
    assert store.get_chunk(leased.id).state is ChunkState.LEASED


def test_dead_letter_fails_the_job_and_keeps_the_partial_transcript(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 3)
    assert complete(store, lease(store, chunks[0]), "kept text").accepted
    bad = lease(store, chunks[1])
    assert store.fail_chunk(
        bad.id, lease_id=bad.lease_id, attempt=1, new_state=ChunkState.FAILED, error=INVALID, job_failed=True
    )
    failed = store.get_job(job.id)
    assert failed.state is JobState.FAILED and failed.error == INVALID
    assert transcript(store.chunks_of(job.id)) == "kept text"
    assert [c.id for c in store.dead_letters()] == [bad.id]
    assert store.get_chunk(bad.id).failed_at == clock.now
    # Nothing of a failed job is handed out.
    assert store.dispatchable_chunks(limit=5) == []


def test_dead_letter_without_job_failed_fails_the_job_when_the_rest_is_done(store: JobStore) -> None:
    job, chunks = planned_job(store, 2)
    bad, good = lease(store, chunks[0]), lease(store, chunks[1])
    assert store.fail_chunk(bad.id, lease_id=bad.lease_id, attempt=1, new_state=ChunkState.FAILED, error=INVALID)
    assert store.get_job(job.id).state is JobState.PROCESSING
    assert complete(store, good, "second half").accepted
    after = store.get_job(job.id)
    assert after.state is JobState.FAILED and after.error == INVALID


def test_retry_failed_requeues_dead_letters_and_the_job_can_complete(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 2)
    assert complete(store, lease(store, chunks[0]), "one").accepted
    bad = lease(store, chunks[1])
    store.fail_chunk(
        bad.id, lease_id=bad.lease_id, attempt=1, new_state=ChunkState.FAILED, error=CRASH, job_failed=True
    )

    assert store.retry_failed(job.id) == 1
    requeued = store.get_chunk(bad.id)
    assert (requeued.state, requeued.failures, requeued.error, requeued.failed_at) == (
        ChunkState.PENDING,
        0,
        None,
        None,
    )
    again = store.get_job(job.id)
    assert again.state is JobState.PENDING and again.error is None and again.chunk_done == 1
    assert store.dead_letters() == []
    second = lease(store, requeued)
    assert second.attempt == 2
    assert complete(store, second, "two").job_completed
    assert transcript(store.chunks_of(job.id)) == "one two"


def test_retry_failed_is_refused_for_finished_jobs(store: JobStore) -> None:
    job = add_job(store)
    store.change_job_state(job.id, JobState.PENDING, JobState.CANCELLED)
    with pytest.raises(JobStateConflictError) as caught:
        store.retry_failed(job.id)
    assert "CANCELLED" in caught.value.user_message("en")


# --- split -------------------------------------------------------------------------------


def test_split_keeps_transcript_order_at_any_depth(store: JobStore) -> None:
    job, chunks = planned_job(store, 3)
    middle = lease(store, chunks[1])
    halves = store.split_chunk(
        middle.id,
        lease_id=middle.lease_id,
        attempt=1,
        error=OOM,
        halves=(ChunkSpan(0, 30.0, 45.0, CutKind.SILENCE), ChunkSpan(1, 45.0, 60.0, CutKind.SILENCE)),
    )
    assert halves is not None
    first_half = halves[0]
    assert (first_half.parent_id, first_half.index, first_half.failures) == (middle.id, 1, 1)
    assert store.get_chunk(middle.id).state is ChunkState.SPLIT
    assert store.get_job(job.id).chunk_total == 4
    # Split a half again, this time with an overlapping forced cut.
    leased_half = lease(store, first_half)
    quarters = store.split_chunk(
        leased_half.id,
        lease_id=leased_half.lease_id,
        attempt=1,
        halves=(ChunkSpan(0, 30.0, 38.0, CutKind.FORCED), ChunkSpan(1, 36.0, 45.0, CutKind.SILENCE, 2.0)),
    )
    assert quarters is not None
    order = store.chunks_of(job.id)
    assert [(c.start, c.end) for c in order] == [(0, 30), (30, 38), (36, 45), (45, 60), (60, 90)]
    assert store.get_job(job.id).chunk_total == 5
    assert [c.state for c in store.chunks_of(job.id, include_split=True)].count(ChunkState.SPLIT) == 2

    for chunk in store.dispatchable_chunks(limit=10):
        assert complete(store, lease(store, chunk), f"at {chunk.start:g}").accepted
    done = store.get_job(job.id)
    assert done.state is JobState.COMPLETED and done.chunk_done == done.chunk_total == 5
    assert transcript(store.chunks_of(job.id)) == "at 0 at 30 at 36 at 45 at 60"


def test_split_results_read_back_in_order(store: JobStore) -> None:
    job, chunks = planned_job(store, 2)
    first = lease(store, chunks[0])
    a, b = store.split_chunk(
        first.id, lease_id=first.lease_id, attempt=1, halves=(ChunkSpan(0, 0.0, 15.0), ChunkSpan(1, 15.0, 30.0))
    )
    # Finish them out of order; the transcript still reads in time order.
    complete(store, lease(store, chunks[1]), "three")
    complete(store, lease(store, b), "two")
    complete(store, lease(store, a), "one")
    assert transcript(store.chunks_of(job.id)) == "one two three"
    assert store.get_job(job.id).state is JobState.COMPLETED


@pytest.mark.parametrize(
    "halves",
    [
        (ChunkSpan(0, 0.0, 15.0), ChunkSpan(1, 15.0, 29.0)),
        (ChunkSpan(0, 1.0, 15.0), ChunkSpan(1, 15.0, 30.0)),
        (ChunkSpan(0, 0.0, 15.0), ChunkSpan(1, 16.0, 30.0)),
        (ChunkSpan(0, 0.0, 15.0),),
    ],
)
def test_bad_halves_are_refused(store: JobStore, halves) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    with pytest.raises(InvalidStoreValueError):
        store.split_chunk(leased.id, lease_id=leased.lease_id, attempt=1, halves=halves)
    assert store.get_chunk(leased.id).state is ChunkState.LEASED and store.get_job(job.id).chunk_total == 1


def test_split_with_a_stale_lease_is_refused(store: JobStore) -> None:
    _, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    assert (
        store.split_chunk(
            leased.id, lease_id="other", attempt=1, halves=(ChunkSpan(0, 0.0, 15.0), ChunkSpan(1, 15.0, 30.0))
        )
        is None
    )
    assert len(store.chunks_of(leased.job_id, include_split=True)) == 1


# --- release, recovery, expiry --------------------------------------------------------------


def test_release_returns_the_chunk_without_spending_a_failure(store: JobStore) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    assert not store.release_chunk(leased.id, lease_id="wrong")
    assert store.release_chunk(leased.id, lease_id=leased.lease_id)
    back = store.get_chunk(leased.id)
    assert (back.state, back.failures, back.attempt, back.lease_id) == (ChunkState.PENDING, 0, 1, None)
    assert not store.release_chunk(leased.id, lease_id=leased.lease_id)
    # A reply to the released lease is dropped; the next lease is a new attempt.
    assert complete(store, leased, "x").reason is DropReason.NOT_LEASED
    again = lease(store, back)
    assert again.attempt == 2
    assert complete(store, leased, "x").reason is DropReason.SUPERSEDED
    assert store.get_job(job.id).chunk_done == 0


def test_recover_after_restart_requeues_leases_and_keeps_done_chunks(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 3)
    done = complete(store, lease(store, chunks[0]), "done before the crash").chunk
    in_flight = [lease(store, chunks[1], agent="a1"), lease(store, chunks[2], agent="a2")]
    clock.advance(30)
    recovered = store.recover_after_restart()
    assert sorted(c.id for c in recovered) == sorted(c.id for c in in_flight)
    for chunk in recovered:
        assert (chunk.state, chunk.failures, chunk.lease_id) == (ChunkState.PENDING, 0, None)
    assert store.get_chunk(done.id).state is ChunkState.DONE
    assert store.get_job(job.id).chunk_done == 1
    events = store.events(kinds=[EventKind.LEASE_RECOVERED])
    assert {(e.chunk_id, e.agent_id) for e in events} == {(in_flight[0].id, "a1"), (in_flight[1].id, "a2")}
    # The agent of the old run answers late, after the chunk was leased again.
    relet = lease(store, recovered[0], agent="a3")
    old = next(c for c in in_flight if c.id == relet.id)
    assert complete(store, old, "late").reason is DropReason.SUPERSEDED
    assert [c.id for c in store.recover_after_restart()] == [relet.id]


def test_leases_of_agent(store: JobStore) -> None:
    _, chunks = planned_job(store, 3)
    lease(store, chunks[0], agent="a1")
    lease(store, chunks[1], agent="a2")
    lease(store, chunks[2], agent="a1")
    assert [c.id for c in store.leases_of_agent("a1")] == [chunks[0].id, chunks[2].id]
    assert store.leases_of_agent("nobody") == []


def test_chunk_transitions_outside_the_table_are_rejected_by_the_domain() -> None:
    from sttdesk.domain.jobs import check_chunk_transition

    with pytest.raises(IllegalTransitionError):
        check_chunk_transition(ChunkState.DONE, ChunkState.PENDING)


# --- progress ------------------------------------------------------------------------------------


def test_job_progress_counts_and_audio(store: JobStore, clock: ManualClock) -> None:
    job, chunks = planned_job(store, 4)
    leased = lease(store, chunks[0])
    clock.advance(3)
    store.complete_chunk(
        leased.id,
        lease_id=leased.lease_id,
        attempt=1,
        result_json=result_json("a"),
        agent_id=leased.lease_agent_id,
        agent_seconds=2.5,
    )
    lease(store, chunks[1])
    third = lease(store, chunks[2])
    store.fail_chunk(
        third.id,
        lease_id=third.lease_id,
        attempt=1,
        new_state=ChunkState.RETRY_WAIT,
        error=CRASH,
        not_before=clock.now + 2,
    )
    progress = store.job_progress(job.id)
    assert (progress.total, progress.done, progress.leased, progress.waiting, progress.pending, progress.failed) == (
        4,
        1,
        1,
        1,
        1,
        0,
    )
    assert progress.audio_seconds_total == 120.0 and progress.audio_seconds_done == 30.0
    assert progress.processing_seconds == 2.5 and progress.fraction == 0.25


def test_results_can_be_left_out_for_light_listings(store: JobStore) -> None:
    job, chunks = planned_job(store, 1)
    complete(store, lease(store, chunks[0]), "text")
    assert store.chunks_of(job.id, with_results=False)[0].result_json is None
    full = store.chunks_of(job.id)[0]
    assert json.loads(full.result_json)["segments"][0]["text"] == "text"
    assert full.result().language == "en"
