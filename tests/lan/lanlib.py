"""What the LAN tests share: starting agents, browsers and coordinators inside namespaces, and
reading their JSON-line output with deadlines."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .netns import LanProcess, OfficeLan

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The port every LAN agent listens on (each is alone in its namespace).
AGENT_PORT = 7878
#: How long an agent may take to say it listens.
START_TIMEOUT = 60.0


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for a child: this checkout's code, its own sttdesk folders under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STTDESK_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1",
        STTDESK_DATA_DIR=str(home / "data"), STTDESK_CONFIG_DIR=str(home / "config"),
        STTDESK_CACHE_DIR=str(home / "cache"), STTDESK_MODELS_DIR=str(home / "models"),
    )
    env.update(extra)
    return env


def start_agent(lan: OfficeLan, host: str, tmp: Path, *args: str, name: str | None = None,
                agent_id: str | None = None, log_name: str | None = None) -> LanProcess:
    """``sttdesk-agent`` on ``host`` (port :data:`AGENT_PORT`, data in ``tmp/host``); waits until it listens."""
    home = tmp / host
    argv = [sys.executable, "-m", "sttdesk.agent.main", "--port", str(AGENT_PORT),
            "--data-dir", str(home / "data"), "--log-level", "info", "--name", name or host, *args]
    if agent_id:
        argv += ["--id", agent_id]
    proc = lan.start(host, argv, log_path=tmp / f"{log_name or host}.log", env=child_env(home))
    proc.wait_for_log("listening on", timeout=START_TIMEOUT)
    return proc


class JsonLines:
    """A child's stdout read line by line into a queue (a thread), with bounded waits."""

    def __init__(self, proc: LanProcess) -> None:
        self.proc = proc
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        assert proc.process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for raw in stream:
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                continue

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float, what: str
                 ) -> dict[str, Any]:
        """The first line (already seen or new) for which ``predicate`` holds; TimeoutError after ``timeout``."""
        for line in self.seen:
            if predicate(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout:.0f} s; seen: {self.seen[-20:]}\n"
                                   f"log: {self.proc.log()[-3000:]}")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.process.poll() is not None:
                    raise RuntimeError(f"process ended while waiting for {what}: {self.proc.log()[-3000:]}"
                                       ) from None
                continue
            self.seen.append(line)
            if predicate(line):
                return line


def start_json_child(lan: OfficeLan, host: str, argv: list[str], *, env: dict[str, str], log_path: Path
                     ) -> tuple[LanProcess, JsonLines]:
    """A child with stdin/stdout pipes (JSON lines) and stderr in ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed with the process below
    proc = lan.start(host, argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                     text=True)
    proc.log_path = log_path
    proc._log_file = log_file  # LanProcess.stop closes it
    return proc, JsonLines(proc)


class CoordinatorDriver:
    """The core in a namespace (tests/lan/coordinator_driver.py), called over stdin/stdout."""

    def __init__(self, lan: OfficeLan, host: str, home: Path, tmp: Path, *, log_name: str = "coordinator",
                 models_dir: Path | None = None) -> None:
        self._tmp = tmp
        env = child_env(home, STTDESK_NETWORK__DISCOVERY="true")
        if models_dir is not None:
            env["STTDESK_MODELS_DIR"] = str(models_dir)
        self.proc, self.out = start_json_child(
            lan, host, [sys.executable, "-m", "tests.lan.coordinator_driver"], env=env,
            log_path=tmp / f"{log_name}.log")
        self._next = 0
        self.out.wait_for(lambda m: m.get("ready") is True, timeout=START_TIMEOUT, what="coordinator start")

    def call(self, op: str, *, timeout: float = 30.0, **args: Any) -> Any:
        return self.result(self.send(op, **args), op=op, timeout=timeout)

    def send(self, op: str, **args: Any) -> int:
        """Send a request without waiting for its reply; returns its id for :meth:`result`."""
        self._next += 1
        stdin = self.proc.process.stdin
        assert stdin is not None
        stdin.write(json.dumps({"id": self._next, "op": op, **args}) + "\n")
        stdin.flush()
        return self._next

    def result(self, request_id: int, *, op: str, timeout: float) -> Any:
        reply = self.out.wait_for(lambda m: m.get("reply") == request_id, timeout=timeout, what=f"reply to {op}")
        if "error" in reply:
            raise RuntimeError(f"{op} failed in the coordinator: {reply['error']}")
        return reply["result"]

    def pair(self, lan: OfficeLan, agent_host: str, which: str, *, timeout: float = 60.0) -> dict[str, Any]:
        """Pair with the agent on ``agent_host`` the way a user does: the coordinator asks, the
        agent opens a code, the code is read on the agent's computer with ``sttdesk-agent
        pairing`` (inside its namespace) and typed in on the coordinator's side."""
        code_file = self._tmp / f"pairing-code-{which}"
        mark = self.mark()
        request_id = self.send("pair", which=which, code_file=str(code_file))
        self.event("pairing_code_wanted", lambda d: True, timeout=timeout, after=mark)
        shown = lan.run(agent_host, [sys.executable, "-m", "sttdesk.agent.main", "pairing",
                                     "--data-dir", str(self._tmp / agent_host / "data")])
        codes = re.findall(r"^code (\S+)", shown, re.MULTILINE)
        assert len(codes) == 1, shown
        code_file.write_text(codes[0])
        return self.result(request_id, op="pair", timeout=timeout)

    def event(self, kind: str, predicate: Callable[[dict[str, Any]], bool] = lambda d: True, *,
              timeout: float, after: int = 0) -> dict[str, Any]:
        """The first ``kind`` event (from the ``after``-th line on) whose data satisfies ``predicate``."""
        def match(line: dict[str, Any]) -> bool:
            return line.get("event") == kind and predicate(line.get("data") or {})

        skipped = self.out.seen[:after]
        self.out.seen = self.out.seen[after:]
        try:
            return self.out.wait_for(match, timeout=timeout, what=f"{kind} event")["data"]
        finally:
            self.out.seen = skipped + self.out.seen

    def mark(self) -> int:
        """A position in the output: events before it are ignored by ``event(after=...)``."""
        while not self.out.lines.empty():
            self.out.seen.append(self.out.lines.get_nowait())
        return len(self.out.seen)

    def wait_until(self, op: str, predicate: Callable[[Any], bool], *, timeout: float, what: str,
                   **args: Any) -> Any:
        """Call ``op`` until its result satisfies ``predicate`` (every 0.5 s, within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.call(op, **args)
            if predicate(result):
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} not within {timeout:.0f} s; last {op}: {result}\n"
                                   f"log: {self.proc.log()[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        stdin = self.proc.process.stdin
        try:
            if stdin is not None:
                stdin.write(json.dumps({"op": "stop"}) + "\n")
                stdin.flush()
                self.proc.process.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.proc.stop()
