from __future__ import annotations

import pytest

from sttdesk.domain.jobs import (
    CHUNK_TRANSITIONS,
    JOB_TRANSITIONS,
    ChunkState,
    IllegalTransitionError,
    JobState,
    check_chunk_transition,
    check_job_transition,
)


def test_every_state_has_a_row() -> None:
    assert set(JOB_TRANSITIONS) == set(JobState)
    assert set(CHUNK_TRANSITIONS) == set(ChunkState)


def test_terminal_job_states_go_nowhere() -> None:
    for state in (JobState.COMPLETED, JobState.CANCELLED):
        assert state.is_terminal
        for new in JobState:
            with pytest.raises(IllegalTransitionError):
                check_job_transition(state, new)


def test_failed_job_can_be_retried_but_not_completed_directly() -> None:
    check_job_transition(JobState.FAILED, JobState.PENDING)
    with pytest.raises(IllegalTransitionError) as info:
        check_job_transition(JobState.FAILED, JobState.COMPLETED)
    assert "FAILED" in info.value.user_message("en")
    assert "FAILED" in info.value.user_message("vi")


def test_chunk_lifecycle() -> None:
    path = [ChunkState.PENDING, ChunkState.LEASED, ChunkState.RETRY_WAIT, ChunkState.PENDING,
            ChunkState.LEASED, ChunkState.DONE]
    for old, new in zip(path, path[1:]):
        check_chunk_transition(old, new)
    with pytest.raises(IllegalTransitionError):
        check_chunk_transition(ChunkState.DONE, ChunkState.PENDING)
    with pytest.raises(IllegalTransitionError):
        check_chunk_transition(ChunkState.PENDING, ChunkState.DONE)


def test_only_pending_and_processing_jobs_are_active() -> None:
    assert {s for s in JobState if s.is_active} == {JobState.PENDING, JobState.PROCESSING}
