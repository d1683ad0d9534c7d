"""Real agent processes, a coordinator wired as the app wires it, and bounded waits, for cluster tests.

Agents run as ``python -m sttdesk.agent.main --engine fake`` in their own
process group (so a test can kill -9 the whole group), on loopback, announcing
a test model by name and sha256 (``--fake-model``), never the user's model
store. Chunk audio comes from a 16 kHz s16le file written by the test and read
through the same :class:`sttdesk.audio.decode.PcmFile` the app uses.

Run as a module, this file is a coordinator process of its own
(``python -m tests.cluster.harness --db ... --pcm ... --agent ENDPOINT``), for
tests that kill -9 the coordinator mid-job.
"""

from __future__ import annotations

import argparse
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import zmq

from sttdesk.agent.engines import fake_text
from sttdesk.audio.decode import PcmFile
from sttdesk.cluster.coordinator import Coordinator
from sttdesk.cluster.leasing import LeaseManager, ModelRef
from sttdesk.cluster.provisioning import ModelSource
from sttdesk.domain.chunks import ChunkSpan, CutKind
from sttdesk.domain.retry import RetryPolicy
from sttdesk.security.keys import KeyPair, generate_keypair
from sttdesk.security.trust import TrustStore
from sttdesk.service.timers import Timers
from sttdesk.store import JobStore

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The model jobs ask for and fake agents announce (a made-up file hash).
MODEL = ModelRef("base-q8_0", "5e" * 32)
SAMPLE_RATE = 16000
#: How long an agent may take to print its listening line (the machine is shared and loaded).
START_TIMEOUT = 60.0
#: Default bound for waiting on the store or the coordinator.
WAIT_TIMEOUT = 60.0
#: Lease length of the chunks the tests plan.
CHUNK_DEADLINE = 120.0
#: How often the coordinator's timers sweep leases and retries in these tests (as in the app).
SWEEP_SECONDS = 1.0
#: The CURVE key pair of every test coordinator: test agents serve it (``--trust-key``). A coordinator
#: child process (``python -m tests.cluster.harness``) inherits the same pair through the environment.
_KEYS_ENV = "STTDESK_TEST_COORDINATOR_SECRET"
if os.environ.get(_KEYS_ENV):
    _secret = os.environ[_KEYS_ENV].encode()
    COORDINATOR_KEYS = KeyPair(public=zmq.curve_public(_secret), secret=_secret)
else:
    COORDINATOR_KEYS = generate_keypair()
    os.environ[_KEYS_ENV] = COORDINATOR_KEYS.secret.decode()
#: Agents the test coordinators trust: every agent start_agent started (by endpoint and key).
TRUSTED_AGENTS = TrustStore.in_memory()

T = TypeVar("T")


def wait_for(check: Callable[[], T], what: str, *, timeout: float = WAIT_TIMEOUT, every: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# --- audio and jobs -------------------------------------------------------------------------


def write_pcm(path: Path, seconds: float, *, seed: int = 0) -> Path:
    """``seconds`` of 16 kHz s16le noise (every chunk's fake text differs)."""
    rng = np.random.default_rng(seed)
    rng.integers(-8000, 8000, int(seconds * SAMPLE_RATE), dtype=np.int16).astype("<i2").tofile(path)
    return path


def pcm_reader(path: Path) -> Callable[[Any, Any], bytes]:
    """The LeaseManager's read_audio: the chunk's stretch of ``path``."""

    def read(job: Any, chunk: Any) -> bytes:
        with PcmFile(path) as pcm:
            return pcm.read_pcm16(chunk.start, chunk.end)

    return read


def expected_text(path: Path, chunk: Any) -> str:
    """What the fake engine answers for ``chunk`` of ``path``: any agent, any attempt, the same."""
    with PcmFile(path) as pcm:
        return fake_text(pcm.read_pcm16(chunk.start, chunk.end))


def add_job(store: JobStore, pcm: Path, chunks: int, *, length: float = 4.0, model: str = MODEL.name,
            options: dict[str, Any] | None = None) -> str:
    """A planned job of ``chunks`` consecutive chunks of ``length`` seconds of ``pcm``."""
    job = store.add_job(source_path=pcm, language="en", model_name=model, decode_options=options or {},
                        duration_seconds=chunks * length)
    spans = [ChunkSpan(index=i, start=i * length, end=(i + 1) * length, cut=CutKind.SILENCE)
             for i in range(chunks)]
    store.plan_chunks(job.id, spans, deadline_seconds=CHUNK_DEADLINE)
    return job.id


# --- agent processes --------------------------------------------------------------------------


@dataclass
class AgentProcess:
    """A running fake agent in its own process group."""

    process: subprocess.Popen[bytes]
    endpoint: str
    agent_id: str
    log_path: Path
    #: The agent's CURVE public key, from its listening line.
    key: bytes = b""

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group (no goodbye, no hand-back) and reap it."""
        kill_group(self.process)


def kill_group(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first stdout line of ``process``, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline().decode(errors="replace").strip()


def _child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def start_agent(workdir: Path, name: str, *args: str, port: int = 0, slots: int = 1,
                engine: str = "fake", models_dir: Path | None = None,
                test_model: bool = True) -> AgentProcess:
    """Start an agent named ``name`` (its id lives in ``workdir/name``) and wait until it listens.

    The same ``name`` gives the same agent id, so an agent can be restarted as itself.
    A fake agent announces the test :data:`MODEL` unless ``test_model`` is False;
    ``models_dir`` is its model store (default: an empty folder shared by the test's agents).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    engine_args = ["--engine", engine]
    if engine == "fake" and test_model:
        engine_args += ["--fake-model", f"{MODEL.name}:{MODEL.sha256}"]
    command = [
        sys.executable, "-m", "sttdesk.agent.main", "--host", "127.0.0.1", "--port", str(port),
        *engine_args, "--slots", str(slots),
        "--name", name, "--data-dir", str(workdir / name),
        "--models-dir", str(models_dir or workdir / "no-models"), "--grace", "1",
        f"--trust-key={COORDINATOR_KEYS.public.decode()}", *args,
    ]
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, cwd=REPO_ROOT,
                                   env=_child_env(), start_new_session=True)
    line = _read_line(process, START_TIMEOUT)
    if "listening on" not in line:
        kill_group(process)
        raise AssertionError(f"agent {name} did not start: {line!r}\n{log_path.read_text(errors='replace')}")
    words = line.split()
    endpoint, key = words[words.index("on") + 1], words[words.index("key") + 1].encode()
    TRUSTED_AGENTS.trust_for_session(key, name=name, endpoint=endpoint)
    return AgentProcess(process=process, endpoint=endpoint, agent_id=words[1], log_path=log_path, key=key)


# --- a coordinator wired like the app's ----------------------------------------------------------


@dataclass
class CoordinatorRig:
    """A running coordinator over a store, with the app's timers, and every event it reported."""

    store: JobStore
    leases: LeaseManager
    coordinator: Coordinator
    timers: Timers
    events: list[tuple[str, dict[str, Any]]]

    def stop(self) -> None:
        self.timers.stop()
        self.coordinator.stop()

    def ready_agents(self) -> dict[str, Any]:
        """Agent id -> status, for the links that are ready."""
        return {a.agent_id: a for a in self.coordinator.agents() if a.ready}


def start_coordinator(store: JobStore, pcm: Path, *, coordinator_id: str | None = None,
                      policy: RetryPolicy | None = None, models: dict[str, ModelRef] | None = None,
                      model_files: ModelSource | None = None,
                      upload_options: dict[str, Any] | None = None) -> CoordinatorRig:
    """A coordinator over ``store``; ``models`` adds job models it resolves, ``model_files`` the
    files it can send agents (model provisioning) and ``upload_options`` the limits for that."""
    events: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def on_event(kind: str, data: dict[str, Any]) -> None:
        with lock:
            events.append((kind, data))

    known = {MODEL.name: MODEL, **(models or {})}

    def resolve_model(name: str) -> ModelRef:
        # Like the app: the installed file's hash for the model we "have", any file otherwise.
        return known.get(name, ModelRef(name, None))

    leases = LeaseManager(store, read_audio=pcm_reader(pcm), resolve_model=resolve_model,
                          policy=policy, on_event=on_event)
    coordinator = Coordinator(leases, coordinator_id=coordinator_id, name="test desk", on_event=on_event,
                              model_files=model_files, upload_options=upload_options,
                              keys=COORDINATOR_KEYS, trust=TRUSTED_AGENTS)
    timers = Timers(sweep=coordinator.sweep, purge=lambda: None, check_alerts=lambda: None,
                    sweep_seconds=SWEEP_SECONDS)
    coordinator.start()
    timers.start()
    return CoordinatorRig(store=store, leases=leases, coordinator=coordinator, timers=timers, events=events)


@dataclass
class CoordinatorProcess:
    """A coordinator running in a child process (to be killed -9)."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        kill_group(self.process)


def start_coordinator_process(workdir: Path, db: Path, pcm: Path, endpoints: list[str]) -> CoordinatorProcess:
    log_path = workdir / "coordinator.log"
    command = [sys.executable, "-m", "tests.cluster.harness", "--db", str(db), "--pcm", str(pcm)]
    for endpoint in endpoints:
        (key,) = [p.public_key for p in TRUSTED_AGENTS.peers() if p.endpoint == endpoint]
        command += ["--agent", endpoint, f"--agent-key={key}"]
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, cwd=REPO_ROOT,
                                   env=_child_env(), start_new_session=True)
    line = _read_line(process, START_TIMEOUT)
    if line != "coordinator running":
        kill_group(process)
        raise AssertionError(f"coordinator did not start: {line!r}\n{log_path.read_text(errors='replace')}")
    return CoordinatorProcess(process=process, log_path=log_path)


def main(argv: list[str] | None = None) -> int:
    """Run a coordinator over ``--db`` with the given agents until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--pcm", type=Path, required=True)
    parser.add_argument("--agent", action="append", default=[])
    parser.add_argument("--agent-key", action="append", default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = JobStore(args.db)
    store.recover_after_restart()
    rig = start_coordinator(store, args.pcm)
    for endpoint, key in zip(args.agent, args.agent_key, strict=True):
        rig.coordinator.add_agent(endpoint, local=True, server_key=key)
    rig.coordinator.wake()
    print("coordinator running", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.set())
    while not stopped.wait(1.0):
        pass
    rig.stop()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
