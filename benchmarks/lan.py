"""Benchmark of sttdesk over a simulated office LAN: dispatch, time to finish, model provisioning.

Hosts are Linux network namespaces joined by a bridge (``tests/lan/netns.py``),
with a ``tc netem`` delay on every host's link (5 ms by default, so 10 ms
round trips). The coordinator runs on host ``desk`` (this module again, as
``--coordinator SPEC``), real ``sttdesk-agent`` processes with the fake engine
on ``pc1`` .. ``pc8``, each with one slot. Without root or ``ip netns`` the
same runs happen on loopback, with no delay, and the report says so.

Runs:

* **dispatch**: a job of instant chunks (the fake engine answers at once) over
  1, 2, 4 and 8 agents: chunks per second through the coordinator and the links.
* **time to finish**: a job of chunks that each take ``--work`` seconds of
  (fake) engine time over 1, 2, 4 and 8 agents, against the ideal
  ``chunks x work / agents``.
* **unequal machines**: one fast and one ten times slower agent on the same
  job, with and without speculative copies at the tail, against the time the
  fast agent alone would need for its share.
* **provisioning**: agents with an empty model store fetch the real Whisper
  base q8_0 file (81 MB) from the coordinator; MB/s to 1 agent and to 3 at once.

Run from the repository root (as root for the namespaces)::

    python -m benchmarks.lan            # full
    python -m benchmarks.lan --quick    # small counts

Writes ``benchmarks/results/lan.json`` (``lan_quick.json`` with ``--quick``)
and ``lan.md`` (``lan_quick.md``), and prints the markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from . import plots
from .machine import machine_info
from .sections import Plot, RunContext, Section

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SAMPLE_RATE = 16000
#: The test model fake agents announce for the dispatch runs (a made-up hash).
FAKE_MODEL = ("bench-model", "be" * 32)
AGENT_COUNTS = (1, 2, 4, 8)
#: Delay added to every packet a host sends (ms).
DELAY_MS = 5.0
AGENT_PORT = 7878
#: Where the delaying relay listens in each agent's namespace (when netem is missing).
RELAY_PORT = 7879
RELAY_ATTEMPTS = 3
#: Environment variable that hands the coordinator process its CURVE secret key.
_KEYS_ENV = "STTDESK_BENCH_COORDINATOR_SECRET"
#: Chunks in the dispatch job, and in the time-to-finish job (full and quick).
DISPATCH_CHUNKS, QUICK_DISPATCH_CHUNKS = 800, 160
FINISH_CHUNKS, QUICK_FINISH_CHUNKS = 64, 16
#: Engine seconds each chunk of the time-to-finish job takes.
WORK_SECONDS = 0.5
#: Audio per chunk (what travels in each WORK message).
CHUNK_SECONDS = 4.0
#: Unequal machines: the slow agent's speed relative to the fast one.
SLOW_FACTOR = 10.0
#: Agent counts in the harness's --quick set.
QUICK_AGENT_COUNTS = (1, 2)
#: Agents fetching the model at once in the provisioning runs.
PROVISION_COUNTS = (1, 3)
START_TIMEOUT = 60.0
RUN_TIMEOUT = 900.0


# --- the network: namespaces, or loopback when they are not available -----------------------------


class Network:
    """Where hosts run: an :class:`OfficeLan` or, failing that, this machine's loopback."""

    def __init__(self, hosts: list[str], delay_ms: float, workdir: Path) -> None:
        self.workdir = workdir
        self.reason: str | None = None
        self.lan: Any = None
        self.delay_ms = 0.0
        #: Why the links have no netem delay although one was asked for (no netem in this kernel...).
        self.delay_missing: str | None = None
        #: Then the delay each way added by a user-space relay in front of every agent instead.
        self.relay_ms = 0.0
        from tests.lan.netns import (
            LanError,
            OfficeLan,
            netem_available,
            unavailable_reason,
        )

        self.reason = unavailable_reason()
        if self.reason is None:
            self.lan = OfficeLan(hosts).open()
            if delay_ms > 0 and not netem_available():
                self.delay_missing = "tc is not installed"
            elif delay_ms > 0:
                try:
                    for host in hosts:
                        self.lan.delay(host, delay_ms)
                    self.delay_ms = delay_ms
                except LanError as exc:
                    for host in hosts:
                        self.lan.delay(host, 0)
                    self.delay_missing = str(exc).rsplit(": ", 1)[-1]
            if self.delay_missing:
                # The same latency from a relay in each agent's namespace (tests/lan/delay_relay.py).
                self.relay_ms = delay_ms
                print(f"no netem on the links ({self.delay_missing}): a relay adds {delay_ms:g} ms each way",
                      file=sys.stderr)
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def kind(self) -> str:
        return "netns" if self.lan is not None else "loopback"

    def address(self, host: str) -> str:
        return self.lan.host(host).address if self.lan is not None else "127.0.0.1"

    def start(self, host: str, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        log = open(self.workdir / f"{log_name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        if self.lan is not None:
            process = self.lan.start(host, argv, env=env, stdout=subprocess.PIPE, stderr=log, cwd=REPO_ROOT).process
        else:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, cwd=REPO_ROOT, env=env,
                                       stdin=subprocess.DEVNULL)
        log.close()
        self._processes.append(process)
        return process

    def stop_processes(self) -> None:
        """Stop what was started (agents: SIGTERM, a short grace, then SIGKILL)."""
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._processes = []

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
        for process in self._processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.lan is not None:
            self.lan.close()


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline().decode(errors="replace").strip()


def _coordinator_keys() -> Any:
    """The benchmark coordinator's CURVE key pair: made once here, handed to the coordinator
    process (run on host "desk") through the environment, never on a command line."""
    from sttdesk.security.keys import KeyPair, generate_keypair

    secret = os.environ.get(_KEYS_ENV)
    if secret:
        return KeyPair(public=zmq.curve_public(secret.encode()), secret=secret.encode())
    keys = generate_keypair()
    os.environ[_KEYS_ENV] = keys.secret.decode()
    return keys


def start_agents(net: Network, hosts: list[str], extra: list[list[str]]) -> list[list[str]]:
    """One fake agent per host (``extra[i]``: its own options), serving the benchmark
    coordinator's key; returns their ``[endpoint, public key]``."""
    coordinator_key = _coordinator_keys().public.decode()
    processes = []
    for host, options in zip(hosts, extra, strict=True):
        port = "0" if net.lan is None else str(AGENT_PORT)
        argv = [sys.executable, "-m", "sttdesk.agent.main", "--host", net.address(host), "--port", port,
                "--engine", "fake", "--slots", "1", "--name", host, "--data-dir", str(net.workdir / host),
                "--log-level", "warning", "--grace", "1", f"--trust-key={coordinator_key}", *options]
        processes.append(net.start(host, argv, host))
    endpoints = []
    for host, process in zip(hosts, processes, strict=True):
        line = _first_line(process, START_TIMEOUT)
        if "listening on" not in line:
            raise RuntimeError(f"agent on {host} did not start: {line!r}")
        words = line.split()
        endpoints.append([words[words.index("on") + 1], words[words.index("key") + 1]])
    if net.relay_ms and net.lan is not None:
        # The relay passes the bytes through unchanged: CURVE still runs end to end with the agent's key.
        endpoints = [[_relay(net, host, endpoint), key]
                     for host, (endpoint, key) in zip(hosts, endpoints, strict=True)]
    return endpoints


def _relay(net: Network, host: str, endpoint: str) -> str:
    """Start a delaying relay in ``host`` in front of its agent at ``endpoint``; returns the relay's endpoint."""
    address = net.address(host)
    agent_port = endpoint.rsplit(":", 1)[1]
    argv = [sys.executable, "-m", "tests.lan.delay_relay", "--listen", f"{address}:{RELAY_PORT}",
            "--to", f"{address}:{agent_port}", "--delay-ms", f"{net.relay_ms:g}"]
    for attempt in range(RELAY_ATTEMPTS):
        process = net.start(host, argv, f"{host}-relay-{attempt}")
        line = _first_line(process, START_TIMEOUT)
        if "relaying on" in line:
            break
        # Seen once under load: the relay of the previous run still held the port. Try again.
        log = (net.workdir / f"{host}-relay-{attempt}.log").read_text(errors="replace")[-2000:]
        print(f"delay relay on {host} did not start ({process.poll()}): {line!r} {log}", file=sys.stderr)
        time.sleep(1.0)
    else:
        raise RuntimeError(f"delay relay on {host} did not start after {RELAY_ATTEMPTS} attempts")
    return f"tcp://{address}:{RELAY_PORT}"


# --- the coordinator side (runs on host "desk") -------------------------------------------------------


def run_coordinator(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement as the coordinator; returns its figures."""
    from sttdesk.cluster.coordinator import Coordinator
    from sttdesk.cluster.leasing import LeaseManager, ModelRef
    from sttdesk.cluster.provisioning import ModelFile
    from sttdesk.domain.chunks import ChunkSpan, CutKind
    from sttdesk.domain.jobs import JobState
    from sttdesk.service.timers import Timers
    from sttdesk.store import JobStore

    workdir = Path(spec["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    chunks, seconds = spec["chunks"], spec["chunk_seconds"]
    pcm = workdir / "audio.pcm"
    rng = np.random.default_rng(0)
    rng.integers(-8000, 8000, int(chunks * seconds * SAMPLE_RATE), dtype=np.int16).astype("<i2").tofile(pcm)
    audio = pcm.read_bytes()
    model = ModelRef(*spec["model"])
    store = JobStore(workdir / "jobs.db")
    served = ModelFile(spec["model"][0], spec["model"][1], spec["model_size"], Path(spec["model_path"])) \
        if spec.get("model_path") else None

    def read_audio(job: Any, chunk: Any) -> bytes:
        start, end = int(chunk.start * SAMPLE_RATE) * 2, int(chunk.end * SAMPLE_RATE) * 2
        return audio[start:end]

    leases = LeaseManager(store, read_audio=read_audio, resolve_model=lambda name: model,
                          speculation=spec.get("speculation", True))
    coordinator = Coordinator(
        leases, name="bench desk", keys=_coordinator_keys(),
        model_files=(lambda name, sha: served if served and (name, sha) == (served.name, served.sha256) else None),
    )
    timers = Timers(sweep=coordinator.sweep, purge=lambda: None, check_alerts=lambda: None, sweep_seconds=1.0)
    coordinator.start()
    timers.start()
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        job = store.add_job(source_path=pcm, language="en", model_name=model.name, decode_options={},
                            duration_seconds=chunks * seconds)
        spans = [ChunkSpan(index=i, start=i * seconds, end=(i + 1) * seconds, cut=CutKind.SILENCE)
                 for i in range(chunks)]
        if spec["mode"] == "provision":
            store.plan_chunks(job.id, spans, deadline_seconds=600.0)
            return _provision(coordinator, spec, served, deadline)
        for endpoint, key in spec["endpoints"]:
            # Started by this benchmark, which read their keys from their own output: trusted.
            coordinator.add_agent(endpoint, server_key=key, local=True)
        while len([a for a in coordinator.agents() if a.ready]) < len(spec["endpoints"]):
            _check(deadline, "agents to say READY")
        started = time.monotonic()
        store.plan_chunks(job.id, spans, deadline_seconds=600.0)
        coordinator.wake()
        while store.get_job(job.id).state is not JobState.COMPLETED:
            _check(deadline, "the job to complete", every=0.01)
        wall = time.monotonic() - started
        done = store.chunks_of(job.id)
        by_agent: dict[str, int] = {}
        for chunk in done:
            by_agent[chunk.done_agent_id or "?"] = by_agent.get(chunk.done_agent_id or "?", 0) + 1
        dropped = sum(1 for e in store.events(job_id=job.id) if e.kind == "reply_dropped")
        return {"wall_seconds": round(wall, 3), "chunks_per_second": round(chunks / wall, 1),
                "chunks_by_agent": sorted(by_agent.values(), reverse=True), "replies_dropped": dropped,
                "results": len([c for c in done if c.result() is not None])}
    finally:
        timers.stop()
        coordinator.stop()
        store.close()


def _provision(coordinator: Any, spec: dict[str, Any], served: Any, deadline: float) -> dict[str, Any]:
    ready_at: dict[str, float] = {}
    installed_at: dict[str, float] = {}
    for endpoint, key in spec["endpoints"]:
        coordinator.add_agent(endpoint, server_key=key, local=True)
    coordinator.wake()
    while len(installed_at) < len(spec["endpoints"]):
        now = time.monotonic()
        for status in coordinator.agents():
            if status.ready:
                ready_at.setdefault(status.endpoint, now)
            if served.name in status.models:
                installed_at.setdefault(status.endpoint, now)
        _check(deadline, "every agent to install the model", every=0.02)
    first, last = min(ready_at.values()), max(installed_at.values())
    per_agent = [served.size / 1e6 / (installed_at[e] - ready_at[e]) for e in installed_at]
    return {"size_mb": round(served.size / 1e6, 1), "wall_seconds": round(last - first, 3),
            "aggregate_mb_per_s": round(len(installed_at) * served.size / 1e6 / (last - first), 1),
            "per_agent_mb_per_s": [round(x, 1) for x in sorted(per_agent)],
            "peak_pieces_in_flight": coordinator.peak_pieces_in_flight}


def _check(deadline: float, what: str, every: float = 0.05) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"gave up waiting for {what}")
    time.sleep(every)


# --- the orchestrator ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One measured run."""

    run: str
    agents: int
    chunks: int
    wall_seconds: float
    #: Chunks per second (dispatch), or None.
    chunks_per_second: float | None = None
    #: The shortest time possible: total engine work spread evenly (time to finish), or None.
    ideal_seconds: float | None = None
    #: wall / ideal.
    vs_ideal: float | None = None
    #: Results stored (must equal ``chunks``) and late replies the store dropped.
    results: int | None = None
    replies_dropped: int | None = None
    chunks_by_agent: list[int] | None = None


def coordinate(net: Network, spec: dict[str, Any]) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.lan", "--coordinator", json.dumps(spec)]
    process = net.start("desk", argv, f"desk-{spec['label']}")
    try:
        out, _ = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        log = (net.workdir / f"desk-{spec['label']}.log").read_text(errors="replace")
        raise RuntimeError(f"coordinator run {spec['label']} failed ({process.returncode}):\n{log[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts")
    parser.add_argument("--agents", type=int, nargs="+", default=list(AGENT_COUNTS), help="agent counts")
    parser.add_argument("--delay-ms", type=float, default=DELAY_MS, help="netem delay on every host's link")
    parser.add_argument("--work", type=float, default=WORK_SECONDS, help="engine seconds per chunk")
    parser.add_argument("--no-provisioning", action="store_true", help="skip the model provisioning runs")
    parser.add_argument("--output", type=Path, help="JSON file to write")
    parser.add_argument("--coordinator", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.coordinator:
        print(json.dumps(run_coordinator(json.loads(args.coordinator))), flush=True)
        return 0

    stem = "lan_quick" if args.quick else "lan"
    output = args.output or RESULTS_DIR / f"{stem}.json"
    report = run_lan(quick=args.quick, agent_counts=args.agents, delay_ms=args.delay_ms, work=args.work,
                     with_provisioning=not args.no_provisioning)
    rows = [Row(**r) for r in report["runs"]]
    provisioning = report["provisioning"]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = report_markdown(report, rows, provisioning)
    output.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"Written to {output} and {output.with_suffix('.md')}")
    return 0


def run_lan(*, quick: bool = False, agent_counts: list[int] | tuple[int, ...] = AGENT_COUNTS,
            delay_ms: float = DELAY_MS, work: float = WORK_SECONDS, with_provisioning: bool = True) -> dict[str, Any]:
    """Run every LAN measurement; returns the report (JSON-ready; ``runs`` are :class:`Row` dicts)."""
    dispatch_chunks = QUICK_DISPATCH_CHUNKS if quick else DISPATCH_CHUNKS
    finish_chunks = QUICK_FINISH_CHUNKS if quick else FINISH_CHUNKS
    most = max([*agent_counts, 2, *PROVISION_COUNTS])
    hosts = ["desk", *(f"pc{i + 1}" for i in range(most))]
    rows: list[Row] = []
    provisioning: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sttdesk-bench-lan-") as tmp:
        net = Network(hosts, delay_ms, Path(tmp))
        try:
            if net.reason:
                print(f"no network namespaces ({net.reason}): measuring on loopback", file=sys.stderr)
            fake = ["--fake-model", f"{FAKE_MODEL[0]}:{FAKE_MODEL[1]}"]
            for count in agent_counts:
                pcs = hosts[1:count + 1]
                for run, chunks, chunk_work in (("dispatch", dispatch_chunks, 0.0), ("finish", finish_chunks, work)):
                    label = f"{run}-{count}"
                    print(f"{label} ...", file=sys.stderr)
                    endpoints = start_agents(net, pcs, [[*fake, "--fake-delay", str(chunk_work)]] * count)
                    result = coordinate(net, {"label": label, "mode": "jobs", "workdir": f"{tmp}/{label}",
                                              "endpoints": endpoints, "chunks": chunks,
                                              "chunk_seconds": CHUNK_SECONDS, "model": FAKE_MODEL})
                    net.stop_processes()
                    ideal = chunks * chunk_work / count if chunk_work else None
                    rows.append(Row(run=run, agents=count, chunks=chunks, wall_seconds=result["wall_seconds"],
                                    chunks_per_second=result["chunks_per_second"] if not chunk_work else None,
                                    ideal_seconds=round(ideal, 3) if ideal else None,
                                    vs_ideal=round(result["wall_seconds"] / ideal, 3) if ideal else None,
                                    results=result["results"], replies_dropped=result["replies_dropped"],
                                    chunks_by_agent=result["chunks_by_agent"]))
            rows += unequal(net, hosts, finish_chunks, work, fake)
            if with_provisioning:
                provisioning = provision(net, hosts)
        finally:
            net.stop_processes()
            net.close()

    report = {
        "benchmark": "lan",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine_info(), "zmq": zmq.zmq_version(), "pyzmq": zmq.__version__},
        "quick": quick,
        "network": {"kind": net.kind, "delay_ms_each_way": net.delay_ms, "why_not_netns": net.reason,
                    "why_no_delay": net.delay_missing, "relay_delay_ms_each_way": net.relay_ms},
        "chunk_seconds": CHUNK_SECONDS,
        "work_seconds": work,
        "runs": [asdict(r) for r in rows],
        "provisioning": provisioning,
    }
    return report


def unequal(net: Network, hosts: list[str], chunks: int, work: float, fake: list[str]) -> list[Row]:
    """One fast and one slow agent: the tail with and without speculative copies."""
    rows = []
    fast_speed = CHUNK_SECONDS / work  # the fast agent needs ``work`` seconds per chunk
    slow_speed = fast_speed / SLOW_FACTOR
    # Alone, the fast agent would do all but the chunks the slow one finishes meanwhile:
    # it does n chunks in n*work while the slow one does n/SLOW_FACTOR, so n = chunks*F/(F+1).
    share = chunks * SLOW_FACTOR / (SLOW_FACTOR + 1)
    ideal = share * work
    for speculation in (False, True):
        label = f"unequal-{'copies' if speculation else 'no-copies'}"
        print(f"{label} ...", file=sys.stderr)
        endpoints = start_agents(net, hosts[1:3], [[*fake, "--fake-speed", str(fast_speed)],
                                                   [*fake, "--fake-speed", str(slow_speed)]])
        result = coordinate(net, {"label": label, "mode": "jobs", "workdir": f"{net.workdir}/{label}",
                                  "endpoints": endpoints, "chunks": chunks, "chunk_seconds": CHUNK_SECONDS,
                                  "model": FAKE_MODEL, "speculation": speculation})
        net.stop_processes()
        rows.append(Row(run=label, agents=2, chunks=chunks, wall_seconds=result["wall_seconds"],
                        ideal_seconds=round(ideal, 3), vs_ideal=round(result["wall_seconds"] / ideal, 3),
                        results=result["results"], replies_dropped=result["replies_dropped"],
                        chunks_by_agent=result["chunks_by_agent"]))
    return rows


def provision(net: Network, hosts: list[str]) -> list[dict[str, Any]]:
    """Agents with empty model stores fetch base q8_0 from the coordinator, 1 and then 3 at once."""
    from sttdesk.engine.store import ModelStore
    from sttdesk.paths import default_paths

    store = ModelStore(default_paths().models_dir)
    try:
        model = store.get("base-q8_0")
    except Exception as exc:  # noqa: BLE001 - reported, the other runs stand
        print(f"provisioning skipped: base-q8_0 is not installed ({exc})", file=sys.stderr)
        return []
    results = []
    for count in PROVISION_COUNTS:
        label = f"provision-{count}"
        print(f"{label} ...", file=sys.stderr)
        pcs = hosts[1:count + 1]
        options = [["--fake-store", "--models-dir", str(net.workdir / label / f"{pc}-models")] for pc in pcs]
        endpoints = start_agents(net, pcs, options)
        result = coordinate(net, {"label": label, "mode": "provision", "workdir": f"{net.workdir}/{label}/desk",
                                  "endpoints": endpoints, "chunks": 1, "chunk_seconds": CHUNK_SECONDS,
                                  "model": [model.name, model.sha256], "model_size": model.size,
                                  "model_path": str(model.path)})
        net.stop_processes()
        results.append({"agents": count, **result})
    return results


def report_markdown(report: dict[str, Any], rows: list[Row], provisioning: list[dict[str, Any]]) -> str:
    network = report["network"]
    if network["kind"] != "netns":
        where = f"loopback (no namespaces: {network['why_not_netns']})"
    elif network["why_no_delay"] and network.get("relay_delay_ms_each_way"):
        where = (f"network namespaces, {network['relay_delay_ms_each_way']:g} ms each way added by a relay in "
                 f"front of each agent (no netem: {network['why_no_delay']})")
    elif network["why_no_delay"]:
        where = f"network namespaces, no link delay ({network['why_no_delay']})"
    else:
        where = f"network namespaces, netem {network['delay_ms_each_way']:g} ms each way"
    machine = report["machine"]
    title = (f"## LAN benchmark: fake engine, {report['chunk_seconds']:g} s chunks, {where}, "
             f"{machine['usable_cores']} CPUs (load {machine['load_average']})")
    lines = [title, "",
             "### Dispatch (instant chunks)", "",
             "| agents | chunks | wall s | chunks/s | results | dropped |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.run == "dispatch":
            lines.append(f"| {r.agents} | {r.chunks} | {r.wall_seconds:.2f} | {r.chunks_per_second:.0f} "
                         f"| {r.results} | {r.replies_dropped} |")
    lines += ["", f"### Time to finish ({report['work_seconds']:g} s of engine time per chunk)", "",
              "| run | agents | chunks | wall s | ideal s | wall/ideal | chunks per agent |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r.run != "dispatch":
            lines.append(f"| {r.run} | {r.agents} | {r.chunks} | {r.wall_seconds:.2f} | {r.ideal_seconds:.2f} "
                         f"| {r.vs_ideal:.2f} | {r.chunks_by_agent} |")
    lines.append("")
    lines.append("Unequal: one agent ten times slower than the other; ideal = the fast agent's share of the "
                 "work alone (the chunks the slow one finishes meanwhile subtracted).")
    if provisioning:
        lines += ["", "### Model provisioning (base q8_0)", "",
                  "| agents at once | MB each | wall s | aggregate MB/s | per agent MB/s | peak pieces in flight |",
                  "|---:|---:|---:|---:|---|---:|"]
        for p in provisioning:
            lines.append(f"| {p['agents']} | {p['size_mb']} | {p['wall_seconds']:.2f} | {p['aggregate_mb_per_s']} "
                         f"| {p['per_agent_mb_per_s']} | {p['peak_pieces_in_flight']} |")
    return "\n".join(lines) + "\n"


# --- the harness section (python -m benchmarks lan) ---------------------------------------------------


def _section_run(ctx: RunContext) -> dict[str, Any]:
    report = run_lan(quick=ctx.quick, agent_counts=QUICK_AGENT_COUNTS if ctx.quick else AGENT_COUNTS,
                     with_provisioning=True)
    report["setup"] = {
        "models": [],
        "engine": f"fake ({WORK_SECONDS:g} s per chunk in the time-to-finish runs; instant for dispatch)",
        "chunk_seconds": CHUNK_SECONDS,
        "network": report["network"],
    }
    return report


def _section_render(record: dict[str, Any]) -> str:
    rows = [Row(**r) for r in record["runs"]]
    text = report_markdown(record, rows, record["provisioning"])
    # The harness gives the section its own heading: keep the description line as a sentence.
    first, _, rest = text.partition("\n")
    first = first.removeprefix("## LAN benchmark: ")
    return first[:1].upper() + first[1:] + ".\n" + rest.replace("### ", "#### ")


def _section_plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    finish = [r for r in record["runs"] if r["ideal_seconds"]]
    file = "lan-finish.png"
    plots.grouped_bars(folder / file, "Time to finish a job over LAN agents (fake engine)",
                       [f"{r['run']} x{r['agents']}" for r in finish],
                       {"measured": [r["wall_seconds"] for r in finish],
                        "ideal": [r["ideal_seconds"] for r in finish]},
                       ylabel="seconds", footer=plots.footer(footer, record["setup"]), value_format="{:.1f}")
    return [Plot(file, "time to finish a job over 1-8 LAN agents and unequal agents, against the ideal")]


SECTION = Section(
    name="lan",
    title="LAN agents: dispatch, time to finish, unequal machines, model provisioning (fake engine)",
    run=_section_run,
    render=_section_render,
    plot=_section_plot,
    estimate_s=300.0,
    # the control plane over a LAN with a fake engine (issue 5): run by name, outside the default set
    default=False,
)


if __name__ == "__main__":
    sys.exit(main())
