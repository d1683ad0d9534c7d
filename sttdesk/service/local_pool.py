"""The app's own agents: ``sttdesk-agent`` child processes on loopback.

The local pool runs the very same agent program as a spare office PC would,
so a single PC works alone and a LAN agent is nothing special. Dead agents
are restarted with a growing delay; all of them are stopped with the app.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..launch import agent_command

log = logging.getLogger(__name__)

#: How long a fresh agent may take to print its listening line.
START_TIMEOUT_SECONDS = 60.0
#: Restart delays after a local agent dies: doubling up to the cap.
RESTART_DELAY_SECONDS = 1.0
RESTART_DELAY_CAP_SECONDS = 32.0
#: Grace given to agents to finish their chunk on stop, before SIGKILL.
STOP_GRACE_SECONDS = 10.0

#: Local agents log warnings and errors only: their stderr is the user's terminal.
DEFAULT_AGENT_LOG_LEVEL = "warning"

_LISTENING = re.compile(r"listening on (tcp://\S+)(?: key (\S{40}))?")



def default_pool_shape(cores: int | None = None, *, foreground: bool = False,
                       load: float | None = None) -> tuple[int, int]:
    """(agents, threads per agent) for this PC.

    Single-thread engine processes degrade gracefully when the user's own work
    takes a core (DESIGN.md §9: 2 threads took 13.3 s vs 9.4 s for 1 thread with
    one core busy), so the pool is one single-thread agent per core. On a
    desktop one core is left free unless the machine is idle or the user is
    waiting for this job in the foreground (the CLI).
    """
    cores = cores or os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
    idle = load < 0.5
    agents = cores if (foreground or idle or cores == 1) else cores - 1
    return max(1, agents), 1


@dataclass(slots=True)
class _Member:
    index: int
    process: subprocess.Popen[str] | None = None
    endpoint: str | None = None
    #: The agent's CURVE public key (Z85), from its listening line.
    server_key: bytes | None = None
    restarts: int = 0
    next_start: float = 0.0
    log_thread: threading.Thread | None = field(default=None, repr=False)


class LocalPool:
    """Starts, watches and stops the local agent processes."""

    def __init__(
        self,
        *,
        agents: int,
        threads: int,
        models_dir: Path,
        data_dir: Path,
        on_endpoint: Callable[[str], None],
        on_gone: Callable[[str], None] | None = None,
        engine: str = "whisper",
        extra_args: tuple[str, ...] = (),
        log_level: str = DEFAULT_AGENT_LOG_LEVEL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agents = agents
        self._threads = threads
        self._models_dir = models_dir
        self._data_dir = data_dir
        self._on_endpoint = on_endpoint
        self._on_gone = on_gone or (lambda endpoint: None)
        self._engine = engine
        self._extra_args = extra_args
        self._log_level = log_level
        self._clock = clock
        self._members = [_Member(i) for i in range(agents)]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def endpoints(self) -> list[str]:
        with self._lock:
            return [m.endpoint for m in self._members if m.endpoint]

    def server_key(self, endpoint: str) -> bytes:
        """The CURVE public key the local agent at ``endpoint`` printed when it started."""
        with self._lock:
            for member in self._members:
                if member.endpoint == endpoint and member.server_key:
                    return member.server_key
        raise KeyError(f"no local agent with a key listens on {endpoint}")

    def pids(self) -> list[int]:
        with self._lock:
            return [m.process.pid for m in self._members if m.process and m.process.poll() is None]

    def start(self) -> None:
        """Start every agent (in parallel) and a thread that restarts the ones that die.

        Returns once each agent has said where it listens, or failed to. Every
        agent is started from the pool's own thread: Linux sends an agent its
        death signal when the *thread* that started it ends, and that thread
        lives exactly as long as the pool.
        """
        started = threading.Event()
        self._watcher = threading.Thread(target=self._run, args=(started,), name="local-pool", daemon=True)
        self._watcher.start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        try:
            self._start_members(self._members)
        finally:
            started.set()
        self._watch()

    def stop(self) -> None:
        """Ask every agent to finish (SIGTERM), then kill the ones still running."""
        self._stopping.set()
        with self._lock:
            processes = [m.process for m in self._members if m.process]
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("local agent %d did not stop in time: killing it", proc.pid)
                proc.kill()
                proc.wait(5)
        if self._watcher is not None:
            self._watcher.join(5)

    def _command(self, member: _Member) -> list[str]:
        data_dir = self._data_dir / "local-agents" / str(member.index)
        return [
            *agent_command(),
            "--host", "127.0.0.1", "--port", "0",
            "--slots", "1", "--threads", str(self._threads),
            "--models-dir", str(self._models_dir),
            "--data-dir", str(data_dir),
            "--name", f"local-{member.index + 1}",
            "--engine", self._engine,
            "--log-level", self._log_level,
            # Local agents must not outlive the app, even when it is killed: each one exits
            # as soon as this process is gone (sttdesk/agent/parent_watch.py).
            "--exit-with-parent", str(os.getpid()),
            *self._extra_args,
        ]

    def _start_members(self, members: list[_Member]) -> None:
        """Start agents side by side, then wait for each one's listening line."""
        spawned = []
        for member in members:
            log.info("starting local agent %d", member.index + 1)
            command = self._command(member)
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1,
                # its own session: a Ctrl-C in the terminal reaches the app, which stops agents cleanly
                start_new_session=True,
            )
            spawned.append((member, proc, self._endpoint_reader(proc)))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for member, proc, (reader, result) in spawned:
            reader.join(max(0.0, deadline - time.monotonic()))
            endpoint, key = result[0] if result else (None, None)
            with self._lock:
                member.process = proc
                member.endpoint = endpoint
                member.server_key = key.encode("ascii") if key else None
            if endpoint is None:
                log.error("local agent %d did not start (exit code %s)", member.index + 1, proc.poll())
                if proc.poll() is None:
                    proc.kill()
                continue
            # keep draining stdout so the agent never blocks on a full pipe
            member.log_thread = threading.Thread(target=self._drain, args=(proc,), daemon=True)
            member.log_thread.start()
            self._on_endpoint(endpoint)

    @staticmethod
    def _endpoint_reader(proc: subprocess.Popen[str]) -> tuple[threading.Thread, list[tuple[str, str | None]]]:
        """A started thread that reads the agent's stdout up to its listening line (endpoint, key)."""
        assert proc.stdout is not None
        result: list[tuple[str, str | None]] = []

        def read() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                match = _LISTENING.search(line)
                if match:
                    result.append((match.group(1), match.group(2)))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        return reader, result

    @staticmethod
    def _drain(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.debug("agent %d: %s", proc.pid, line.rstrip())

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for member in self._members:
                proc = member.process
                if proc is None or proc.poll() is None:
                    continue
                now = self._clock()
                if member.next_start == 0.0:
                    delay = min(RESTART_DELAY_CAP_SECONDS, RESTART_DELAY_SECONDS * 2 ** member.restarts)
                    member.next_start = now + delay
                    log.warning("local agent %d exited with code %s; restarting in %.0f s",
                                member.index + 1, proc.returncode, delay)
                    if member.endpoint:
                        self._on_gone(member.endpoint)
                    continue
                if now >= member.next_start and not self._stopping.is_set():
                    member.restarts += 1
                    member.next_start = 0.0
                    self._start_members([member])
