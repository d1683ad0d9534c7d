"""Which actions apply to which jobs, and how refusals come back."""

from __future__ import annotations

from typing import Any

from sttdesk.gui.job_actions import OPERATIONS, JobActions, applicable, run_operation
from sttdesk.service.job_service import JobNotFoundError, JobStateError

from .test_job_table_model import make_view


class RacingService:
    """Refuses the first pause as if the job had just been handed to an agent (a compare-and-set miss)."""

    def __init__(self, state_after_race: str) -> None:
        self.state_after_race = state_after_race
        self.calls: list[str] = []

    def pause(self, job_id: str) -> None:
        self.calls.append(job_id)
        if len(self.calls) == 1:
            raise JobStateError(action="pause", action_vi="tạm dừng", state="PENDING")
        if job_id == "gone":
            raise JobNotFoundError(job_id=job_id)

    def get(self, job_id: str) -> Any:
        return make_view(job_id, state=self.state_after_race)


def test_operations_apply_to_the_states_they_fit() -> None:
    jobs = [make_view("w", state="PENDING"), make_view("p", state="PAUSED"), make_view("f", state="FAILED"),
            make_view("d", state="COMPLETED")]
    assert applicable(OPERATIONS["pause"], jobs) == ["w"]
    assert applicable(OPERATIONS["resume"], jobs) == ["p"]
    assert applicable(OPERATIONS["retry"], jobs) == ["f"]
    assert applicable(OPERATIONS["cancel"], jobs) == ["w", "p", "f"]
    assert applicable(OPERATIONS["remove"], jobs) == ["w", "p", "f", "d"]


def test_actions_are_enabled_for_the_selection(qtbot: Any) -> None:
    actions = JobActions()
    assert not any(action.isEnabled() for action in actions.job_actions)
    actions.set_selection([make_view("d", state="COMPLETED")])
    assert actions.export.isEnabled() and actions.remove.isEnabled() and actions.open_folder.isEnabled()
    assert not actions.pause.isEnabled() and not actions.retry.isEnabled()
    actions.set_selection([make_view("f", state="FAILED"), make_view("r", state="PROCESSING")])
    assert actions.retry.isEnabled() and actions.pause.isEnabled() and actions.cancel.isEnabled()
    assert not actions.resume.isEnabled()


def test_a_race_with_the_scheduler_is_tried_again_but_a_real_refusal_is_reported() -> None:
    racing = RacingService(state_after_race="PROCESSING")
    assert run_operation(racing, OPERATIONS["pause"], ["a"]) == []  # type: ignore[arg-type]
    assert racing.calls == ["a", "a"]

    finished = RacingService(state_after_race="COMPLETED")
    refused = run_operation(finished, OPERATIONS["pause"], ["a", "gone"])  # type: ignore[arg-type]
    assert [(job_id, error.code) for job_id, error in refused] == [("a", "job_state"), ("gone", "job_not_found")]
