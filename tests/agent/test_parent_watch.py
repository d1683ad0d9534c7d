"""A local agent ends with the app that started it, even when the app is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from sttdesk.agent.parent_watch import EXIT_PARENT_GONE, watch_parent

AGENT = [sys.executable, "-m", "sttdesk.agent.main", "--engine", "fake", "--host", "127.0.0.1", "--port", "0",
         "--log-level", "warning"]

#: Stands in for the app: starts an agent that watches it, prints the agent's pid, then idles.
APP = """
import subprocess, sys, os, time
agent = subprocess.Popen(sys.argv[1:] + ["--exit-with-parent", str(os.getpid())], stdout=subprocess.PIPE,
                         text=True, start_new_session=True)
line = agent.stdout.readline()
print(agent.pid, line.strip(), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_agent_exits_when_its_app_is_killed(tmp_path) -> None:
    app = subprocess.Popen([sys.executable, "-c", APP, *AGENT, "--data-dir", str(tmp_path)],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        agent_pid, *rest = app.stdout.readline().split(maxsplit=1)
        assert rest and "listening on tcp://127.0.0.1:" in rest[0]
        agent_pid = int(agent_pid)
        assert _alive(agent_pid)
        os.kill(app.pid, signal.SIGKILL)  # no clean stop of the pool: only the agent's watch can act
        app.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(agent_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(agent_pid), "the agent outlived the app that started it"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=30)


def test_an_agent_whose_app_is_already_gone_exits_at_once(tmp_path) -> None:
    # A pid that is not our parent: the app died before the agent started to watch.
    done = subprocess.run([*AGENT, "--data-dir", str(tmp_path), "--exit-with-parent", str(2**22 + 7)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_PARENT_GONE
    assert "is gone" in done.stderr


def test_watch_calls_back_when_the_parent_is_not_ours() -> None:
    gone = []
    assert watch_parent(os.getpid(), on_gone=lambda: gone.append(True)) is None  # we are not our own parent
    assert gone == [True]
    thread = watch_parent(os.getppid(), on_gone=lambda: gone.append(False), poll_seconds=0.05)
    assert thread is not None and thread.daemon and thread.is_alive()
    time.sleep(0.2)
    assert gone == [True]  # our parent is still there
