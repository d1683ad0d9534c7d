"""Benchmark of the audio pipeline: probe + decode + chunk an hour of real speech, and its memory.

The input is built from the real English recordings in ``tests/data/en``, one
after the other with pauses drawn like those of a talk (mostly short breaths,
some sentence breaks, a few long pauses), then encoded the way users bring
recordings: MP3 and AAC (M4A) at 44.1/48 kHz stereo, and 16 kHz mono WAV as the
floor where there is nothing to decode or resample.

Each measurement runs in a fresh process so that its peak memory is its own:
``tracemalloc`` gives the peak of Python and numpy allocations, VmHWM the peak
resident size of the process (interpreter and libraries included) and of its
largest ffmpeg/ffprobe child, sampled every 20 ms while the child runs.

Run from the repository root::

    python -m benchmarks.chunking                 # 60 min, mp3 + m4a + wav, 3 runs each
    python -m benchmarks.chunking --minutes 10 --formats mp3 --repeat 1

Writes ``benchmarks/results/chunking.json`` and prints a markdown table. The
inputs (about 250 MB for an hour) are cached in ``--work-dir``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np

from sttdesk.audio.chunker import ChunkerOptions, ChunkPlan, plan
from sttdesk.audio.decode import SAMPLE_RATE, decode_to_pcm, load_audio
from sttdesk.audio.probe import validate_input

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULT_FILE = RESULTS_DIR / "chunking.json"
SOURCE_DIR = REPO_ROOT / "tests" / "data" / "en"
DEFAULT_WORK_DIR = Path(tempfile.gettempdir()) / "sttdesk-bench-chunking"

#: DESIGN.md §3 and issue 3: probe + decode + chunk an hour in under this, and chunking alone in under 2 s.
TARGET_PIPELINE_SECONDS = 5.0
TARGET_CHUNK_SECONDS = 2.0
#: One whisper window: what a chunk costs, whatever its length up to this.
WHISPER_WINDOW_SECONDS = 30.0

#: How each benchmark input is encoded from the 16 kHz mono speech.
FORMATS: dict[str, tuple[str, list[str]]] = {
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-af", "pan=stereo|c0=c0|c1=c0"]),
    "m4a": ("m4a", ["-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-af", "pan=stereo|c0=c0|c1=c0"]),
    "wav": ("wav", ["-c:a", "pcm_s16le"]),
}

#: Other chunker settings whose plans are compared with the default on the same audio (not timed).
PLAN_VARIANTS: dict[str, dict[str, Any]] = {
    "cuts in 1 s silences only (no short pauses)": {"min_pause_seconds": 1.0},
    "same, and no chunk past 30 s (forced cuts)": {"min_pause_seconds": 1.0, "max_chunk_seconds": 30.0},
    "fixed 30 s / 5 s overlap": {"mode": "fixed"},
}

#: Pauses between recordings: (share, shortest, longest) seconds.
PAUSES = ((0.70, 0.2, 0.8), (0.25, 0.8, 2.5), (0.05, 4.0, 12.0))


# --- building the input ----------------------------------------------------------


def build_speech(minutes: float, *, seed: int = 0) -> np.ndarray:
    """``minutes`` of real recordings with talk-like pauses, as int16 16 kHz mono."""
    clips = [load_audio(path) for path in sorted(SOURCE_DIR.glob("*.flac")) + sorted(SOURCE_DIR.glob("*.wav"))]
    if not clips:
        raise SystemExit(f"no recordings in {SOURCE_DIR}")
    rng = np.random.default_rng(seed)
    shares = np.array([share for share, _, _ in PAUSES])
    wanted = round(minutes * 60 * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    total = 0
    while total < wanted:
        for index in rng.permutation(len(clips)):
            _, shortest, longest = PAUSES[rng.choice(len(PAUSES), p=shares)]
            pause = np.zeros(round(rng.uniform(shortest, longest) * SAMPLE_RATE), dtype=np.float32)
            parts += [clips[index], pause]
            total += clips[index].size + pause.size
    speech = np.concatenate(parts)[:wanted]
    return np.clip(np.round(speech * 32767), -32768, 32767).astype("<i2")


def build_inputs(work_dir: Path, minutes: float, formats: list[str], *, seed: int = 0) -> dict[str, Path]:
    """The benchmark files, built once and then reused from ``work_dir``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    stem = f"speech-{minutes:g}min-seed{seed}"
    raw = work_dir / f"{stem}.s16le"
    if not raw.exists():
        print(f"building {minutes:g} min of speech from {SOURCE_DIR} ...", file=sys.stderr)
        build_speech(minutes, seed=seed).tofile(raw)
    inputs: dict[str, Path] = {}
    for name in formats:
        extension, args = FORMATS[name]
        out = work_dir / f"{stem}.{extension}"
        if not out.exists():
            print(f"encoding {out.name} ...", file=sys.stderr)
            part = out.with_name(f".{out.name}.part{out.suffix}")
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "s16le", "-ar", str(SAMPLE_RATE),
                 "-ac", "1", "-i", str(raw), *args, str(part)],
                check=True,
            )
            part.replace(out)
        inputs[name] = out
    return inputs


# --- memory ---------------------------------------------------------------------------


def _vm_hwm_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) of a live process in MiB; None once it is gone.

    Unlike ``ru_maxrss``, VmHWM starts afresh at exec, so it is not inflated by
    the memory of the process that forked this one.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class ChildPeakMonitor:
    """Samples the peak RSS of this process's children (ffprobe, ffmpeg) while they run."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="child-peak-monitor", daemon=True)

    def _children(self) -> list[int]:
        pids: list[int] = []
        for task in Path("/proc/self/task").iterdir():
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
        return pids

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._children():
                peak = _vm_hwm_mb(pid)
                if peak is not None:
                    self.peaks[pid] = max(peak, self.peaks.get(pid, 0.0))
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return max(self.peaks.values(), default=0.0)


# --- one measurement ---------------------------------------------------------------


def measure(path: str, scratch: str, options: dict[str, Any]) -> dict[str, Any]:
    """Probe + decode + chunk ``path`` once; runs in its own process."""
    chunker_options = ChunkerOptions(**options)
    tracemalloc.start()
    with ChildPeakMonitor() as children:
        started = time.perf_counter()
        info = validate_input(path, "en")
        probed = time.perf_counter()
        decoded = decode_to_pcm(path, Path(scratch) / "audio.pcm", stream_index=info.stream.index,
                                expected_seconds=info.duration)
        decoded_at = time.perf_counter()
        with decoded.open() as pcm:
            result = plan(pcm, options=chunker_options)
        chunked = time.perf_counter()
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with decoded.open() as pcm:
        variants = {name: plan_figures(plan(pcm, options=ChunkerOptions(**opts)))
                    for name, opts in PLAN_VARIANTS.items()}
    return {
        **plan_figures(result),
        "variants": variants,
        "probe_s": probed - started,
        "decode_s": decoded_at - probed,
        "chunk_s": chunked - decoded_at,
        "total_s": chunked - started,
        "python_peak_mb": python_peak / 2**20,
        "process_max_rss_mb": _vm_hwm_mb() or 0.0,
        "ffmpeg_max_rss_mb": children.peak_mb,
        "audio_s": decoded.duration,
        "pcm_mb": decoded.samples * 2 / 2**20,
    }


def plan_figures(result: ChunkPlan) -> dict[str, Any]:
    """What a chunk plan costs and how it cuts."""
    chunks = result.chunks
    durations = [c.duration for c in chunks]
    return {
        "mode": result.mode.value,
        "threshold_dbfs": result.analysis.threshold_dbfs,
        "noise_floor_dbfs": result.analysis.noise_floor_dbfs,
        "speech_s": result.analysis.speech_seconds,
        "chunks": len(chunks),
        "cuts": dict(Counter(c.cut.value for c in chunks)),
        "chunk_mean_s": statistics.fmean(durations) if durations else 0.0,
        "chunk_min_s": min(durations, default=0.0),
        "chunk_max_s": max(durations, default=0.0),
        "sent_s": sum(durations),
        # What the engine pays: one 30 s encoder pass per started window of each chunk.
        "whisper_windows": sum(math.ceil(d / WHISPER_WINDOW_SECONDS - 1e-9) for d in durations),
    }


def measure_in_fresh_process(path: Path, work_dir: Path, options: dict[str, Any]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=work_dir) as scratch, context.Pool(1) as pool:
        return pool.apply(measure, (str(path), scratch, options))


# --- reporting -----------------------------------------------------------------------


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the timings, maxima of the memory figures, the (identical) chunk figures of the last run."""
    summary = dict(runs[-1])
    for key in ("probe_s", "decode_s", "chunk_s", "total_s"):
        summary[key] = statistics.median(run[key] for run in runs)
    for key in ("python_peak_mb", "process_max_rss_mb", "ffmpeg_max_rss_mb"):
        summary[key] = max(run[key] for run in runs)
    summary["runs"] = len(runs)
    return summary


def timing_table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| input | audio | probe | decode | chunk | total | Python peak | process RSS | ffmpeg RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['audio_s'] / 60:.1f} min | {r['probe_s']:.2f} s | {r['decode_s']:.2f} s "
            f"| {r['chunk_s']:.2f} s | **{r['total_s']:.2f} s** | {r['python_peak_mb']:.1f} MB "
            f"| {r['process_max_rss_mb']:.0f} MB | {r['ffmpeg_max_rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def chunk_table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| input | mode | threshold | speech | chunks | cuts | mean / min / max | sent | 30 s windows |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for name, r in results.items():
        threshold = "–" if r["threshold_dbfs"] is None else f"{r['threshold_dbfs']:.1f} dBFS"
        cuts = ", ".join(f"{kind} {count}" for kind, count in sorted(r["cuts"].items()))
        lines.append(
            f"| {name} | {r['mode']} | {threshold} | {r['speech_s'] / 60:.1f} min | {r['chunks']} | {cuts} "
            f"| {r['chunk_mean_s']:.1f} / {r['chunk_min_s']:.1f} / {r['chunk_max_s']:.1f} s "
            f"| {r['sent_s'] / 60:.1f} min | {r['whisper_windows']} |"
        )
    return "\n".join(lines)


def variant_table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| input | settings | chunks | cuts | max | sent | 30 s windows |", "|---|---|---:|---|---:|---:|---:|"]
    for name, r in results.items():
        for label, v in [("default", r), *r["variants"].items()]:
            cuts = ", ".join(f"{kind} {count}" for kind, count in sorted(v["cuts"].items()))
            lines.append(
                f"| {name} | {label} | {v['chunks']} | {cuts} | {v['chunk_max_s']:.1f} s "
                f"| {v['sent_s'] / 60:.1f} min | {v['whisper_windows']} |"
            )
    return "\n".join(lines)


def ffmpeg_version() -> str:
    done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0] if done.stdout else "unknown"


# -------------------------------------------------------------------------------------
# Merge quality (issue 3, "Done when", second half): WER of the merged transcript
# against the whole-file reference for silence cuts, forced cuts with overlap and the
# seed's drop-the-first-N-words merge. This section belongs to the merge work
# (sttdesk.domain.merge) and is filled in there; the timing above does not depend on
# it. Contract: return one row per method,
#   {"method": str, "chunks": int, "wer": float, "seam_duplicates": int, "seam_losses": int},
# and main() prints them under "Merge quality" and stores them in the JSON.
# -------------------------------------------------------------------------------------


def merge_quality_rows(work_dir: Path, minutes: float) -> list[dict[str, Any]]:
    """Rows of the merge-quality table; none until the merge benchmark is added here."""
    del work_dir, minutes
    return []


def merge_quality_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_not measured in this run_"
    lines = ["| method | chunks | WER | duplicated at seams | lost at seams |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['chunks']} | {100 * row['wer']:.2f} % "
            f"| {row['seam_duplicates']} | {row['seam_losses']} |"
        )
    return "\n".join(lines)


# --- entry point ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the built recording")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated, of {', '.join(FORMATS)}")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per input (median reported)")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="where inputs are cached")
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="JSON file to write")
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        parser.error(f"unknown format(s): {', '.join(unknown)}")

    inputs = build_inputs(args.work_dir, args.minutes, formats)
    options: dict[str, Any] = {}  # the defaults users get
    results: dict[str, dict[str, Any]] = {}
    for name, path in inputs.items():
        runs = [measure_in_fresh_process(path, args.work_dir, options) for _ in range(max(1, args.repeat))]
        results[name] = summarise(runs)
        print(f"{name}: {results[name]['total_s']:.2f} s (median of {len(runs)})", file=sys.stderr)
    merge_rows = merge_quality_rows(args.work_dir, args.minutes)

    report = {
        "benchmark": "chunking",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": multiprocessing.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "ffmpeg": ffmpeg_version(),
        },
        "minutes": args.minutes,
        "targets": {"pipeline_s": TARGET_PIPELINE_SECONDS, "chunk_s": TARGET_CHUNK_SECONDS},
        "chunker_options": {k: getattr(v, "value", v) for k, v in dataclasses.asdict(ChunkerOptions()).items()},
        "results": results,
        "merge_quality": merge_rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(f"## Probe + decode + chunk, {args.minutes:g} min of speech ({multiprocessing.cpu_count()} CPUs)\n")
    print(timing_table(results))
    print(f"\nTargets: whole pipeline < {TARGET_PIPELINE_SECONDS:.0f} s, chunking < {TARGET_CHUNK_SECONDS:.0f} s "
          "for an hour. Times are medians; memory figures are maxima.\n")
    print("## Chunks\n")
    print(chunk_table(results))
    print("\n## Other chunker settings on the same audio\n")
    print(variant_table(results))
    print("\n## Merge quality\n")
    print(merge_quality_table(merge_rows))
    print(f"\nWritten to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
