"""A real ``sttdesk serve`` process for the tests: started, found on its port, stopped or killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import httpx

#: The line ``sttdesk serve`` prints once the API listens.
_LISTENING = re.compile(r"REST API at (http://[^\s/]+)/api/v1")
#: A whisper.cpp agent loads its model before it says it is ready.
START_TIMEOUT = 120.0


def serve_env(home: Path, models_dir: Path, **settings: str) -> dict[str, str]:
    """An environment whose sttdesk folders are under ``home``, with the given models and settings."""
    env = dict(os.environ)
    env.update(STTDESK_DATA_DIR=str(home / "data"), STTDESK_CONFIG_DIR=str(home / "config"),
               STTDESK_CACHE_DIR=str(home / "cache"), STTDESK_MODELS_DIR=str(models_dir))
    env.update({f"STTDESK_{key.upper()}": value for key, value in settings.items()})
    return env


class ServeProcess:
    """``python -m sttdesk.cli.main serve ARGS`` on an ephemeral loopback port."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.env = env
        self.args = ("--port", "0", *args)
        self.url = ""
        self.lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, *, timeout: float = START_TIMEOUT) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sttdesk.cli.main", "serve", *self.args], env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # its agents are in its group: a kill reaches them all
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self.url:
            if self._process.poll() is not None:
                self._join_reader()
                raise AssertionError(f"sttdesk serve exited with {self._process.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"sttdesk serve did not listen within {timeout} s:\n{self.output}")
            time.sleep(0.05)
        return self

    def wait_ready(self, *, timeout: float = START_TIMEOUT) -> None:
        """Until /health says an agent is ready."""
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.url}/api/v1/health", timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"no agent ready after {timeout} s:\n{self.output}")
            time.sleep(0.2)

    def stop(self, *, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not stop); its exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._join_reader()
        return self._process.returncode

    def kill(self) -> None:
        """SIGKILL the server and its agents at once, as a power cut would."""
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait(30)
        self._join_reader()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def _read(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self.lines.append(line)
            found = _LISTENING.search(line)
            if found and not self.url:
                self.url = found.group(1)

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(10)
