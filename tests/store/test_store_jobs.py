"""Jobs in the store: add, read, list, state changes (legal, illegal, stale), fields, delete, edits."""

from __future__ import annotations

import pytest

from sttdesk.domain.errors import UnsupportedLanguageError
from sttdesk.domain.jobs import JOB_TRANSITIONS, IllegalTransitionError, JobState
from sttdesk.domain.records import ErrorInfo, EventKind
from sttdesk.store import (
    InvalidStoreValueError,
    JobNotFoundError,
    JobStateConflictError,
    JobStore,
)
from tests.store.helpers import DEADLINE, ManualClock, add_job, complete, even_spans, lease, planned_job

BOOM = ErrorInfo("invalid_audio", "The file has no audio.", "Tệp không có âm thanh.")


def test_added_job_is_pending_with_its_fields(store: JobStore, clock: ManualClock) -> None:
    job = store.add_job(
        source_path="/recordings/meeting.m4a",
        language="VI",
        model_name="base-q8_0",
        size_bytes=1234,
        duration_seconds=61.5,
        decode_options={"beam_size": 5},
        extras={"formats": ["srt", "txt"], "webhook": "http://localhost/hook"},
        work_dir="/data/jobs/x",
    )
    assert job.state is JobState.PENDING
    assert len(job.id) == 12 and int(job.id, 16) >= 0
    assert job.display_name == "meeting.m4a"
    assert job.language_requested == "vi"
    assert job.decode_options == {"beam_size": 5}
    assert job.extras["formats"] == ["srt", "txt"]
    assert job.created_at == clock.now and job.planned_at is None and job.chunk_total == 0
    assert store.get_job(job.id) == job
    assert [e.kind for e in store.events(job_id=job.id)] == [EventKind.JOB_ADDED.value]


def test_job_ids_are_unique_and_sequence_follows_adding_order(store: JobStore) -> None:
    jobs = [add_job(store, f"f{i}.wav") for i in range(20)]
    assert len({j.id for j in jobs}) == 20
    assert [j.seq for j in jobs] == list(range(1, 21))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size_bytes": -1}, "size_bytes"),
        ({"duration_seconds": float("nan")}, "duration_seconds"),
        ({"decode_options": {"callback": object()}}, "decode_options"),
        ({"extras": ["not", "a", "mapping"]}, "extras"),
        ({"model_name": " "}, "model_name"),
        ({"priority": 1.5}, "priority"),
        ({"job_id": "Not An Id!"}, "job id"),
    ],
)
def test_bad_job_values_are_refused_with_a_typed_error(store: JobStore, kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidStoreValueError) as caught:
        add_job(store, **kwargs)
    assert field in caught.value.user_message("en")
    assert field in caught.value.user_message("vi")
    assert store.count_jobs() == 0


def test_unsupported_language_is_refused(store: JobStore) -> None:
    with pytest.raises(UnsupportedLanguageError):
        add_job(store, language="fr")
    assert store.count_jobs() == 0


def test_duplicate_given_job_id_is_refused(store: JobStore) -> None:
    add_job(store, job_id="abc123")
    with pytest.raises(InvalidStoreValueError, match="already exists"):
        add_job(store, job_id="abc123")


def test_unknown_job_gives_not_found_in_both_languages(store: JobStore) -> None:
    with pytest.raises(JobNotFoundError) as caught:
        store.get_job("ffffff")
    assert "ffffff" in caught.value.user_message("en") and "ffffff" in caught.value.user_message("vi")
    assert store.find_job("ffffff") is None
    with pytest.raises(JobNotFoundError):
        store.change_job_state("ffffff", JobState.PENDING, JobState.CANCELLED)
    with pytest.raises(JobNotFoundError):
        store.update_job_fields("ffffff", duration_seconds=3.0)
    with pytest.raises(JobNotFoundError):
        store.chunks_of("ffffff")
    with pytest.raises(JobNotFoundError):
        store.job_progress("ffffff")


def test_list_orders_filters_and_counts(store: JobStore, clock: ManualClock) -> None:
    first = add_job(store, "a.wav")
    clock.advance(1)
    second = add_job(store, "b.wav", priority=5)
    clock.advance(1)
    third = add_job(store, "c.wav")
    store.change_job_state(third.id, JobState.PENDING, JobState.CANCELLED)

    assert [j.id for j in store.list_jobs()] == [third.id, second.id, first.id]
    assert [j.id for j in store.list_jobs(order="oldest")] == [first.id, second.id, third.id]
    assert [j.id for j in store.list_jobs(order="queue")] == [second.id, first.id, third.id]
    assert [j.id for j in store.list_jobs(states=[JobState.PENDING], order="oldest")] == [first.id, second.id]
    assert [j.id for j in store.list_jobs(order="oldest", limit=1, offset=1)] == [second.id]
    assert store.count_jobs() == 3
    assert store.count_jobs(["CANCELLED"]) == 1
    assert [j.id for j in store.list_jobs(states="CANCELLED")] == [third.id]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.list_jobs(order="random"),
        lambda s: s.list_jobs(states=["RUNNING"]),
        lambda s: s.list_jobs(limit=0),
        lambda s: s.count_jobs(["nope"]),
    ],
)
def test_bad_list_arguments_are_refused(store: JobStore, call) -> None:
    with pytest.raises(InvalidStoreValueError):
        call(store)


def _job_in_state(store: JobStore, state: JobState) -> str:
    """A fresh job driven to ``state`` through legal changes."""
    job = add_job(store)
    if state is not JobState.PENDING:
        assert store.change_job_state(job.id, JobState.PENDING, state, error=BOOM if state is JobState.FAILED else None)
    return job.id


ALL_PAIRS = [(old, new) for old in JobState for new in JobState if old is not new]


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS, ids=[f"{o.value}->{n.value}" for o, n in ALL_PAIRS])
def test_every_job_transition_is_applied_or_refused_by_the_table(store: JobStore, old: JobState, new: JobState) -> None:
    job_id = _job_in_state(store, old)
    before = store.get_job(job_id)
    events_before = len(store.events(job_id=job_id))
    if new in JOB_TRANSITIONS[old]:
        assert store.change_job_state(job_id, old, new, now=before.created_at + 5)
        after = store.get_job(job_id)
        assert after.state is new
        last = store.events(job_id=job_id)[-1]
        assert (last.kind, last.data["old"], last.data["new"]) == (EventKind.JOB_STATE.value, old.value, new.value)
    else:
        with pytest.raises(IllegalTransitionError):
            store.change_job_state(job_id, old, new)
        assert store.get_job(job_id) == before
        assert len(store.events(job_id=job_id)) == events_before


def test_stale_compare_and_set_changes_nothing(store: JobStore) -> None:
    job_id = _job_in_state(store, JobState.PAUSED)
    before = store.get_job(job_id)
    events_before = store.events(job_id=job_id)
    # The caller believes the job is still PENDING: refused, nothing written.
    assert store.change_job_state(job_id, JobState.PENDING, JobState.CANCELLED) is False
    assert store.get_job(job_id) == before
    assert store.events(job_id=job_id) == events_before


def test_state_change_times_and_error(store: JobStore, clock: ManualClock) -> None:
    job = add_job(store)
    clock.advance(10)
    assert store.change_job_state(job.id, JobState.PENDING, JobState.PROCESSING)
    started = store.get_job(job.id)
    assert started.started_at == clock.now and started.finished_at is None
    clock.advance(10)
    assert store.change_job_state(job.id, JobState.PROCESSING, JobState.FAILED, error=BOOM)
    failed = store.get_job(job.id)
    assert failed.finished_at == clock.now and failed.error == BOOM
    assert failed.started_at == started.started_at
    assert store.change_job_state(job.id, JobState.FAILED, JobState.PENDING)
    again = store.get_job(job.id)
    assert again.error is None and again.finished_at is None


def test_state_change_can_set_fields_in_the_same_transaction(store: JobStore) -> None:
    job = add_job(store)
    assert store.change_job_state(job.id, JobState.PENDING, JobState.PAUSED, priority=3)
    assert store.get_job(job.id).priority == 3


def test_update_job_fields(store: JobStore) -> None:
    job = add_job(store)
    updated = store.update_job_fields(
        job.id, duration_seconds=125.5, language_detected="VI", extras={"formats": ["vtt"]}
    )
    assert (updated.duration_seconds, updated.language_detected, updated.extras) == (125.5, "vi", {"formats": ["vtt"]})
    assert updated.state is JobState.PENDING
    for bad in ({"state": "COMPLETED"}, {"chunk_done": 3}, {"colour": "red"}):
        with pytest.raises(InvalidStoreValueError):
            store.update_job_fields(job.id, **bad)
    assert store.get_job(job.id) == updated


def test_delete_job_removes_chunks_edits_and_events(store: JobStore) -> None:
    job, chunks = planned_job(store, 3)
    lease(store, chunks[0])
    store.save_segment_edit(job.id, segment_index=0, segment_start=0.0, text="Hello")
    other = add_job(store, "keep.wav")

    assert store.delete_job(job.id)
    with pytest.raises(JobNotFoundError):
        store.get_job(job.id)
    assert store.get_chunk(chunks[0].id) is None
    assert [e.kind for e in store.events(job_id=job.id)] == [EventKind.JOB_DELETED.value]
    assert store.get_job(other.id).state is JobState.PENDING
    assert store.delete_job(job.id) is False


def test_late_reply_for_a_deleted_job_is_dropped(store: JobStore) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    store.delete_job(job.id)
    outcome = complete(store, leased, "too late")
    assert not outcome.accepted and outcome.reason.value == "unknown_chunk"


def test_resuming_a_paused_job_whose_chunks_all_finished_completes_it(store: JobStore) -> None:
    job, chunks = planned_job(store, 2)
    first, second = lease(store, chunks[0]), lease(store, chunks[1])
    assert store.change_job_state(job.id, JobState.PROCESSING, JobState.PAUSED)
    # Work in flight when the user paused still counts.
    assert complete(store, first, "one").accepted
    assert complete(store, second, "two").accepted
    assert store.get_job(job.id).state is JobState.PAUSED
    assert store.change_job_state(job.id, JobState.PAUSED, JobState.PENDING)
    assert store.get_job(job.id).state is JobState.COMPLETED


def test_plan_refused_for_a_cancelled_job(store: JobStore) -> None:
    job = add_job(store)
    store.change_job_state(job.id, JobState.PENDING, JobState.CANCELLED)
    with pytest.raises(JobStateConflictError) as caught:
        store.plan_chunks(job.id, even_spans(2), deadline_seconds=DEADLINE)
    assert "CANCELLED" in caught.value.user_message("en") and "CANCELLED" in caught.value.user_message("vi")


def test_segment_edits_are_saved_replaced_listed_and_removed(store: JobStore, clock: ManualClock) -> None:
    job = add_job(store)
    store.save_segment_edit(job.id, segment_index=2, segment_start=12.5, text="Xin chào")
    clock.advance(5)
    store.save_segment_edit(job.id, segment_index=0, segment_start=0.0, text="Hello")
    store.save_segment_edit(job.id, segment_index=2, segment_start=12.5, text="Xin chào các bạn")
    edits = store.segment_edits(job.id)
    assert [(e.segment_index, e.text) for e in edits] == [(0, "Hello"), (2, "Xin chào các bạn")]
    assert edits[1].edited_at == clock.now
    assert store.remove_segment_edit(job.id, 0) and not store.remove_segment_edit(job.id, 0)
    assert len(store.segment_edits(job.id)) == 1
    with pytest.raises(InvalidStoreValueError):
        store.save_segment_edit(job.id, segment_index=-1, segment_start=0.0, text="x")
    with pytest.raises(JobNotFoundError):
        store.save_segment_edit("nojob", segment_index=0, segment_start=0.0, text="x")


def test_time_must_be_a_finite_number(store: JobStore) -> None:
    with pytest.raises(InvalidStoreValueError):
        add_job(store, now=float("inf"))
