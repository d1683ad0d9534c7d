"""The background task runner: work off the GUI thread, results on it, in order."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from sttdesk.gui.tasks import TaskRunner


def test_results_come_back_on_the_gui_thread(qtbot: Any) -> None:
    runner = TaskRunner(threads=1)
    worker_threads: list[threading.Thread] = []
    delivered: list[tuple[int, bool]] = []

    def work() -> int:
        worker_threads.append(threading.current_thread())
        return 42

    runner.run(work, on_done=lambda value: delivered.append(
        (value, QThread.currentThread() is QApplication.instance().thread())))
    qtbot.waitUntil(lambda: bool(delivered), timeout=5000)

    assert delivered == [(42, True)]
    assert worker_threads and worker_threads[0] is not threading.main_thread()
    assert runner.pending == 0
    runner.close()


def test_errors_go_to_on_error_and_a_serial_runner_keeps_order(qtbot: Any) -> None:
    runner = TaskRunner(threads=1)
    seen: list[object] = []

    def fail() -> None:
        raise ValueError("bad input")

    for value in range(5):
        runner.run(lambda value=value: value, on_done=seen.append)
    runner.run(fail, on_done=seen.append, on_error=lambda exc: seen.append(type(exc).__name__))
    qtbot.waitUntil(lambda: len(seen) == 6, timeout=5000)

    assert seen == [0, 1, 2, 3, 4, "ValueError"]
    runner.close()


def test_a_closed_runner_drops_new_work_and_waits_for_running_work(qtbot: Any) -> None:
    runner = TaskRunner(threads=1)
    started = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        started.set()
        finished.wait(0.3)
        finished.set()

    runner.run(slow)
    assert started.wait(5)
    assert runner.close(5000)
    assert finished.is_set()  # close() waited for the running task
    assert runner.run(lambda: 1) is None
    assert runner.pending == 0
