"""The transcript view on a real core: growing live, corrected in place, played from a clicked line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from sttdesk.gui.transcript_model import PENDING_GAP, SEGMENT, TranscriptColumn
from sttdesk.service.job_service import JobRequest

from .conftest import JOB_TIMEOUT_MS, plays_audio

pytestmark = pytest.mark.slow


def test_the_transcript_grows_as_chunks_finish(qtbot: Any, desktop: Any, long_recording: Path) -> None:
    service = desktop.core.service
    # Half a second per chunk: the view is read several times while the job runs.
    job_id = service.add(JobRequest(path=long_recording, language="en", options={"fake": {"delay": 0.5}}))
    window = desktop.window
    qtbot.waitUntil(lambda: window.jobs.row_of(job_id) >= 0, timeout=JOB_TIMEOUT_MS)
    window.table.select_job(job_id)
    panel = window.transcript
    segment_counts: list[int] = []

    def record() -> bool:
        kinds = [row.kind for row in panel.model.rows()]
        segment_counts.append(kinds.count(SEGMENT))
        return panel.snapshot is not None and panel.snapshot.job.state == "COMPLETED" and not panel.loading

    qtbot.waitUntil(record, timeout=JOB_TIMEOUT_MS)
    total = service.get(job_id).chunks_total
    assert total >= 3
    kinds = [row.kind for row in panel.model.rows()]
    assert PENDING_GAP not in kinds and kinds.count(SEGMENT) == total  # the fake engine: one segment per chunk
    grew = sorted(set(segment_counts))
    assert len(grew) >= 3, f"the view jumped from nothing to everything: {grew}"
    times = [row.start for row in panel.model.rows()]
    assert times == sorted(times)


def test_a_corrected_line_is_saved_and_shown(qtbot: Any, desktop: Any, en_audio: Path) -> None:
    service, store = desktop.core.service, desktop.core.store
    job_id = service.add(JobRequest(path=en_audio / "103-1240-0000.flac", language="en"))
    window = desktop.window
    qtbot.waitUntil(lambda: window.jobs.job(job_id) is not None and window.jobs.job(job_id).state == "COMPLETED",
                    timeout=JOB_TIMEOUT_MS)
    window.table.select_job(job_id)
    panel = window.transcript
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and panel.snapshot.job.state == "COMPLETED",
                    timeout=JOB_TIMEOUT_MS)

    # Edit like a user: F2 on the line opens an editor, type, Enter.
    table = panel.view
    table.setFocus()
    table.setCurrentIndex(panel.model.index(0, TranscriptColumn.TEXT))
    qtbot.keyClick(table, Qt.Key.Key_F2)
    editor = table.findChild(QLineEdit)
    assert editor is not None
    editor.selectAll()
    qtbot.keyClicks(editor, "Chapter one, corrected by hand.")
    qtbot.keyClick(editor, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: bool(store.segment_edits(job_id)), timeout=10_000)
    saved = store.segment_edits(job_id)
    assert [(e.segment_index, e.segment_start, e.text) for e in saved] == [(0, 0.0, "Chapter one, corrected by hand.")]
    # Read back from the core (not just the editor's text): the correction is what the view shows.
    qtbot.waitUntil(lambda: panel.snapshot is not None and panel.snapshot.edited == frozenset({0}),
                    timeout=10_000)
    assert panel.model.rows()[0].text == "Chapter one, corrected by hand."
    assert panel.model.rows()[0].edited
    assert "1 correction" in panel.summary.text()


@plays_audio
def test_clicking_a_line_plays_from_there_and_highlights_it(qtbot: Any, desktop: Any,
                                                           long_recording: Path) -> None:
    service = desktop.core.service
    job_id = service.add(JobRequest(path=long_recording, language="en"))
    window = desktop.window
    qtbot.waitUntil(lambda: window.jobs.job(job_id) is not None and window.jobs.job(job_id).state == "COMPLETED",
                    timeout=JOB_TIMEOUT_MS)
    window.table.select_job(job_id)
    panel = window.transcript
    qtbot.waitUntil(lambda: panel.snapshot is not None and panel.snapshot.job.state == "COMPLETED"
                    and panel.model.rowCount() >= 3, timeout=JOB_TIMEOUT_MS)

    target = panel.model.rows()[2]
    rect = panel.view.visualRect(panel.model.index(2, TranscriptColumn.TEXT))
    positions: list[float] = []
    panel.player.position_changed.connect(positions.append)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    qtbot.waitUntil(lambda: any(p >= target.start for p in positions), timeout=20_000)
    assert panel.player.job_id == job_id
    assert panel.model.playing_row == 2
    assert min(p for p in positions if p > 0.5) >= target.start - 0.5  # it started at the line, not at 0
    panel.player.stop()
