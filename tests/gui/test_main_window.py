"""The main window driven like a user would, on a real core with a real local agent (fake engine)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from sttdesk.domain.jobs import JobState
from sttdesk.service.job_service import JobRequest

from .conftest import JOB_TIMEOUT_MS, drop_files, job_states

pytestmark = pytest.mark.slow


def wait_for_states(qtbot: Any, app: Any, expected: dict[str, str]) -> None:
    qtbot.waitUntil(lambda: all(job_states(app).get(name) == state for name, state in expected.items()),
                    timeout=JOB_TIMEOUT_MS)


def test_dropped_files_are_transcribed_and_shown(qtbot: Any, desktop: Any, dialogs: Any, en_audio: Path) -> None:
    window = desktop.window
    first, second = en_audio / "103-1240-0000.flac", en_audio / "1081-125237-0000.flac"

    assert drop_files(window, [first, second])

    wait_for_states(qtbot, desktop, {first.name: "COMPLETED", second.name: "COMPLETED"})
    assert window.jobs.rowCount() == 2
    # The first job added is selected and its transcript shown (the fake engine says how long the audio is).
    qtbot.waitUntil(lambda: window.transcript.model.rowCount() > 0, timeout=JOB_TIMEOUT_MS)
    shown = window.transcript.snapshot
    assert shown is not None and shown.job.name in (first.name, second.name)
    text = " ".join(row.text for row in window.transcript.model.rows())
    assert "fake" in text and "seconds" in text
    assert not dialogs.errors
    # The status bar counts the queue from the table.
    assert "0 transcribing" in window.queue_label.text()


def test_drop_onto_the_table_and_a_folder(qtbot: Any, desktop: Any, en_audio: Path, tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    (folder / "nested").mkdir(parents=True)
    (folder / "notes.txt").write_text("not audio")
    for name in ("103-1240-0000.flac", "1081-125237-0000.flac"):
        (folder / "nested" / name).write_bytes((en_audio / name).read_bytes())

    # Dropping on the table's viewport works as well as on the window itself.
    assert drop_files(desktop.window.table.viewport(), [folder])

    wait_for_states(qtbot, desktop, {"103-1240-0000.flac": "COMPLETED", "1081-125237-0000.flac": "COMPLETED"})
    assert "notes.txt" not in job_states(desktop)


def test_a_corrupt_file_is_refused_with_its_message_and_nothing_else_breaks(
    qtbot: Any, desktop: Any, dialogs: Any, en_audio: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "broken.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 40)
    good = en_audio / "103-1240-0000.flac"

    assert drop_files(desktop.window, [corrupt, good])

    wait_for_states(qtbot, desktop, {good.name: "COMPLETED"})
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=JOB_TIMEOUT_MS)
    _title, text, details = dialogs.errors[0]
    assert "1 file could not be added" in text or "could not be added" in text
    assert "broken.mp3" in details
    assert "broken.mp3" not in job_states(desktop)


def test_the_gui_thread_keeps_running_while_a_file_is_added(
    qtbot: Any, desktop: Any, en_audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JobService.add probes the file with ffprobe: it must run off the GUI thread."""
    service = desktop.core.service
    release = threading.Event()
    entered = threading.Event()
    real_add = service.add
    gui_thread = threading.current_thread()
    add_threads: list[threading.Thread] = []

    def slow_add(request: JobRequest) -> str:
        add_threads.append(threading.current_thread())
        entered.set()
        release.wait(30)  # held until the test has seen the event loop turn
        return real_add(request)

    monkeypatch.setattr(service, "add", slow_add)
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()

    desktop.window.add_paths([en_audio / "103-1240-0000.flac"])
    qtbot.waitUntil(entered.is_set, timeout=10_000)
    seen = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) >= seen + 5, timeout=10_000)  # timers fire while add is blocked
    assert desktop.window.adding
    release.set()
    wait_for_states(qtbot, desktop, {"103-1240-0000.flac": "COMPLETED"})
    timer.stop()
    assert add_threads and add_threads[0] is not gui_thread


def test_pause_resume_cancel_and_remove_from_the_table(
    qtbot: Any, desktop: Any, dialogs: Any, en_audio: Path
) -> None:
    service = desktop.core.service
    # Each chunk takes 4 s in the fake engine and the one agent has one slot: the second job
    # waits while the test acts on it (a running chunk is not interrupted, so stopping waits for it).
    slow = {"fake": {"delay": 4}}
    first = service.add(JobRequest(path=en_audio / "103-1240-0000.flac", language="en", options=slow))
    second = service.add(JobRequest(path=en_audio / "1081-125237-0000.flac", language="en", options=slow))
    window = desktop.window
    qtbot.waitUntil(lambda: window.jobs.row_of(first) >= 0 and window.jobs.row_of(second) >= 0,
                    timeout=JOB_TIMEOUT_MS)

    window.table.select_job(second)
    qtbot.waitUntil(window.actions.pause.isEnabled, timeout=5000)
    assert not window.actions.resume.isEnabled()
    window.actions.pause.trigger()
    qtbot.waitUntil(lambda: window.jobs.job(second).state == "PAUSED", timeout=JOB_TIMEOUT_MS)
    qtbot.waitUntil(window.actions.resume.isEnabled, timeout=5000)
    assert not window.actions.pause.isEnabled()

    window.actions.resume.trigger()
    qtbot.waitUntil(lambda: window.jobs.job(second).state in ("PENDING", "PROCESSING"), timeout=JOB_TIMEOUT_MS)

    window.table.selectAll()
    window.actions.cancel.trigger()
    qtbot.waitUntil(lambda: {j.state for j in window.jobs.jobs()} == {"CANCELLED"}, timeout=JOB_TIMEOUT_MS)
    assert service.get(first).state == JobState.CANCELLED.value

    # Delete asks first; saying no keeps the jobs.
    dialogs.answer = False
    window.table.setFocus()
    window.table.selectAll()
    QTest.keyClick(window.table, Qt.Key.Key_Delete)
    assert dialogs.questions and "Remove 2 jobs" in dialogs.questions[-1][1]
    assert window.jobs.rowCount() == 2

    dialogs.answer = True
    QTest.keyClick(window.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: window.jobs.rowCount() == 0, timeout=JOB_TIMEOUT_MS)
    assert service.count() == 0


def test_a_failed_job_shows_its_gap_and_can_be_retried(qtbot: Any, desktop: Any, en_audio: Path) -> None:
    service = desktop.core.service
    # The fake engine reports a damaged model for this job: a permanent error, so the chunk fails at once.
    job_id = service.add(JobRequest(path=en_audio / "103-1240-0000.flac", language="en",
                                    options={"fake": {"fail": "corrupt_model"}}))
    window = desktop.window
    qtbot.waitUntil(lambda: (window.jobs.job(job_id) or None) is not None
                    and window.jobs.job(job_id).state == "FAILED", timeout=JOB_TIMEOUT_MS)
    window.table.select_job(job_id)
    panel = window.transcript
    qtbot.waitUntil(lambda: panel.snapshot is not None and panel.snapshot.job.state == "FAILED",
                    timeout=JOB_TIMEOUT_MS)
    kinds = [row.kind for row in panel.model.rows()]
    assert kinds == ["failed"]
    assert "damaged" in panel.model.rows()[0].text
    assert panel.banner.isVisibleTo(window) and panel.retry_button.isEnabled()
    assert window.actions.retry.isEnabled()

    attempts_before = window.jobs.job(job_id).retries
    events: list[str] = []
    desktop.bridge.received.connect(lambda event: events.append(event.kind.value))
    qtbot.mouseClick(panel.retry_button, Qt.MouseButton.LeftButton)
    # The job goes back to the queue and fails again (the fake engine still says the model is damaged).
    qtbot.waitUntil(lambda: "job_finished" in events, timeout=JOB_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.jobs.job(job_id).state == "FAILED", timeout=JOB_TIMEOUT_MS)
    assert "job_changed" in events
    assert window.jobs.job(job_id).retries >= attempts_before


def test_context_menu_open_folder_and_shortcuts(
    qtbot: Any, desktop: Any, dialogs: Any, en_audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = desktop.core.service
    done = service.add(JobRequest(path=en_audio / "103-1240-0000.flac", language="en"))
    waiting = service.add(JobRequest(path=en_audio / "1081-125237-0000.flac", language="en",
                                     options={"fake": {"delay": 3}}))
    window = desktop.window
    qtbot.waitUntil(lambda: window.jobs.job(done) is not None and window.jobs.job(done).state == "COMPLETED",
                    timeout=JOB_TIMEOUT_MS)

    # Right-clicking a row selects it and offers the actions that fit its state.
    table = window.table
    row_rect = table.visualRect(table.model().mapFromSource(window.jobs.index(window.jobs.row_of(done), 0)))
    menu = table.context_menu(row_rect.center())
    assert [job.id for job in table.selected_jobs()] == [done]
    offered = {action.text(): action.isEnabled() for action in menu.actions() if not action.isSeparator()}
    assert offered["&Export…"] and offered["Open Containing &Folder"] and offered["Re&move"]
    assert not offered["&Pause"] and not offered["&Resume"] and not offered["Retry &Failed"]

    opened: list[str] = []
    window._open_url = lambda url: opened.append(url.toLocalFile()) or True
    window.actions.open_folder.trigger()
    assert opened == [str(en_audio.resolve())]

    # Ctrl+P pauses the selected job while it waits or runs.
    table.select_job(waiting)
    qtbot.waitUntil(window.actions.pause.isEnabled, timeout=5000)
    window.activateWindow()
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.jobs.job(waiting).state == "PAUSED", timeout=JOB_TIMEOUT_MS)
    assert service.get(waiting).state == "PAUSED"
