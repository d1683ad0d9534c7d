"""The GUI thread never calls into the core while jobs run, and keeps turning: every call into the
core's service, store, models, coordinator and agent directory is recorded with its thread, and a fast timer measures
the event loop (the longest pause is reported, not asserted: speed belongs to benchmarks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

from .conftest import JOB_TIMEOUT_MS, drop_files

pytestmark = pytest.mark.slow

#: The probe timer's interval: the event loop should come back at least this often.
PROBE_MS = 5


@dataclass(frozen=True)
class CoreCall:
    name: str
    seconds: float
    on_gui_thread: bool


class Audited:
    """Stands in for a core object and records every method call made through it."""

    def __init__(self, target: Any, name: str, calls: list[CoreCall]) -> None:
        self._target, self._name, self._calls = target, name, calls

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._target, attribute)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._calls.append(CoreCall(f"{self._name}.{attribute}", time.perf_counter() - started,
                                            threading.current_thread() is threading.main_thread()))

        return call


@pytest.fixture
def audited_desktop(qtbot: Any, core: Any, dialogs: Any) -> Iterator[tuple[Any, list[CoreCall]]]:
    """The desktop app on a core whose service, store, models and coordinator record their calls."""
    from sttdesk.gui.app import DesktopApp

    calls: list[CoreCall] = []
    for part in ("service", "store", "models", "coordinator", "agents"):
        setattr(core, part, Audited(getattr(core, part), part, calls))
    app = DesktopApp(core, ui_language="en", use_tray=False)
    app.start()
    qtbot.waitUntil(lambda: app.core_running, timeout=JOB_TIMEOUT_MS)
    yield app, calls
    app.shutdown()


class LoopProbe:
    """Counts event loop turns with a fast timer and keeps the longest gap between two."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)
        self.ticks = 0
        self.worst_ms = 0
        self._last = 0

    def start(self) -> None:
        self.clock.start()
        self._last = 0
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.worst_ms = max(self.worst_ms, now - self._last)
        self._last = now
        self.ticks += 1


def test_the_gui_thread_never_calls_the_core_while_jobs_run(
    qtbot: Any, audited_desktop: tuple[Any, list[CoreCall]], en_audio: Path, long_recording: Path,
    record_property: Any,
) -> None:
    desktop, calls = audited_desktop
    window = desktop.window
    calls.clear()  # from here on, the app runs as a user drives it
    probe = LoopProbe()
    probe.start()
    started = time.monotonic()

    # Everything goes through the window, as a user would do it (a direct call into the core
    # from the test would run on the GUI thread and measure the test, not the app): a long
    # recording whose transcript is shown, then twelve files dropped at once.
    assert drop_files(window, [long_recording])
    qtbot.waitUntil(lambda: window.transcript.snapshot is not None, timeout=JOB_TIMEOUT_MS)
    clips = sorted(en_audio.glob("*.flac"))[:12]
    assert drop_files(window, clips)
    qtbot.waitUntil(lambda: len(window.jobs.jobs()) == 13
                    and all(job.state == "COMPLETED" for job in window.jobs.jobs()), timeout=JOB_TIMEOUT_MS * 2)
    qtbot.waitUntil(lambda: window.transcript.snapshot is not None
                    and window.transcript.snapshot.job.state == "COMPLETED", timeout=JOB_TIMEOUT_MS)
    # Read the agents and the settings too, as a user looking around would.
    window.show_agents()
    qtbot.waitUntil(lambda: window.agents_panel.model.rowCount() > 0, timeout=JOB_TIMEOUT_MS)
    probe.stop()
    seconds = time.monotonic() - started

    on_gui = [call for call in calls if call.on_gui_thread]
    worker_worst = max((call.seconds for call in calls if not call.on_gui_thread), default=0.0)
    record_property("core_calls", len(calls))
    record_property("core_calls_on_gui_thread", len(on_gui))
    record_property("gui_worst_gap_ms", probe.worst_ms)
    record_property("gui_ticks_per_second", round(probe.ticks / seconds, 1))
    print(f"{len(calls)} core calls, {len(on_gui)} on the GUI thread (longest on a worker "
          f"{worker_worst * 1000:.0f} ms); event loop: worst gap {probe.worst_ms} ms, "
          f"{probe.ticks / seconds:.0f} ticks/s over {seconds:.1f} s")
    assert len(calls) > 20  # the audit saw the app at work
    assert on_gui == []  # every call into the core ran on a worker thread
    # The loop turned all along: at least a tick every 100 ms on average, on a busy machine.
    assert probe.ticks >= seconds * 10
