"""Agents (registration, trust, counters), the event log, dead-letter purge and the metrics."""

from __future__ import annotations

import pytest

from sttdesk.domain.chunks import ChunkSpan
from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.domain.records import ErrorInfo, EventKind
from sttdesk.store import AgentNotFoundError, InvalidStoreValueError, JobStore
from tests.store.helpers import ManualClock, add_job, complete, lease, planned_job, result_json

CRASH = ErrorInfo("engine_crashed", "The engine stopped.", "Bộ máy dừng.")
DAY = 86_400.0


# --- agents ----------------------------------------------------------------------------


def test_local_agents_are_trusted_remote_ones_wait_for_approval(store: JobStore, clock: ManualClock) -> None:
    local = store.upsert_agent("local-1", local=True, slots=1, threads=1, models=["base-q8_0"])
    remote = store.upsert_agent(
        "pc-7",
        name="Office PC 7",
        host="10.0.0.7",
        endpoint="tcp://10.0.0.7:5557",
        public_key="KEY",
        fingerprint="aa:bb",
        slots=2,
        threads=2,
        cpu="i5",
        version="0.1.0",
    )
    assert local.trusted and local.local and local.models == ("base-q8_0",)
    assert not remote.trusted and remote.name == "Office PC 7" and remote.first_seen == clock.now
    assert [a.id for a in store.list_agents()] == ["local-1", "pc-7"]
    assert [a.id for a in store.list_agents(trusted=False)] == ["pc-7"]
    approved = store.set_agent_trusted("pc-7", True)
    assert approved.trusted
    assert store.events(agent_id="pc-7", kinds=[EventKind.AGENT_TRUST])[0].data["trusted"] is True


def test_reannounce_updates_fields_and_a_new_key_revokes_trust(store: JobStore, clock: ManualClock) -> None:
    store.upsert_agent("pc-7", fingerprint="aa:bb", slots=1)
    store.set_agent_trusted("pc-7", True)
    clock.advance(60)
    same = store.upsert_agent("pc-7", fingerprint="aa:bb", slots=3, models=["base", "small"])
    assert same.trusted and same.slots == 3 and same.last_seen == clock.now and same.first_seen == clock.now - 60
    changed = store.upsert_agent("pc-7", fingerprint="cc:dd", slots=3)
    assert not changed.trusted
    event = store.events(kinds=[EventKind.AGENT_KEY_CHANGED])[0]
    assert (event.data["old"], event.data["new"]) == ("aa:bb", "cc:dd")


def test_crashes_and_liveness(store: JobStore, clock: ManualClock) -> None:
    store.upsert_agent("a1", local=True)
    clock.advance(5)
    assert store.touch_agent("a1") and store.get_agent("a1").last_seen == clock.now
    assert not store.touch_agent("ghost")
    assert store.record_agent_crash("a1", detail="signal 9").crashes == 1
    with pytest.raises(AgentNotFoundError) as caught:
        store.record_agent_crash("ghost")
    assert "ghost" in caught.value.user_message("vi")
    with pytest.raises(AgentNotFoundError):
        store.get_agent("ghost")


@pytest.mark.parametrize(
    "kwargs",
    [{"slots": 0}, {"threads": -1}, {"models": "base"}, {"models": [1]}, {"name": "x" * 300}],
)
def test_bad_agent_values_are_refused(store: JobStore, kwargs: dict) -> None:
    with pytest.raises(InvalidStoreValueError):
        store.upsert_agent("a1", **kwargs)
    assert store.list_agents() == []


def test_completions_update_agent_counters(store: JobStore, clock: ManualClock) -> None:
    store.upsert_agent("a1", local=True)
    _, chunks = planned_job(store, 2)
    for chunk, seconds in zip(chunks, (3.0, 6.0)):
        leased = lease(store, chunk, agent="a1")
        clock.advance(seconds + 1)
        store.complete_chunk(
            leased.id,
            lease_id=leased.lease_id,
            attempt=1,
            result_json=result_json("x"),
            agent_id="a1",
            engine_seconds=seconds - 0.5,
            agent_seconds=seconds,
        )
    agent = store.get_agent("a1")
    assert (agent.chunks_done, agent.audio_seconds, agent.busy_seconds) == (2, 60.0, 9.0)
    assert agent.real_time_factor == pytest.approx(0.15)
    assert agent.last_seen == clock.now


# --- events ----------------------------------------------------------------------------


def test_event_log_is_polled_by_id_and_filtered(store: JobStore) -> None:
    first = store.log_event("alert", data={"metric": "retry_rate", "value": 0.3})
    job = add_job(store)
    store.log_event("webhook_sent", job_id=job.id, agent_id="a1")
    everything = store.events()
    assert [e.kind for e in everything] == ["alert", "job_added", "webhook_sent"]
    assert everything[0].id == first and everything[0].data == {"metric": "retry_rate", "value": 0.3}
    assert [e.kind for e in store.events(since_id=first)] == ["job_added", "webhook_sent"]
    assert [e.kind for e in store.events(job_id=job.id, kinds=["webhook_sent"])] == ["webhook_sent"]
    assert len(store.events(limit=1)) == 1


@pytest.mark.parametrize("kind", ["", "x" * 65, "new\nline", 42])
def test_bad_event_kinds_are_refused(store: JobStore, kind) -> None:
    with pytest.raises(InvalidStoreValueError):
        store.log_event(kind)
    assert store.events() == []


def test_unserialisable_event_data_is_refused(store: JobStore) -> None:
    with pytest.raises(InvalidStoreValueError):
        store.log_event("alert", data={"when": object()})


# --- dead letters -------------------------------------------------------------------------


def _dead_letter(store: JobStore, name: str) -> tuple[str, int]:
    job, chunks = planned_job(store, 2, name)
    complete(store, lease(store, chunks[0]), f"kept from {name}")
    bad = lease(store, chunks[1])
    store.fail_chunk(
        bad.id, lease_id=bad.lease_id, attempt=1, new_state=ChunkState.FAILED, error=CRASH, job_failed=True
    )
    return job.id, bad.id


def test_purge_forgets_old_dead_letters_and_keeps_jobs_consistent(store: JobStore, clock: ManualClock) -> None:
    old_job, old_chunk = _dead_letter(store, "old.wav")
    clock.advance(8 * DAY)
    _, new_chunk = _dead_letter(store, "new.wav")
    assert {c.id for c in store.dead_letters()} == {old_chunk, new_chunk}
    assert [c.id for c in store.dead_letters(older_than=clock.now - 7 * DAY)] == [old_chunk]

    assert store.purge_dead_letters(clock.now - 7 * DAY) == 1
    assert [c.id for c in store.dead_letters()] == [new_chunk]
    assert store.events(chunk_id=old_chunk) == []
    assert store.events(chunk_id=new_chunk) != []
    purged = store.get_chunk(old_chunk)
    assert purged.state is ChunkState.FAILED and purged.purged_at == clock.now and not purged.is_dead_letter
    assert purged.error == CRASH
    job = store.get_job(old_job)
    assert job.state is JobState.FAILED and job.chunk_total == 2 and job.chunk_done == 1
    assert [c.state for c in store.chunks_of(old_job)] == [ChunkState.DONE, ChunkState.FAILED]
    assert store.events(job_id=old_job, kinds=[EventKind.DEAD_LETTERS_PURGED])[0].data["count"] == 1
    assert store.purge_dead_letters(clock.now - 7 * DAY) == 0
    # "Retry failed" still works on a purged job.
    assert store.retry_failed(old_job) == 1
    assert store.get_job(old_job).state is JobState.PENDING


# --- metrics --------------------------------------------------------------------------------


def test_metrics_on_a_known_history(store: JobStore, clock: ManualClock) -> None:
    """Job A: 2 chunks done (4 s, 8 s), one after a retry. Job B: a dead letter. Job C: queued."""
    store.upsert_agent("a1", local=True)
    store.upsert_agent("a2", local=True)
    start = clock.now
    _, a_chunks = planned_job(store, 2, "a.wav")
    first = lease(store, a_chunks[0], agent="a1")
    clock.advance(4)
    store.complete_chunk(
        first.id, lease_id=first.lease_id, attempt=1, result_json=result_json("one"), agent_id="a1", agent_seconds=4.0
    )
    second = lease(store, a_chunks[1], agent="a2")
    clock.advance(1)
    store.fail_chunk(
        second.id,
        lease_id=second.lease_id,
        attempt=1,
        new_state=ChunkState.RETRY_WAIT,
        error=CRASH,
        not_before=clock.now,
    )
    store.record_agent_crash("a2")
    store.wake_retries()
    second = lease(store, store.get_chunk(second.id), agent="a1")
    clock.advance(8)
    assert complete(store, second, "two").job_completed

    _, b_chunks = planned_job(store, 1, "b.wav")
    bad = lease(store, b_chunks[0], agent="a2")
    clock.advance(2)
    store.fail_chunk(
        bad.id, lease_id=bad.lease_id, attempt=1, new_state=ChunkState.FAILED, error=CRASH, job_failed=True
    )
    planned_job(store, 3, "c.wav")

    m = store.metrics(window_seconds=3600)
    assert m.jobs_by_state["COMPLETED"] == 1 and m.jobs_by_state["FAILED"] == 1 and m.jobs_by_state["PENDING"] == 1
    assert (m.jobs_completed, m.jobs_failed) == (1, 1)
    assert (m.job_success_rate, m.job_failure_rate) == (0.5, 0.5)
    assert m.retries_per_job == 0.5  # A retried once, B never
    assert (m.chunk_attempts, m.chunk_failed_attempts) == (4, 2)
    assert m.retry_rate == 0.5
    assert m.chunk_seconds_mean == pytest.approx(6.0) and m.chunk_seconds_p95 == pytest.approx(8.0)
    assert m.processing_seconds_total == pytest.approx(12.0)
    assert m.job_seconds_mean == pytest.approx(13.0)
    assert m.dead_letter_depth == 1
    assert m.agent_crashes == 1
    assert m.queue_depth == 3 and m.leased_chunks == 0
    by_id = {a.agent_id: a for a in m.agents}
    assert by_id["a1"].chunks_done == 2 and by_id["a1"].crashes == 0
    assert by_id["a2"].chunks_done == 0 and by_id["a2"].crashes == 1
    assert by_id["a1"].real_time_factor == pytest.approx((4.0 + 8.0) / 60.0)

    # An hour later the window is empty; the state figures stay.
    clock.advance(3601 + (clock.now - start))
    later = store.metrics(window_seconds=3600)
    assert (later.jobs_completed, later.chunk_attempts, later.agent_crashes) == (0, 0, 0)
    assert later.retry_rate is None and later.job_success_rate is None and later.chunk_seconds_mean is None
    assert later.dead_letter_depth == 1 and later.queue_depth == 3


def test_metrics_window_must_be_positive(store: JobStore) -> None:
    with pytest.raises(InvalidStoreValueError):
        store.metrics(window_seconds=0)


def test_percentile_is_nearest_rank() -> None:
    from sttdesk.store.metrics import percentile

    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(i) for i in range(1, 21)], 0.95) == 19.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0


def test_splits_count_as_failed_attempts(store: JobStore) -> None:
    _, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    store.split_chunk(
        leased.id, lease_id=leased.lease_id, attempt=1, halves=(ChunkSpan(0, 0.0, 15.0), ChunkSpan(1, 15.0, 30.0))
    )
    m = store.metrics()
    assert (m.chunk_attempts, m.chunk_failed_attempts, m.queue_depth) == (1, 1, 2)
