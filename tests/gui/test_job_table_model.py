"""The job table model: Qt's model rules, what each column shows, updates in place, sorting."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt

from sttdesk.gui.job_table_model import JOB_ID_ROLE, PROGRESS_ROLE, SORT_ROLE, Column, JobTableModel
from sttdesk.service.views import JobView


def make_view(job_id: str, **changes: Any) -> JobView:
    view = JobView(
        id=job_id, name=f"{job_id}.flac", path=f"/home/user/{job_id}.flac", state="PENDING", language="en",
        detected_language=None, model="base-q8_0", duration=754.0, created_at=1000.0, started_at=None,
        finished_at=None, chunks_total=0, chunks_done=0, chunks_failed=0, chunks_running=0, retries=0,
        error_code=None, error_en=None, error_vi=None, eta_seconds=None, elapsed_seconds=None, agents=(),
    )
    return replace(view, **changes)


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_the_model_follows_qt_rules_through_updates(qtmodeltester: Any) -> None:
    model = JobTableModel()
    qtmodeltester.check(model, force_py=True)
    model.set_jobs([make_view("a", created_at=3.0), make_view("b", created_at=2.0), make_view("c", created_at=1.0)])
    model.update_jobs([make_view("b", created_at=2.0, state="PROCESSING", chunks_total=4, chunks_done=1)])
    model.update_jobs([make_view("d", created_at=4.0)])
    model.remove_job("a")
    model.set_jobs([make_view("c", created_at=1.0), make_view("e", created_at=5.0)])
    qtmodeltester.check(model, force_py=True)
    assert model.job_ids() == ["e", "c"]


def test_columns_show_what_a_user_reads(qtbot: Any) -> None:
    clock = Clock()
    model = JobTableModel(clock=clock)
    model.set_jobs([make_view(
        "talk", state="PROCESSING", language="auto", detected_language="vi", chunks_total=8, chunks_done=3,
        started_at=4000.0, elapsed_seconds=60.0, eta_seconds=100.0, agents=("a1", "a2"), duration=3725.0,
    )])
    model.set_agent_names({"a1": "local-1"})

    def shown(column: Column) -> Any:
        return model.index(0, column).data()

    assert shown(Column.NAME) == "talk.flac"
    assert shown(Column.DURATION) == "1:02:05"
    assert shown(Column.LANGUAGE) == "Tiếng Việt (detected)"
    assert shown(Column.STATE) == "Transcribing"
    assert shown(Column.PROGRESS) == "3/8"
    assert model.index(0, Column.PROGRESS).data(PROGRESS_ROLE) == (3, 8, 0, "PROCESSING")
    assert shown(Column.ELAPSED) == "1:00"
    assert shown(Column.REMAINING) == "~1:40"
    assert shown(Column.AGENTS) == "local-1, a2"
    assert model.index(0, Column.NAME).data(Qt.ItemDataRole.ToolTipRole) == "/home/user/talk.flac"
    # Running clocks move on between reads.
    clock.now += 10
    assert shown(Column.ELAPSED) == "1:10"
    assert shown(Column.REMAINING) == "~1:30"


def test_failures_show_the_error_in_the_ui_language(qtbot: Any) -> None:
    failed = make_view("bad", state="FAILED", chunks_total=3, chunks_done=2, chunks_failed=1, retries=3,
                       error_code="engine_crashed", error_en="The engine crashed.", error_vi="Bộ máy bị lỗi.")
    english, vietnamese = JobTableModel(ui_language="en"), JobTableModel(ui_language="vi")
    english.set_jobs([failed])
    vietnamese.set_jobs([failed])

    tip = english.index(0, Column.STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert "The engine crashed." in tip and "1 part failed" in tip and "3 retries" in tip
    assert "Bộ máy bị lỗi." in vietnamese.index(0, Column.STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert english.index(0, Column.STATE).data() == "Failed"


def test_rows_update_in_place_and_sort_by_value(qtbot: Any) -> None:
    model = JobTableModel()
    model.set_jobs([make_view("short", duration=9.0, created_at=2.0), make_view("long", duration=600.0,
                                                                                created_at=1.0)])
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(Column.DURATION, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(row, 0).data(JOB_ID_ROLE) for row in range(2)] == ["long", "short"]

    inserted: list[int] = []
    model.rowsInserted.connect(lambda *args: inserted.append(1))
    model.update_jobs([make_view("short", duration=900.0, created_at=2.0)])
    assert not inserted  # an update never re-inserts a row (selections stay)
    assert [proxy.index(row, 0).data(JOB_ID_ROLE) for row in range(2)] == ["short", "long"]
    assert model.index(model.row_of("short"), Column.DURATION).data() == "15:00"
