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

    python -m benchmarks.chunking                 # 60 min, mp3 + m4a + wav, 3 runs each; 3 min of merge quality
    python -m benchmarks.chunking --quick         # 10 min, mp3, 1 run; 1 min of merge quality
    python -m benchmarks.chunking --minutes 10 --formats mp3 --repeat 1 --merge-minutes 0

It also measures merge quality: a few minutes of the same recordings, with and
without pauses, cut by the chunker (silence cuts, forced cuts with overlap,
the fixed grid), every chunk transcribed by the real engine (whisper.cpp, the
default base-q8_0 model), merged by time and by the seed's word-count rule, and
scored by WER against the recordings' transcripts (see the section below).

Writes ``benchmarks/results/chunking.json`` (``chunking_quick.json`` with
``--quick``) and prints markdown tables. The inputs (about 250 MB for an hour)
are cached in ``--work-dir``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
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
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import jiwer
import numpy as np

from sttdesk.audio.chunker import (
    ChunkerOptions,
    ChunkingMode,
    ChunkPlan,
    frame_levels,
    plan,
)
from sttdesk.audio.decode import SAMPLE_RATE, decode_to_pcm, load_audio
from sttdesk.audio.probe import validate_input
from sttdesk.domain.chunks import ChunkSpan
from sttdesk.domain.hallucination import HallucinationGuard
from sttdesk.domain.merge import TranscriptAssembler, merge_word_count_baseline
from sttdesk.domain.textnorm import normalize_words
from sttdesk.domain.transcript import RecognitionResult, Segment, estimate_words
from sttdesk.engine.backend import WhisperCppBackend
from sttdesk.engine.coverage import transcribe_covered
from sttdesk.engine.options import DecodeOptions
from sttdesk.engine.store import ModelStore

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULT_FILE = RESULTS_DIR / "chunking.json"
QUICK_RESULT_FILE = RESULTS_DIR / "chunking_quick.json"
SOURCE_DIR = REPO_ROOT / "tests" / "data" / "en"
DEFAULT_WORK_DIR = Path(tempfile.gettempdir()) / "sttdesk-bench-chunking"

#: DESIGN.md §3 and issue 3: probe + decode + chunk an hour in under this, and chunking alone in under 2 s.
TARGET_PIPELINE_SECONDS = 5.0
TARGET_CHUNK_SECONDS = 2.0
#: Length of the timed recording and measurements per input (full and --quick).
MINUTES = 60.0
QUICK_MINUTES = 10.0
REPEAT = 3
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
# against the reference text for silence cuts, forced cuts with overlap and the fixed
# grid, each merged by time (TranscriptAssembler, as the application does) and by the
# seed's drop-the-first-N-words rule, with chunk transcripts from the real engine.
#
# The audio is whole recordings from tests/data/en, so the reference is their
# transcripts joined in order. Two versions of the same speech are built:
#
# * "with pauses": the recordings separated by talk-like pauses (PAUSES); the chunker
#   cuts in silences and the chunks share no audio.
# * "pauses removed": the recordings back to back with every quiet stretch longer than
#   SQUEEZE_KEEP_SECONDS shortened to it, inside the recordings too, so there is no
#   silence to cut in and cuts are forced mid-speech with an overlap (and the fixed
#   30 s / 5 s grid is tried on the same audio).
#
# Each version is also transcribed whole by one engine call (whisper.cpp seeks through
# it window by window with timestamps); that row is what chunking is compared with,
# and "vs whole file" is the WER of a merged transcript against that transcript, which
# isolates what cutting and merging change from what the model gets wrong anyway.
# Words the alignment with the reference inserts or deletes within SEAM_WINDOW_SECONDS
# of a seam are counted as duplicated / lost at seams.
# -------------------------------------------------------------------------------------

#: Minutes of speech in the merge-quality audio (whole recordings, so a little more).
MERGE_MINUTES = 3.0
QUICK_MERGE_MINUTES = 1.0
#: The engine's default model, as installed by ``sttdesk models``.
MERGE_MODEL = "base-q8_0"
#: whisper.cpp threads: the machine has two cores, shared.
MERGE_THREADS = 2
#: A quiet stretch is one this far (dB) under the speech level (99th percentile of frame levels).
SQUEEZE_BELOW_SPEECH_DB = 25.0
#: "Pauses removed": every quiet stretch is shortened to this (seconds).
SQUEEZE_KEEP_SECONDS = 0.2
#: Errors this close (seconds) to the audio two chunks share, or to a silence cut, are blamed on the seam.
SEAM_WINDOW_SECONDS = 1.0
#: Chunker settings for the audio without pauses: silences only from 1 s and no chunk past 30 s,
#: so that every cut is a forced one (with the default settings a few short pauses survive).
FORCED_OPTIONS: dict[str, Any] = {"min_pause_seconds": 1.0, "max_chunk_seconds": 30.0}


@dataclasses.dataclass(frozen=True)
class MergeAudio:
    """One version of the merge-quality speech."""

    #: "with pauses" or "pauses removed".
    name: str
    #: float32 16 kHz mono samples.
    samples: np.ndarray
    #: The recordings' transcripts, normalised and joined in order.
    reference: list[str]

    @property
    def seconds(self) -> float:
        return self.samples.size / SAMPLE_RATE


@dataclasses.dataclass(frozen=True)
class TimedToken:
    """A normalised word of a transcript with the time of the word it came from."""

    text: str
    start: float
    end: float


def _references() -> dict[str, str]:
    lines = (SOURCE_DIR / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if "\t" in line)


def pick_recordings(minutes: float, *, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    """Whole recordings with their transcripts, in a seeded order, until ``minutes`` of speech."""
    references = _references()
    paths = sorted(path for path in SOURCE_DIR.iterdir() if path.name in references)
    if not paths:
        raise SystemExit(f"no transcribed recordings in {SOURCE_DIR}")
    rng = np.random.default_rng(seed)
    picked: list[tuple[np.ndarray, str]] = []
    total = 0.0
    while total < minutes * 60:
        for index in rng.permutation(len(paths)):
            samples = load_audio(paths[index])
            picked.append((samples, references[paths[index].name]))
            total += samples.size / SAMPLE_RATE
            if total >= minutes * 60:
                break
    return picked


def squeeze_pauses(samples: np.ndarray, *, below_speech_db: float = SQUEEZE_BELOW_SPEECH_DB,
                   keep_seconds: float = SQUEEZE_KEEP_SECONDS) -> np.ndarray:
    """``samples`` with every quiet stretch longer than ``keep_seconds`` shortened to it."""
    frame_seconds = 0.01
    frame = round(frame_seconds * SAMPLE_RATE)
    levels = frame_levels(samples, frame_seconds=frame_seconds)
    quiet = levels < np.percentile(levels, 99) - below_speech_db
    edges = np.diff(np.concatenate(([0], quiet.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep_frames = round(keep_seconds / frame_seconds)
    keep = np.ones(samples.size, dtype=bool)
    for start, end in zip(starts, ends):
        if end - start > keep_frames:
            # Keep half of what is kept at each side, so the words around keep their tails.
            keep[(start + keep_frames // 2) * frame:(end - (keep_frames - keep_frames // 2)) * frame] = False
    return samples[keep]


def build_merge_audio(minutes: float, *, seed: int = 0) -> tuple[MergeAudio, MergeAudio]:
    """The same recordings with talk-like pauses, and back to back with the pauses removed."""
    picked = pick_recordings(minutes, seed=seed)
    reference = normalize_words(" ".join(text for _, text in picked))
    rng = np.random.default_rng(seed)
    shares = np.array([share for share, _, _ in PAUSES])
    parts: list[np.ndarray] = []
    for samples, _ in picked:
        _, shortest, longest = PAUSES[rng.choice(len(PAUSES), p=shares)]
        parts += [samples, np.zeros(round(rng.uniform(shortest, longest) * SAMPLE_RATE), dtype=np.float32)]
    with_pauses = np.concatenate(parts[:-1])
    without = squeeze_pauses(np.concatenate([samples for samples, _ in picked]))
    return MergeAudio("with pauses", with_pauses, reference), MergeAudio("pauses removed", without, reference)


def transcript_tokens(segments: Iterable[Segment]) -> list[TimedToken]:
    """The normalised words of ``segments`` (file timeline), each with its word's times."""
    tokens: list[TimedToken] = []
    for segment in segments:
        for word in segment.words or estimate_words(segment):
            tokens += [TimedToken(text, word.start, word.end) for text in normalize_words(word.text)]
    return tokens


def seam_windows(spans: Sequence[ChunkSpan]) -> list[tuple[float, float]]:
    """Around each seam: the audio two chunks share (or the silence between them), widened."""
    windows: list[tuple[float, float]] = []
    for earlier, later in itertools.pairwise(spans):
        lo, hi = sorted((earlier.end, later.start))
        windows.append((lo - SEAM_WINDOW_SECONDS, hi + SEAM_WINDOW_SECONDS))
    return windows


def seam_errors(reference: list[str], tokens: list[TimedToken], windows: list[tuple[float, float]]) -> tuple[int, int]:
    """Words inserted and words deleted (against the reference) inside the seam windows."""

    def near_seam(lo: float, hi: float) -> bool:
        return any(lo <= w_hi and hi >= w_lo for w_lo, w_hi in windows)

    hypothesis = [t.text for t in tokens]
    if not hypothesis:
        return 0, 0
    inserted = deleted = 0
    for chunk in jiwer.process_words(" ".join(reference), " ".join(hypothesis)).alignments[0]:
        if chunk.type == "insert":
            inserted += sum(near_seam(t.start, t.end) for t in tokens[chunk.hyp_start_idx:chunk.hyp_end_idx])
        elif chunk.type == "delete":
            # A deleted word has no time: it was said between the neighbouring words heard.
            lo = tokens[chunk.hyp_start_idx - 1].end if chunk.hyp_start_idx > 0 else 0.0
            hi = tokens[chunk.hyp_start_idx].start if chunk.hyp_start_idx < len(tokens) else math.inf
            if near_seam(lo, hi):
                deleted += chunk.ref_end_idx - chunk.ref_start_idx
    return inserted, deleted


def _wer(reference: list[str], tokens: list[TimedToken]) -> float:
    return jiwer.wer(" ".join(reference), " ".join(t.text for t in tokens) or "<empty>")


class ChunkTranscriber:
    """The real engine (whisper.cpp, the default model) transcribing pieces of one recording."""

    def __init__(self, model: str = MERGE_MODEL, *, threads: int = MERGE_THREADS) -> None:
        self.model_path = ModelStore.default().path_for(model)
        self.options = DecodeOptions(language="en")
        self.backend = WhisperCppBackend()
        self.backend.load(self.model_path, threads)
        self.engine_seconds = 0.0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.backend.close()

    def transcribe(self, samples: np.ndarray, *, covered: bool = False) -> RecognitionResult:
        """One engine call; with ``covered``, as an agent runs a chunk: speech whisper skipped is decoded again."""
        started = time.perf_counter()
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        if covered:
            result = transcribe_covered(self.backend, audio, self.options)
        else:
            result = self.backend.transcribe(audio, self.options)
        self.engine_seconds += time.perf_counter() - started
        return result

    def chunks(self, audio: MergeAudio, spans: Sequence[ChunkSpan]) -> list[tuple[ChunkSpan, RecognitionResult]]:
        """Each chunk transcribed the way agents do (sttdesk.engine.coverage included)."""
        return [(span, self.transcribe(audio.samples[round(span.start * SAMPLE_RATE):round(span.end * SAMPLE_RATE)],
                                       covered=True))
                for span in spans]


def _merge_rows(audio: MergeAudio, label: str, chunk_plan: ChunkPlan, engine: ChunkTranscriber,
                whole: list[TimedToken]) -> list[dict[str, Any]]:
    """The time-based merge and the word-count baseline over one chunk plan's engine results."""
    spans = chunk_plan.chunks
    started = engine.engine_seconds
    results = engine.chunks(audio, spans)
    engine_s = engine.engine_seconds - started
    assembler = TranscriptAssembler(spans, language="en", duration=audio.seconds, guard=HallucinationGuard(),
                                    speech=chunk_plan.analysis.speech)
    for span, result in results:
        assembler.add(span, result)
    merged = assembler.transcript(partial=False)
    baseline = merge_word_count_baseline(results, language="en", duration=audio.seconds)
    windows = seam_windows(spans)
    common = {
        "audio": audio.name,
        "audio_s": audio.seconds,
        "chunks": len(spans),
        "cuts": dict(Counter(span.cut.value for span in spans)),
        "sent_s": sum(span.duration for span in spans),
        "engine_s": engine_s,
    }
    rows = []
    for method, transcript in ((f"{label}, merged by time", merged), (f"{label}, word-count merge (seed)", baseline)):
        tokens = transcript_tokens(transcript.segments)
        duplicates, losses = seam_errors(audio.reference, tokens, windows)
        rows.append({
            "method": method,
            **common,
            "wer": _wer(audio.reference, tokens),
            "wer_vs_whole": _wer([t.text for t in whole], tokens),
            "seam_duplicates": duplicates,
            "seam_losses": losses,
            "guard_dropped": dict(transcript.dropped),
        })
    return rows


def _whole_row(audio: MergeAudio, engine: ChunkTranscriber) -> tuple[dict[str, Any], list[TimedToken]]:
    """The recording transcribed by one engine call: what chunking is compared with."""
    started = engine.engine_seconds
    result = engine.transcribe(audio.samples)
    tokens = transcript_tokens(result.segments)
    row = {
        "method": "whole file, one engine call",
        "audio": audio.name,
        "audio_s": audio.seconds,
        "chunks": 1,
        "cuts": {},
        "sent_s": audio.seconds,
        "engine_s": engine.engine_seconds - started,
        "wer": _wer(audio.reference, tokens),
        "wer_vs_whole": 0.0,
        "seam_duplicates": 0,
        "seam_losses": 0,
        "guard_dropped": {},
    }
    return row, tokens


def merge_quality_rows(work_dir: Path, minutes: float) -> list[dict[str, Any]]:
    """Rows of the merge-quality table for ``minutes`` of speech (none for 0)."""
    del work_dir  # the audio is built in memory: a few minutes of float32
    if minutes <= 0:
        return []
    with_pauses, without_pauses = build_merge_audio(minutes)
    print(f"merge quality: {with_pauses.seconds / 60:.1f} min with pauses, "
          f"{without_pauses.seconds / 60:.1f} min without, engine {MERGE_MODEL} ...", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    with ChunkTranscriber() as engine:
        cases = (
            (with_pauses, [("silence cuts", ChunkerOptions())]),
            (without_pauses, [("forced cuts + 3 s overlap", ChunkerOptions(**FORCED_OPTIONS)),
                              ("fixed 30 s / 5 s grid", ChunkerOptions(mode=ChunkingMode.FIXED))]),
        )
        for audio, plans in cases:
            whole_row, whole = _whole_row(audio, engine)
            rows.append(whole_row)
            for label, options in plans:
                rows += _merge_rows(audio, label, plan(audio.samples, options=options), engine, whole)
            for row in rows[-1 - 2 * len(plans):]:
                print(f"  {audio.name}: {row['method']}: WER {100 * row['wer']:.2f} % "
                      f"({row['engine_s']:.0f} s of engine)", file=sys.stderr)
    return rows


def merge_quality_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_not measured in this run_"
    lines = [
        ("| audio | method | chunks (cuts) | sent | WER vs reference | vs whole file "
         "| extra words at seams | missing words at seams | engine |"),
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cuts = ", ".join(f"{kind} {count}" for kind, count in sorted(row["cuts"].items()))
        lines.append(
            f"| {row['audio']} ({row['audio_s'] / 60:.1f} min) | {row['method']} "
            f"| {row['chunks']}{f' ({cuts})' if cuts else ''} | {row['sent_s'] / 60:.1f} min "
            f"| {100 * row['wer']:.2f} % | {100 * row['wer_vs_whole']:.2f} % "
            f"| {row['seam_duplicates']} | {row['seam_losses']} | {row['engine_s']:.0f} s |"
        )
    return "\n".join(lines)


# --- entry point ------------------------------------------------------------------------


def run_timing(work_dir: Path, minutes: float, formats: list[str], repeat: int) -> dict[str, dict[str, Any]]:
    """Probe + decode + chunk ``minutes`` of speech in each format, ``repeat`` times; summaries by format."""
    inputs = build_inputs(work_dir, minutes, formats)
    options: dict[str, Any] = {}  # the defaults users get
    results: dict[str, dict[str, Any]] = {}
    for name, path in inputs.items():
        runs = [measure_in_fresh_process(path, work_dir, options) for _ in range(max(1, repeat))]
        results[name] = summarise(runs)
        print(f"{name}: {results[name]['total_s']:.2f} s (median of {len(runs)})", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_MINUTES:g} min, mp3 only, 1 run, {QUICK_MERGE_MINUTES:g} min of merge quality")
    parser.add_argument("--minutes", type=float, help=f"length of the built recording (default {MINUTES:g})")
    parser.add_argument("--formats", help=f"comma-separated, of {', '.join(FORMATS)} (default all)")
    parser.add_argument("--repeat", type=int, help=f"measurements per input, median reported (default {REPEAT})")
    parser.add_argument("--merge-minutes", type=float,
                        help=f"speech transcribed for the merge-quality table, 0 to skip (default {MERGE_MINUTES:g})")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="where inputs are cached")
    parser.add_argument("--output", type=Path, help="JSON file to write (default results/chunking[_quick].json)")
    args = parser.parse_args(argv)
    minutes = args.minutes or (QUICK_MINUTES if args.quick else MINUTES)
    repeat = args.repeat or (1 if args.quick else REPEAT)
    merge_minutes = args.merge_minutes if args.merge_minutes is not None else (
        QUICK_MERGE_MINUTES if args.quick else MERGE_MINUTES)
    output = args.output or (QUICK_RESULT_FILE if args.quick else RESULT_FILE)
    formats = [f.strip() for f in (args.formats or ("mp3" if args.quick else ",".join(FORMATS))).split(",")
               if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        parser.error(f"unknown format(s): {', '.join(unknown)}")

    results = run_timing(args.work_dir, minutes, formats, repeat)
    merge_rows = merge_quality_rows(args.work_dir, merge_minutes)

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
        "minutes": minutes,
        "merge_minutes": merge_minutes,
        "merge_model": MERGE_MODEL if merge_rows else None,
        "targets": {"pipeline_s": TARGET_PIPELINE_SECONDS, "chunk_s": TARGET_CHUNK_SECONDS},
        "chunker_options": {k: getattr(v, "value", v) for k, v in dataclasses.asdict(ChunkerOptions()).items()},
        "results": results,
        "merge_quality": merge_rows,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(f"## Probe + decode + chunk, {minutes:g} min of speech ({multiprocessing.cpu_count()} CPUs)\n")
    print(timing_table(results))
    print(f"\nTargets: whole pipeline < {TARGET_PIPELINE_SECONDS:.0f} s, chunking < {TARGET_CHUNK_SECONDS:.0f} s "
          "for an hour. Times are medians; memory figures are maxima.\n")
    print("## Chunks\n")
    print(chunk_table(results))
    print("\n## Other chunker settings on the same audio\n")
    print(variant_table(results))
    print(f"\n## Merge quality: {merge_minutes:g} min of speech, {MERGE_MODEL}, {MERGE_THREADS} threads\n")
    print(merge_quality_table(merge_rows))
    print(f"\nWritten to {output}")
    return 0


# --- the harness section (python -m benchmarks chunking): the timing half --------------------------
# (merge quality is the harness's "longform" section, which calls merge_quality_rows)

#: Minutes, formats and measurements per format in the harness's default and --quick sets.
SECTION_MINUTES, SECTION_FORMATS, SECTION_REPEAT = MINUTES, tuple(FORMATS), 1
SECTION_QUICK_MINUTES, SECTION_QUICK_FORMATS = 2.0, ("mp3",)


def _section_run(ctx: Any) -> dict[str, Any]:
    minutes = SECTION_QUICK_MINUTES if ctx.quick else SECTION_MINUTES
    formats = list(SECTION_QUICK_FORMATS if ctx.quick else SECTION_FORMATS)
    results = run_timing(ctx.work_dir / "chunking", minutes, formats, SECTION_REPEAT)
    return {
        "setup": {"models": [], "minutes": minutes, "repeat": SECTION_REPEAT, "formats": formats,
                  "chunker_options": {k: getattr(v, "value", v)
                                      for k, v in dataclasses.asdict(ChunkerOptions()).items()},
                  "targets": {"pipeline_s": TARGET_PIPELINE_SECONDS, "chunk_s": TARGET_CHUNK_SECONDS}},
        "results": results,
    }


def _section_render(record: dict[str, Any]) -> str:
    setup = record["setup"]
    return "\n".join([
        (f"{setup['minutes']:g} min of speech in each format, each measurement in a fresh process "
        f"(targets for an hour: whole pipeline < {TARGET_PIPELINE_SECONDS:g} s, chunking < {TARGET_CHUNK_SECONDS:g} s)."),
        "",
        timing_table(record["results"]),
        "",
        chunk_table(record["results"]),
    ])


def _section_plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Any]:
    from . import plots
    from .sections import Plot

    results = record["results"]
    file = "chunking-time.png"
    plots.grouped_bars(folder / file, f"Probe + decode + chunk {record['setup']['minutes']:g} min of speech",
                       list(results), {stage: [r[f"{stage}_s"] for r in results.values()]
                                       for stage in ("probe", "decode", "chunk", "total")},
                       ylabel="seconds", footer=plots.footer(footer, record["setup"]))
    return [Plot(file, "time to probe, decode and chunk by input format")]


def _section() -> Any:
    from .sections import Section

    # the audio pipeline's own cost and memory: run by name, outside the default set
    return Section(name="chunking", title="Audio pipeline: probe, decode and chunk", run=_section_run,
                   render=_section_render, plot=_section_plot, estimate_s=140.0, default=False)


SECTION = _section()


if __name__ == "__main__":
    raise SystemExit(main())
