"""The ``sttdesk-agent`` command line: options, version, and logs journald can read."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
from pathlib import Path

import pytest

from sttdesk import __version__
from sttdesk.agent.main import main

from .harness import REPO_ROOT, START_TIMEOUT, agent_command


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--slots", "0"], "--slots: must be from 1 to"),
        (["--threads", "many"], "is not a whole number"),
        (["--port", "70000"], "must be from 0 (any free port) to 65535"),
        (["--grace", "-1"], "must be zero or more seconds"),
        (["--engine", "gpu"], "invalid choice"),
        (["--fake-model", "base:notahash"], "expected NAME or NAME:SHA256"),
        (["--fake-fail-count", "-3"], "cannot be negative"),
        (["--fake-delay", "2"], "the --fake-* options need --engine fake"),
    ],
)
def test_bad_options_are_refused_with_a_reason(args: list[str], complaint: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"sttdesk-agent {__version__}"


def test_under_systemd_log_lines_carry_their_priority(tmp_path: Path) -> None:
    log_path = tmp_path / "journal.log"
    with open(log_path, "wb") as log_file:
        info = os.fstat(log_file.fileno())
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}")
        process = subprocess.Popen(
            agent_command("--engine", "fake", data_dir=tmp_path / "data"),
            stdout=subprocess.PIPE, stderr=log_file, cwd=REPO_ROOT, env=env,
        )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(START_TIMEOUT), "the agent did not start"
        assert b"listening on tcp://127.0.0.1:" in process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    lines = log_path.read_text().splitlines()
    assert any(line.startswith("<4>WARNING sttdesk.agent: using the FAKE engine") for line in lines), lines
    assert any(line.startswith("<6>INFO sttdesk.agent.runtime: agent ") for line in lines), lines
    assert all(line.startswith("<") for line in lines), lines
