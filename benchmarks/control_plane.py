"""Benchmark of the control plane alone: chunks dispatched per second, and the coordinator's memory.

The real :class:`~sttdesk.cluster.coordinator.Coordinator` and
:class:`~sttdesk.cluster.leasing.LeaseManager` run in this process over a real
job store (SQLite, WAL, in a temp folder), and talk over loopback ZeroMQ to
real ``sttdesk-agent`` processes running the fake engine, which answers at
once. So every chunk costs exactly what sttdesk adds around whisper: a fair
pick from the queue, a lease (one write transaction), a WORK message with the
chunk's audio, the agent's turn-around, a RESULT and its compare-and-set
completion (another write transaction).

Shapes: ``N agents`` means N agent links, each its own process with one slot,
as the local pool and LAN agents are (one DEALER socket, one heartbeat and one
credit line per agent). On a 2-core machine 16 agent processes compete with the
coordinator for the CPU, so the same capacity is also run as one process with
N slots (``--also-slots``), which shows what the coordinator itself can do.

Memory: after ``--memory-chunks`` chunks (10,000 by default) through 4 agents,
the resident size of this process (VmRSS, store and ZeroMQ included) and the
Python heap as tracemalloc sees it, against the same figures before the run.

Run from the repository root::

    python -m benchmarks.control_plane            # 3,000 chunks per shape, memory after 10,000
    python -m benchmarks.control_plane --quick    # CI: small counts

Writes ``benchmarks/results/control_plane.json`` (``control_plane_quick.json``
with ``--quick``) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from sttdesk.cluster.coordinator import Coordinator
from sttdesk.cluster.leasing import LeaseManager, ModelRef
from sttdesk.domain.chunks import ChunkSpan, CutKind
from sttdesk.security.keys import generate_keypair
from sttdesk.service.timers import Timers
from sttdesk.store import JobStore

from . import plots
from .sections import Plot, RunContext, Section

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MODEL = ModelRef("bench-model", "be" * 32)
SAMPLE_RATE = 16000
#: Agent counts measured (the issue's 1, 4 and 16).
AGENT_COUNTS = (1, 4, 16)
#: Chunks per measured shape, and through the memory run (full and --quick).
CHUNKS = 3000
QUICK_CHUNKS = 200
MEMORY_CHUNKS = 10_000
QUICK_MEMORY_CHUNKS = 1000
MEMORY_AGENTS = 4
#: The memory run reads RSS and tracemalloc this many times along the way (growth shows as a trend).
MEMORY_STEPS = 5
#: Chunks per job: the queue holds several jobs, as it does for a busy office.
CHUNKS_PER_JOB = 500
#: Audio per chunk. Real chunks are up to 30 s (0.96 MB); 1 s keeps the benchmark on the
#: control plane rather than on copying audio (``--chunk-seconds 30`` shows that cost).
CHUNK_SECONDS = 1.0
#: Store events that mean something went wrong on the way.
INCIDENT_KINDS = ("lease_expired", "chunk_released", "chunk_retry_wait", "reply_dropped", "agent_crash")
#: Chunks handed out before timing starts (connections warm, engines loaded).
WARMUP_CHUNKS = 50
START_TIMEOUT = 60.0
#: Longest any one run may take before the benchmark gives up.
RUN_TIMEOUT = 900.0


# --- agents -------------------------------------------------------------------------------------


@dataclass
class Agent:
    process: subprocess.Popen[bytes]
    endpoint: str
    #: Its CURVE public key, from its listening line.
    key: str = ""


def start_agents(count: int, slots: int, workdir: Path, coordinator_key: str) -> list[Agent]:
    """``count`` fake agents with ``slots`` slots each, listening on loopback and serving the
    coordinator whose public key is ``coordinator_key``; started in parallel."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    processes = []
    for i in range(count):
        command = [
            sys.executable, "-m", "sttdesk.agent.main", "--host", "127.0.0.1", "--port", "0",
            "--engine", "fake", "--fake-model", f"{MODEL.name}:{MODEL.sha256}", "--slots", str(slots),
            "--name", f"bench-{i}", "--data-dir", str(workdir / f"agent-{i}"),
            "--models-dir", str(workdir / "no-models"), "--log-level", "warning",
            f"--trust-key={coordinator_key}",
        ]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          cwd=REPO_ROOT, env=env, start_new_session=True))
    agents = []
    deadline = time.monotonic() + START_TIMEOUT
    try:
        for process in processes:
            assert process.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("an agent did not start in time")
            words = process.stdout.readline().decode().split()
            if "listening" not in words:
                raise RuntimeError(f"an agent did not start: {' '.join(words)!r}")
            agents.append(Agent(process=process, endpoint=words[words.index("on") + 1],
                                key=words[words.index("key") + 1]))
    except BaseException:
        stop_agents([Agent(p, "") for p in processes])
        raise
    return agents


def stop_agents(agents: list[Agent]) -> None:
    for agent in agents:
        if agent.process.poll() is None:
            try:
                os.killpg(agent.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for agent in agents:
        agent.process.wait(30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes() -> int:
    """Resident size of this process now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --- one run ----------------------------------------------------------------------------------------


class Completions:
    """Counts accepted chunk results (the coordinator thread calls it) and signals a target."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self._target = 0
        self.reached = threading.Event()

    def expect(self, target: int) -> None:
        with self._lock:
            self._target = target
            self.reached.clear()
            if self.count >= target:
                self.reached.set()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "chunk_result" or not data["outcome"].accepted:
            return
        with self._lock:
            self.count += 1
            if self.count >= self._target:
                self.reached.set()


@dataclass
class RunResult:
    """One measured shape."""

    label: str
    agents: int
    processes: int
    slots_per_process: int
    chunks: int
    chunk_seconds: float
    wall_seconds: float
    chunks_per_second: float
    #: CPU time of this process (the coordinator thread, the store) per chunk.
    coordinator_cpu_ms_per_chunk: float
    #: CPU time of all agent processes per chunk.
    agents_cpu_ms_per_chunk: float
    #: Load average of the machine (1 min) when the run ended: other work shares the CPUs.
    load_average: float = 0.0
    #: Events that should not happen on a healthy run (expired or released leases, retries,
    #: dropped replies), counted from the store's event log; all zero normally.
    incidents: dict[str, int] | None = None
    #: Memory runs only: RSS before the timed chunks, and after every step of them.
    rss_before_mb: float | None = None
    steps: list[dict[str, float]] | None = None


@contextmanager
def rig(workdir: Path, processes: int, slots: int, chunk_seconds: float) -> Iterator[tuple[Any, ...]]:
    """Store, lease manager, coordinator and agents, all connected; torn down on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    audio = np.random.default_rng(0).integers(-8000, 8000, int(chunk_seconds * SAMPLE_RATE), dtype=np.int16)
    payload = audio.astype("<i2").tobytes()
    store = JobStore(workdir / "jobs.db")
    completions = Completions()
    leases = LeaseManager(store, read_audio=lambda job, chunk: payload, resolve_model=lambda name: MODEL,
                          on_event=completions)
    keys = generate_keypair()
    coordinator = Coordinator(leases, on_event=completions, context=zmq.Context(), keys=keys)
    # the app's timers: lease-expiry sweeps and retry wake-ups once a second
    timers = Timers(sweep=coordinator.sweep, purge=lambda: None, check_alerts=lambda: None)
    agents: list[Agent] = []
    try:
        agents = start_agents(processes, slots, workdir, keys.public.decode("ascii"))
        coordinator.start()
        timers.start()
        for agent in agents:
            coordinator.add_agent(agent.endpoint, local=True, server_key=agent.key)
        deadline = time.monotonic() + START_TIMEOUT
        while sum(a.ready for a in coordinator.agents()) < processes:
            if time.monotonic() > deadline:
                raise RuntimeError("the agents did not all answer HELLO")
            time.sleep(0.05)
        yield store, coordinator, completions, agents
    finally:
        timers.stop()
        coordinator.stop()
        stop_agents(agents)
        store.close()


def add_jobs(store: JobStore, chunks: int, chunk_seconds: float) -> None:
    left = chunks
    while left > 0:
        count = min(CHUNKS_PER_JOB, left)
        job = store.add_job(source_path="/bench/audio.wav", language="en", model_name=MODEL.name)
        spans = [ChunkSpan(index=i, start=i * chunk_seconds, end=(i + 1) * chunk_seconds, cut=CutKind.SILENCE)
                 for i in range(count)]
        store.plan_chunks(job.id, spans, deadline_seconds=300.0)
        left -= count


def run_chunks(store: JobStore, coordinator: Coordinator, completions: Completions, chunks: int,
               chunk_seconds: float) -> None:
    add_jobs(store, chunks, chunk_seconds)
    completions.expect(completions.count + chunks)
    coordinator.wake()
    if not completions.reached.wait(RUN_TIMEOUT):
        raise RuntimeError(f"only {completions.count} chunks completed within {RUN_TIMEOUT:.0f} s")


def measure(label: str, processes: int, slots: int, chunks: int, chunk_seconds: float, workdir: Path,
            *, memory_steps: int = 0) -> RunResult:
    """Time ``chunks`` chunks through the shape; with ``memory_steps``, trace memory in that many steps."""
    with rig(workdir, processes, slots, chunk_seconds) as (store, coordinator, completions, agents):
        run_chunks(store, coordinator, completions, min(WARMUP_CHUNKS, chunks), chunk_seconds)
        gc.collect()
        rss_before = rss_bytes()
        steps: list[dict[str, float]] = []
        if memory_steps:
            tracemalloc.start()
        cpu_before = time.process_time()
        agent_cpu_before = sum(cpu_seconds(a.process.pid) for a in agents)
        started = time.perf_counter()
        done = 0
        for step in range(max(1, memory_steps)):
            count = chunks * (step + 1) // max(1, memory_steps) - done
            run_chunks(store, coordinator, completions, count, chunk_seconds)
            done += count
            if memory_steps:
                gc.collect()
                current, peak = tracemalloc.get_traced_memory()
                steps.append({"chunks": done, "rss_mb": round(rss_bytes() / 2**20, 1),
                              "traced_current_mb": round(current / 2**20, 2),
                              "traced_peak_mb": round(peak / 2**20, 2)})
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        agent_cpu = sum(cpu_seconds(a.process.pid) for a in agents) - agent_cpu_before
        result = RunResult(
            label=label, agents=processes * slots, processes=processes, slots_per_process=slots,
            chunks=chunks, chunk_seconds=chunk_seconds, wall_seconds=round(wall, 3),
            chunks_per_second=round(chunks / wall, 1),
            coordinator_cpu_ms_per_chunk=round(1000 * cpu / chunks, 3),
            agents_cpu_ms_per_chunk=round(1000 * agent_cpu / chunks, 3),
            load_average=round(os.getloadavg()[0], 2),
            incidents={kind: len(store.events(kinds=[kind], limit=1_000_000)) for kind in INCIDENT_KINDS},
        )
        if memory_steps:
            tracemalloc.stop()
            result.rss_before_mb = round(rss_before / 2**20, 1)
            result.steps = steps
        return result


# --- report -----------------------------------------------------------------------------------------


def throughput_table(results: list[RunResult]) -> str:
    lines = [
        ("| agents | processes × slots | chunks | wall s | chunks/s | coordinator CPU ms/chunk "
         "| agents CPU ms/chunk | load avg |"),
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.agents} | {r.processes} × {r.slots_per_process} | {r.chunks} | {r.wall_seconds:.2f} "
                     f"| {r.chunks_per_second:.0f} | {r.coordinator_cpu_ms_per_chunk:.2f} "
                     f"| {r.agents_cpu_ms_per_chunk:.2f} | {r.load_average:.1f} |")
    return "\n".join(lines)


def memory_table(r: RunResult) -> str:
    lines = [
        "| chunks done | RSS MB | tracemalloc now MB | tracemalloc peak MB |",
        "|---:|---:|---:|---:|",
        f"| 0 (after warm-up) | {r.rss_before_mb} | 0 | 0 |",
    ]
    for step in r.steps or []:
        lines.append(f"| {step['chunks']:.0f} | {step['rss_mb']} | {step['traced_current_mb']} "
                     f"| {step['traced_peak_mb']} |")
    return "\n".join(lines)


def run_benchmark(chunks: int, memory_chunks: int, *, agent_counts: tuple[int, ...] = AGENT_COUNTS,
                  also_slots: bool = False, chunk_seconds: float = CHUNK_SECONDS, quick: bool = False) -> dict[str, Any]:
    """Throughput of each shape and the coordinator's memory over ``memory_chunks``; the JSON-ready report."""
    shapes = [(f"{n} agents", n, 1) for n in agent_counts]
    if also_slots:
        shapes += [(f"{n} slots in 1 agent", 1, n) for n in agent_counts if n > 1]
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="sttdesk-bench-control-") as tmp:
        for index, (label, processes, slots) in enumerate(shapes):
            print(f"{label}: {chunks} chunks ...", file=sys.stderr)
            result = measure(label, processes, slots, chunks, chunk_seconds, Path(tmp) / f"run-{index}")
            print(f"  {result.chunks_per_second:.0f} chunks/s", file=sys.stderr)
            results.append(result)
        print(f"memory: {memory_chunks} chunks through {MEMORY_AGENTS} agents ...", file=sys.stderr)
        mem = measure("memory", MEMORY_AGENTS, 1, memory_chunks, chunk_seconds, Path(tmp) / "memory",
                      memory_steps=MEMORY_STEPS)
    return {
        "benchmark": "control_plane",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "zmq": zmq.zmq_version(), "pyzmq": zmq.__version__},
        "quick": quick,
        "throughput": [asdict(r) for r in results],
        "memory": asdict(mem),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for CI")
    parser.add_argument("--chunks", type=int, help=f"chunks per shape (default {CHUNKS}, quick {QUICK_CHUNKS})")
    parser.add_argument("--memory-chunks", type=int,
                        help=f"chunks before memory is read (default {MEMORY_CHUNKS}, quick {QUICK_MEMORY_CHUNKS})")
    parser.add_argument("--agents", type=int, nargs="+", default=list(AGENT_COUNTS), help="agent counts")
    parser.add_argument("--also-slots", action="store_true",
                        help="also run each count > 1 as one process with that many slots")
    parser.add_argument("--chunk-seconds", type=float, default=CHUNK_SECONDS, help="audio per chunk")
    parser.add_argument("--output", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)
    chunks = args.chunks or (QUICK_CHUNKS if args.quick else CHUNKS)
    memory_chunks = args.memory_chunks or (QUICK_MEMORY_CHUNKS if args.quick else MEMORY_CHUNKS)
    output = args.output or RESULTS_DIR / ("control_plane_quick.json" if args.quick else "control_plane.json")

    report = run_benchmark(chunks, memory_chunks, agent_counts=tuple(args.agents), also_slots=args.also_slots,
                           chunk_seconds=args.chunk_seconds, quick=args.quick)
    results = [RunResult(**r) for r in report["throughput"]]
    mem = RunResult(**report["memory"])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(f"## Control plane: fake engine answering at once, {args.chunk_seconds:g} s chunks, "
          f"{os.cpu_count()} CPUs\n")
    print(throughput_table(results))
    print(f"\n## Coordinator process memory over {mem.chunks} chunks ({mem.agents} agents; "
          f"{mem.chunks_per_second:.0f} chunks/s with tracemalloc on)\n")
    print(memory_table(mem))
    for r in [*results, mem]:
        trouble = {kind: n for kind, n in (r.incidents or {}).items() if n}
        if trouble:
            print(f"\n{r.label}: incidents {trouble}")
    print(f"\nWritten to {output}")
    return 0


# --- the harness section (python -m benchmarks control_plane) -----------------------------------

#: Agent counts in the harness's --quick set (16 agent processes take long to start on a busy PC).
QUICK_AGENT_COUNTS = (1, 4)


def _section_run(ctx: RunContext) -> dict[str, Any]:
    report = run_benchmark(QUICK_CHUNKS if ctx.quick else CHUNKS, QUICK_MEMORY_CHUNKS if ctx.quick else MEMORY_CHUNKS,
                           agent_counts=QUICK_AGENT_COUNTS if ctx.quick else AGENT_COUNTS)
    report["setup"] = {
        "models": [],
        "engine": "fake (answers at once): only what sttdesk adds around whisper is measured",
        "chunk_seconds": CHUNK_SECONDS,
        "memory_agents": MEMORY_AGENTS,
    }
    return report


def _section_render(record: dict[str, Any]) -> str:
    results = [RunResult(**r) for r in record["throughput"]]
    mem = RunResult(**record["memory"])
    return "\n".join([
        ("The real coordinator, lease manager and SQLite job store with real agent processes over loopback ZeroMQ, "
        f"running the fake engine; {CHUNK_SECONDS:g} s chunks."),
        "",
        throughput_table(results),
        "",
        f"Coordinator process memory over {mem.chunks} chunks ({mem.agents} agents):",
        "",
        memory_table(mem),
    ])


def _section_plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    results = record["throughput"]
    file = "control-plane.png"
    plots.horizontal_bars(folder / file, "Chunks dispatched per second (fake engine)",
                          [r["label"] for r in results], [r["chunks_per_second"] for r in results],
                          xlabel="chunks per second", footer=plots.footer(footer, record["setup"]),
                          value_format="{:.0f}")
    return [Plot(file, "control-plane dispatch rate by number of agents")]


SECTION = Section(
    name="control_plane",
    title="Control plane: dispatch rate and coordinator memory (fake engine)",
    run=_section_run,
    render=_section_render,
    plot=_section_plot,
    estimate_s=120.0,
    # the coordinator alone with a fake engine: run by name, outside the default set
    default=False,
)


if __name__ == "__main__":
    sys.exit(main())
