"""Fixtures for the desktop app: a real core (real store, ffmpeg, local agent process with the
fake engine), the app around it, and helpers to drop files and answer dialogs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

#: Longest wait for a job to go through the real core (agent start, ffmpeg, fake engine).
JOB_TIMEOUT_MS = 60_000

#: A test that plays audio and has not finished in this time is stuck in QtMultimedia: fail it now
#: rather than after the suite's 15 minutes.
PLAYBACK_TIMEOUT_S = 120
#: Marks for every test that plays audio. ``no_qt_log``: pytest-qt's Qt message handler is Python
#: code, so a warning QtMultimedia logs on its FFmpeg threads needs the GIL, while the GUI thread,
#: holding the GIL, waits in a blocking call into those same threads (stop, setSource): both wait
#: forever (seen as a 20-minute hang). ``method="thread"``: a main thread stuck in C++ never runs
#: the SIGALRM handler of the default method; the thread method dumps every stack and ends the run.
PLAYBACK_MARKS = [pytest.mark.no_qt_log, pytest.mark.timeout(PLAYBACK_TIMEOUT_S, method="thread")]


def plays_audio(test: Any) -> Any:
    """Decorate a test that plays audio with :data:`PLAYBACK_MARKS`."""
    for mark in PLAYBACK_MARKS:
        test = mark(test)
    return test
#: A GUI test that runs longer than this is stuck (a modal loop nobody answers): fail it, not the suite.
GUI_TEST_TIMEOUT_SECONDS = 300
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(GUI_TEST_TIMEOUT_SECONDS))


@pytest.fixture(scope="session", autouse=True)
def english_ui(qapp: Any) -> Iterator[None]:
    """The app's English catalog (it carries the plural forms), as main() installs it."""
    from sttdesk.gui.i18n import install_translators, remove_translators

    translators = install_translators(qapp, "en")
    yield
    remove_translators(qapp, translators)


@dataclass
class DialogLog:
    """What the app would have asked or shown in modal boxes (answered without blocking)."""

    errors: list[tuple[str, str, str]] = field(default_factory=list)
    questions: list[tuple[str, str]] = field(default_factory=list)
    #: The answer every question gets.
    answer: bool = True


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> DialogLog:
    """Replace the app's modal message boxes with a log (modal boxes would wait forever)."""
    from sttdesk.gui import app as gui_app
    from sttdesk.gui import messages

    log = DialogLog()

    def show_error(parent: Any, title: str, text: str, details: str = "") -> None:
        log.errors.append((title, text, details))

    def ask(parent: Any, title: str, text: str, *, yes: str, no: str | None = None) -> bool:
        log.questions.append((title, text))
        return log.answer

    monkeypatch.setattr(messages, "show_error", show_error)
    monkeypatch.setattr(messages, "ask", ask)
    monkeypatch.setattr(gui_app, "show_error", show_error)
    return log


@pytest.fixture
def core(real_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real core with one local agent running the fake engine; models from the real model folder."""
    if not (real_models_dir / "manifest.json").is_file():
        pytest.skip(f"no models installed in {real_models_dir} (run scripts/setup)")
    monkeypatch.setenv("STTDESK_MODELS_DIR", str(real_models_dir))
    from sttdesk.app import build_core

    core = build_core(engine="fake", pool_agents=1)
    yield core
    core.stop()


@pytest.fixture
def desktop(qtbot: Any, core: Any, dialogs: DialogLog) -> Iterator[Any]:
    """The desktop app on the real core, started, with its local agent ready."""
    from sttdesk.gui.app import DesktopApp

    app = DesktopApp(core, ui_language="en", use_tray=False)
    app.start()
    qtbot.waitUntil(lambda: app.core_running or app.core_error is not None, timeout=JOB_TIMEOUT_MS)
    assert app.core_error is None
    qtbot.waitUntil(lambda: any(agent.ready for agent in core.coordinator.agents()), timeout=JOB_TIMEOUT_MS)
    yield app
    app.shutdown()


def drop_files(target: QWidget, paths: list[Path]) -> bool:
    """Drag ``paths`` onto ``target`` and drop them, as a file manager would; True if accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    position = QPointF(target.rect().center())
    try:  # Qt 6.12 takes a QPointF (the QPoint form is deprecated); earlier versions only a QPoint
        enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    except TypeError:
        enter = QDragEnterEvent(position.toPoint(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def job_states(app: Any) -> dict[str, str]:
    """File name → state, as the job table shows them."""
    return {job.name: job.state for job in app.window.jobs.jobs()}


@pytest.fixture(scope="session")
def long_recording(tmp_path_factory: pytest.TempPathFactory, en_audio: Path) -> Path:
    """About 70 s of real speech (five clips with 2 s of silence between), so a job has several chunks."""
    clips = sorted(en_audio.glob("*.flac"))[:5]
    folder = tmp_path_factory.mktemp("long")
    target = folder / "five-speakers.flac"
    inputs: list[str] = []
    parts = []
    for position, clip in enumerate(clips):
        inputs += ["-i", str(clip)]
        parts.append(f"[{position}:a]apad=pad_dur=2[a{position}]")
    chain = ";".join(parts) + ";" + "".join(f"[a{i}]" for i in range(len(clips))) + \
        f"concat=n={len(clips)}:v=0:a=1[out]"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", chain, "-map", "[out]",
                    "-ar", "16000", "-ac", "1", str(target)], check=True)
    return target
