"""Starting and stopping the desktop app: main(), the settings file, quitting with work in progress."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from sttdesk.gui.app import DesktopApp, load_settings_or_defaults, main, parse_args
from sttdesk.gui.main_window import MainWindow
from sttdesk.paths import default_paths
from sttdesk.service.job_service import JobRequest
from sttdesk.settings import settings_path

from .conftest import JOB_TIMEOUT_MS


def test_arguments_name_files_and_the_tray_start(tmp_path: Path) -> None:
    args = parse_args([str(tmp_path / "a.mp3"), "--minimized"])
    assert args.files == [tmp_path / "a.mp3"] and args.minimized
    assert parse_args([]).files == []


def test_a_broken_settings_file_is_moved_aside_and_the_defaults_used() -> None:
    paths = default_paths().ensure()
    path = settings_path(paths)
    path.write_text("[processing]\npool_agents = 'many'\n", encoding="utf-8")

    settings, error = load_settings_or_defaults(paths)

    assert error is not None and "pool_agents" in error.user_message("en")
    assert settings.processing.pool_agents == 0
    assert not path.exists()
    assert (path.parent / (path.name + ".broken")).read_text(encoding="utf-8").startswith("[processing]")


@pytest.mark.slow
def test_quitting_asks_while_jobs_run_and_stops_the_core(qtbot: Any, core: Any, dialogs: Any,
                                                        en_audio: Path) -> None:
    app = DesktopApp(core, use_tray=False)
    app.start()
    qtbot.waitUntil(lambda: app.core_running, timeout=JOB_TIMEOUT_MS)
    pids = core.pool.pids()
    assert pids
    job_id = core.service.add(JobRequest(path=en_audio / "103-1240-0000.flac", language="en",
                                         options={"fake": {"delay": 2}}))
    window = app.window
    qtbot.waitUntil(lambda: window.jobs.row_of(job_id) >= 0, timeout=JOB_TIMEOUT_MS)

    dialogs.answer = False
    with qtbot.assertNotEmitted(window.quit_requested):
        window.close()
    assert dialogs.questions and "1 job is still being transcribed" in dialogs.questions[-1][1]
    assert window.isVisible()

    dialogs.answer = True
    with qtbot.waitSignal(window.quit_requested, timeout=5000):
        window.close()
    app.shutdown()

    assert not window.isVisible()
    assert core.pool.pids() == []
    assert not any(_alive(pid) for pid in pids)  # stopped and reaped
    # The job is still there for the next start.
    assert core.store.find_job(job_id) is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.model
def test_main_opens_the_window_queues_files_and_transcribes_with_whisper(
    qtbot: Any, qapp: QApplication, real_models_dir: Path, dialogs: Any, monkeypatch: pytest.MonkeyPatch,
    en_audio: Path,
) -> None:
    """The real entry point: real settings, one real whisper.cpp agent, a file from the command line."""
    if not (real_models_dir / "manifest.json").is_file():
        pytest.skip("no whisper model installed (scripts/setup)")
    monkeypatch.setenv("STTDESK_MODELS_DIR", str(real_models_dir))
    monkeypatch.setenv("STTDESK_PROCESSING__POOL_AGENTS", "1")
    clip = en_audio / "jfk.wav"
    seen: dict[str, Any] = {}

    def watch() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if windows and windows[0].isVisible():
            window = windows[0]
            shown = window.transcript.snapshot
            if shown is not None and shown.job.state in ("COMPLETED", "FAILED"):
                seen["state"] = shown.job.state
                seen["text"] = " ".join(row.text for row in window.transcript.model.rows())
                window.quit_action.trigger()
                return
        QTimer.singleShot(100, watch)

    QTimer.singleShot(100, watch)
    # A safety net: the event loop ends even if the window never shows the transcript.
    give_up = QTimer(singleShot=True, interval=JOB_TIMEOUT_MS * 2)
    give_up.timeout.connect(QApplication.quit)
    give_up.start()
    quit_on_last = qapp.quitOnLastWindowClosed()
    try:
        code = main([str(clip)])
    finally:
        give_up.stop()
        qapp.setQuitOnLastWindowClosed(quit_on_last)

    assert code == 0
    assert seen.get("state") == "COMPLETED"
    assert "country" in seen["text"].lower()


def test_a_second_app_on_the_same_job_table_says_who_runs_and_exits(qapp: QApplication, dialogs: Any) -> None:
    """Two coordinators on one table would take each other's chunks: the second one stops at once."""
    from sttdesk.instance import InstanceLock

    holder = InstanceLock(default_paths().ensure().data_dir, program="sttdesk-serve")
    holder.acquire()
    try:
        code = main([])
    finally:
        holder.release()
    assert code == 1
    assert len(dialogs.errors) == 1
    _, text, _ = dialogs.errors[0]
    assert f"pid {os.getpid()}, sttdesk-serve" in text
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def test_sttdesk_gui_opens_the_window_with_the_files_queued(
    qtbot: Any, qapp: QApplication, monkeypatch: pytest.MonkeyPatch, en_audio: Path, dialogs: Any,
    real_models_dir: Path,
) -> None:
    """``sttdesk gui FILE`` through the real CLI entry point: the window opens with the file's job listed."""
    from sttdesk.cli.main import main as sttdesk_main

    if not (real_models_dir / "manifest.json").is_file():
        pytest.skip("no whisper model installed (scripts/setup): the file would be refused")
    monkeypatch.setenv("STTDESK_MODELS_DIR", str(real_models_dir))
    monkeypatch.setenv("STTDESK_PROCESSING__POOL_AGENTS", "1")
    dialogs.answer = True  # quitting while the job is queued asks first
    clip = en_audio / "jfk.wav"
    seen: dict[str, Any] = {}

    def watch() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if windows and windows[0].isVisible():
            names = [job.name for job in windows[0].jobs.jobs()]
            if names:
                seen["names"] = names
                windows[0].quit_action.trigger()
                return
        QTimer.singleShot(100, watch)

    QTimer.singleShot(100, watch)
    give_up = QTimer(singleShot=True, interval=JOB_TIMEOUT_MS)
    give_up.timeout.connect(QApplication.quit)
    give_up.start()
    quit_on_last = qapp.quitOnLastWindowClosed()
    try:
        code = sttdesk_main(["gui", str(clip)])
    finally:
        give_up.stop()
        qapp.setQuitOnLastWindowClosed(quit_on_last)
    assert code == 0
    assert seen.get("names") == ["jfk.wav"]


def test_other_commands_never_load_qt() -> None:
    import subprocess
    import sys

    probe = ("import sys; from sttdesk.cli.main import main; code = main(['config', 'path']); "
             "print('qt-loaded' if any(m.startswith('PySide6') for m in sys.modules) else 'qt-free'); "
             "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "qt-free"
