"""The desktop app as a real process: SIGTERM (log-out, shutdown) stops it the orderly way, mid-job,
and the job resumes on the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sttdesk.instance import InstanceLock
from sttdesk.paths import default_paths
from sttdesk.store.repository import JobStore

from tests.agent.harness import REPO_ROOT
from tests.processes import alive, descendants

#: Seconds the app may take to start its core, and to stop after the signal.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_termination_signal_stops_the_app_cleanly_mid_job(
        sig: signal.Signals, real_models_dir: Path, tmp_path: Path, long_recording: Path) -> None:
    if not (real_models_dir / "manifest.json").is_file():
        pytest.skip("no whisper model installed (scripts/setup)")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STTDESK_MODELS_DIR=str(real_models_dir),
               STTDESK_PROCESSING__POOL_AGENTS="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p))
    data_dir = default_paths().ensure().data_dir  # the test's own folders (tests/conftest.py)
    log_path = tmp_path / "app.log"
    with open(log_path, "wb") as log_file:
        # what the sttdesk-gui launcher runs
        app = subprocess.Popen([sys.executable, "-c", "import sys; from sttdesk.gui.app import main; "
                                "sys.exit(main())", "--log-level", "info", str(long_recording)],
                               stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and app.poll() is None:
            if "chunk_leased" in _events(data_dir):
                break
            time.sleep(0.5)
        assert app.poll() is None, log_path.read_text(errors="replace")
        assert "chunk_leased" in _events(data_dir), log_path.read_text(errors="replace")
        helpers = descendants(app.pid)
        assert helpers, "the app runs its local agent as a child process"

        app.send_signal(sig)
        code = app.wait(STOP_TIMEOUT)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
    log = log_path.read_text(errors="replace")
    assert code == 0, log
    assert f"received {sig.name}: quitting" in log
    assert "Traceback" not in log, log
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in helpers):
        time.sleep(0.2)
    assert not [pid for pid in helpers if alive(pid)], "agents or engines left running"
    lock = InstanceLock(data_dir, program="test")  # the job table is free for the next start
    lock.acquire()
    lock.release()
    with JobStore(data_dir / "sttdesk.db") as store:
        jobs = store.list_jobs()
        assert len(jobs) == 1
        assert jobs[0].state.value in ("PENDING", "PROCESSING", "COMPLETED")  # resumes on the next start


def _events(data_dir: Path) -> str:
    database = data_dir / "sttdesk.db"
    if not database.is_file():
        return ""
    try:
        with JobStore(database) as store:
            return " ".join(event.kind for event in store.events())
    except Exception:  # the app is still creating the table
        return ""
