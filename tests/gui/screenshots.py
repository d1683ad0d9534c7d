"""Take the desktop app's screenshots (README and docs) with real transcription.

    xvfb-run -a python -m tests.gui.screenshots [--readme-only] [--language en|vi|both] [--out DIR]

Builds a throw-away sttdesk home, uses the installed whisper model (scripts/setup)
with two real local agents, queues English test recordings so that jobs are in
several states (done, transcribing, waiting, paused, failed, cancelled), and saves
PNGs in English and in Vietnamese into docs/screenshots: the main window, the
transcript, a failed job, the agents panel (with an office PC found on the LAN, not
paired yet) and its pairing dialog, the model manager and the settings
(``--readme-only``: the main window alone). The PNGs are generated: run this
again rather than editing them.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sttdesk.paths import default_paths

REPO = Path(__file__).resolve().parents[2]
EN_AUDIO = REPO / "tests" / "data" / "en"
#: The installed models, read before the throw-away home replaces the folders.
REAL_MODELS_DIR = default_paths().models_dir
#: Window size of every screenshot.
WINDOW_SIZE = (1180, 760)
#: The office PC found on the LAN in the agents panel's screenshots.
LAN_AGENT_NAME = "Reception PC"
#: A job needing more chunks than this fails (how the screenshots get a failed job with a real error).
CHUNK_CAP = 4

log = logging.getLogger("screenshots")


def concat(clips: list[Path], target: Path, *, pause: float = 2.0) -> Path:
    """Real speech, clips one after the other with ``pause`` seconds of silence (ffmpeg)."""
    inputs: list[str] = []
    parts = []
    for position, clip in enumerate(clips):
        inputs += ["-i", str(clip)]
        parts.append(f"[{position}:a]apad=pad_dur={pause}[a{position}]")
    chain = ";".join(parts) + ";" + "".join(f"[a{i}]" for i in range(len(clips))) + \
        f"concat=n={len(clips)}:v=0:a=1[out]"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", chain, "-map", "[out]",
                    "-ar", "16000", "-ac", "1", str(target)], check=True)
    return target


def wait(app: object, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    from PySide6.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state in time")
        QCoreApplication.processEvents()
        time.sleep(0.02)


#: The screenshots the README shows.
README_SHOTS = frozenset({"main-window"})
#: Where the screenshots go.
DEFAULT_OUT = REPO / "docs" / "screenshots"


def run(language: str, out: Path, media: Path, *, everything: bool = True) -> list[Path]:
    """Start the app in ``language``, set the scene, save the screenshots; returns their paths."""
    from PySide6.QtWidgets import QApplication

    from sttdesk.app import build_core
    from sttdesk.gui.agents_model import AGENT_KEY_ROLE
    from sttdesk.gui.app import DesktopApp
    from tests.agent.harness import start_agent
    from tests.gui.lan_agents import announcement, use_lan_directory
    from sttdesk.gui.i18n import install_translators, remove_translators
    from sttdesk.service.job_service import JobRequest
    from sttdesk.settings import Settings

    app = QApplication.instance() or QApplication([sys.argv[0], "-style", "Fusion"])
    translators = install_translators(app, language)
    home = Path(tempfile.mkdtemp(prefix=f"sttdesk-shots-{language}-"))
    os.environ.update(STTDESK_DATA_DIR=str(home / "data"), STTDESK_CONFIG_DIR=str(home / "config"),
                      STTDESK_CACHE_DIR=str(home / "cache"), STTDESK_MODELS_DIR=str(REAL_MODELS_DIR))
    settings = Settings()
    settings.processing.max_chunks_per_job = CHUNK_CAP
    core = build_core(settings=settings, pool_agents=2, engine="whisper")
    desktop = DesktopApp(core, ui_language=language, use_tray=False)
    window = desktop.window
    window.resize(*WINDOW_SIZE)
    desktop.start()
    wait(app, lambda: desktop.core_running)
    service = core.service
    saved: list[Path] = []

    def shot(name: str, widget: object | None = None) -> None:
        if not everything and name not in README_SHOTS:
            return
        for _ in range(5):  # let pending layout and paint events run first
            app.processEvents()
            time.sleep(0.05)
        target = out / f"{name}-{language}.png"
        (widget or window).grab().save(str(target))
        saved.append(target)
        log.info("saved %s", target)

    try:
        done = [service.add(JobRequest(path=EN_AUDIO / name, language="en"))
                for name in ("jfk.wav", "2289-152253-0000.flac", "60-121082-0000.flac")]
        wait(app, lambda: all(service.get(job_id).state == "COMPLETED" for job_id in done))
        failed = service.add(JobRequest(path=media / "too-long-for-the-cap.flac", language="en"))
        cancelled = service.add(JobRequest(path=EN_AUDIO / "1081-125237-0000.flac", language="en"))
        service.cancel(cancelled)
        running = service.add(JobRequest(path=media / "five-speakers.flac", language="auto"))
        waiting = service.add(JobRequest(path=EN_AUDIO / "3526-175658-0000.flac", language="en"))
        paused = service.add(JobRequest(path=EN_AUDIO / "4051-10927-0000.flac", language="en"))
        service.pause(paused)
        wait(app, lambda: service.get(running).chunks_done >= 1)
        wait(app, lambda: all(window.jobs.job(j) is not None for j in (running, waiting, paused)))
        window.table.select_job(running)
        wait(app, lambda: window.transcript.snapshot is not None and not window.transcript.loading
             and window.transcript.snapshot.job.chunks_done >= 1)
        window.feed.refresh(window.jobs.job_ids())
        wait(app, lambda: not window.feed.busy)
        shot("main-window")

        window.table.select_job(done[0])
        wait(app, lambda: window.transcript.snapshot is not None
             and window.transcript.snapshot.job.id == done[0] and not window.transcript.loading)
        window.transcript.find_edit.setText("country")
        wait(app, lambda: not window.transcript.loading)
        shot("transcript")

        window.table.select_job(failed)
        wait(app, lambda: window.transcript.snapshot is not None
             and window.transcript.snapshot.job.id == failed and not window.transcript.loading)
        shot("failed-job")

        # an office PC on the LAN, found but not paired yet (a real agent process on loopback)
        lan_agent = start_agent(home / "lan", "--engine", "fake", "--slots", "2", "--name", LAN_AGENT_NAME,
                                name="reception", trust=False)
        try:
            use_lan_directory(core).on_change("found", announcement(lan_agent, LAN_AGENT_NAME))
            agents = window.show_agents()
            agents.resize(agents.width(), 320)  # the panel is as wide as its columns need
            wait(app, lambda: agents.model.rowCount() >= 3 and not agents.reading)
            shown = agents.table.model()
            agents.table.selectRow(next(r for r in range(shown.rowCount())
                                        if shown.index(r, 0).data(AGENT_KEY_ROLE) == lan_agent.agent_id))
            shot("agents", agents)
            agents.pair_selected()
            wait(app, lambda: agents.prompter.dialog is not None and agents.prompter.dialog.isVisible())
            shot("pairing", agents.prompter.dialog)
            agents.prompter.cancel()
            wait(app, lambda: agents.pair_button.isEnabled())
            agents.hide()
        finally:
            lan_agent.kill()

        models = window.show_models()
        models.resize(models.width(), 560)  # as wide as its columns need
        wait(app, lambda: models.model.rowCount() > 0)
        models.select("base-q8_0")
        shot("models", models)
        models.hide()

        from sttdesk.gui.settings_dialog import SettingsDialog

        names = [window.options.model_box.itemData(i) for i in range(window.options.model_box.count())]
        dialog = SettingsDialog(desktop.preferences.settings, names, ui_language=language, parent=window)
        dialog.show()
        shot("settings", dialog)
        dialog.tabs.setCurrentIndex(2)
        shot("settings-chunking", dialog)
        dialog.close()
    finally:
        desktop.shutdown()
        remove_translators(app, translators)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--language", choices=("en", "vi", "both"), default="both")
    parser.add_argument("--readme-only", action="store_true", help="only the main window the README shows")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not (REAL_MODELS_DIR / "manifest.json").is_file():
        log.error("no whisper model installed in %s: run scripts/setup first", REAL_MODELS_DIR)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    media = Path(tempfile.mkdtemp(prefix="sttdesk-shots-media-"))
    clips = sorted(EN_AUDIO.glob("*.flac"))
    concat(clips[:5], media / "five-speakers.flac")
    concat(clips[5:17], media / "too-long-for-the-cap.flac")
    languages = ("en", "vi") if args.language == "both" else (args.language,)
    for language in languages:
        run(language, args.out, media, everything=not args.readme_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
