"""One running sttdesk per job table: the lock, its holder's name, and a killed holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sttdesk.app import build_core
from sttdesk.cli.main import main as cli_main
from sttdesk.instance import LOCK_FILE_NAME, AlreadyRunningError, InstanceLock
from sttdesk.paths import default_paths

HOLDER = """
import sys, time
from pathlib import Path
from sttdesk.instance import InstanceLock
lock = InstanceLock(Path(sys.argv[1]), program="sttdesk-gui")
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path: Path):
    """A separate process holding the lock of ``tmp_path / 'data'``, killed at the end."""
    data_dir = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc, data_dir
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_second_lock_names_the_holder_in_both_languages(holder) -> None:
    proc, data_dir = holder
    with pytest.raises(AlreadyRunningError) as caught:
        InstanceLock(data_dir).acquire()
    assert caught.value.code == "already_running" and not caught.value.transient
    assert f"pid {proc.pid}, sttdesk-gui" in caught.value.user_message("en")
    assert f"pid {proc.pid}" in caught.value.user_message("vi")
    assert "đang chạy" in caught.value.user_message("vi")


def test_a_killed_holder_leaves_no_stale_lock(holder) -> None:
    proc, data_dir = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    lock = InstanceLock(data_dir)
    lock.acquire()
    assert lock.held
    assert (data_dir / LOCK_FILE_NAME).read_text().split()[0] == str(os.getpid())
    lock.release()
    assert not lock.held


def test_locks_in_one_process_exclude_each_other_until_released(tmp_path: Path) -> None:
    first, second = InstanceLock(tmp_path), InstanceLock(tmp_path)
    first.acquire()
    first.acquire()  # idempotent for its holder
    with pytest.raises(AlreadyRunningError):
        second.acquire()
    first.release()
    second.acquire()
    assert second.held and not first.held
    second.release()


def test_a_second_core_on_the_same_table_refuses_to_start_and_the_first_keeps_running() -> None:
    first = build_core(pool_agents=0)
    second = build_core(pool_agents=0)
    with first:
        with pytest.raises(AlreadyRunningError):
            second.start()
        second.stop()
        assert first.coordinator is not None and first._started
    # Stopped, the first gives the table up.
    third = build_core(pool_agents=0)
    third.start()
    third.stop()


def test_transcribe_while_another_sttdesk_runs_says_so_and_queues_nothing(
    en_audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = default_paths().ensure().data_dir
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        code = cli_main(["transcribe", "--quiet", "--engine", "fake", str(en_audio / "jfk.wav")])
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert code == 1
    assert "already running" in capsys.readouterr().err
    core = build_core(pool_agents=0)
    try:
        assert core.service.count() == 0
    finally:
        core.stop()
