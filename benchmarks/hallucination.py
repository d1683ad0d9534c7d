"""Hallucination: what comes out of minutes of audio with no speech in it (phantom words).

Three signals are synthesised (numpy, seeded, 16 kHz mono WAV): a quiet room
(pink noise at -70 dBFS, what a microphone records in silence), loud pink noise
(-30 dBFS, a fan or street) and music-like tones (chords of harmonic notes on a
pentatonic scale with plucked envelopes, -20 dBFS). Each is transcribed, in
English and in Vietnamese, by sttdesk end to end (``sttdesk transcribe``: the
chunker drops silent chunks and the hallucination guard drops phantom phrases,
loops and text over silence), by whisper.cpp on the whole file (pywhispercpp,
what a user of plain whisper.cpp gets) and by faster-whisper int8 (no VAD, its
default). Every word written is a phantom word: the count after text
normalisation is the figure, and (near) zero is the target.
"""

from __future__ import annotations

import json
import logging
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np

from sttdesk.audio.decode import SAMPLE_RATE
from sttdesk.domain.textnorm import normalize_text

from . import pipeline, plots
from .models import (
    DEFAULT_MODEL,
    FASTER_WHISPER_COMPUTE_TYPE,
    FASTER_WHISPER_LABEL,
    ct2_model,
    ggml_model,
)
from .sections import Plot, RunContext, Section

log = logging.getLogger(__name__)

#: Length of each signal, minutes (default and --quick sets).
MINUTES = 2.0
QUICK_MINUTES = 1 / 3
LANGUAGES = ("en", "vi")
THREADS = 2
#: Signal name -> level in dBFS (RMS).
SIGNALS: dict[str, float] = {"quiet room": -70.0, "pink noise": -30.0, "music-like tones": -20.0}
#: Pentatonic scale (semitones above the root) and root frequency of the tones.
SCALE = (0, 2, 4, 7, 9)
ROOT_HZ = 220.0
NOTE_SECONDS = (0.25, 0.7)
#: Longest a single-process engine may take over the three signals of one language. Plain whisper
#: loops on some no-speech audio (temperature fallback on every window); past this, the row
#: records that it did not finish instead of holding up the whole benchmark.
SINGLE_PROCESS_TIMEOUT_SECONDS = 420.0

_SCRIPT = """
import json, sys
engine, model, threads, language, *files = sys.argv[1:]
from sttdesk.audio.decode import load_audio
texts = []
if engine == "whisper.cpp":
    from pywhispercpp.model import Model
    m = Model(model, n_threads=int(threads), print_progress=False, print_realtime=False)
    for f in files:
        texts.append(" ".join(s.text for s in m.transcribe(load_audio(f), language=language)))
else:
    from faster_whisper import WhisperModel
    m = WhisperModel(model, device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=int(threads))
    for f in files:
        segments, _ = m.transcribe(load_audio(f), language=language, beam_size=1)
        texts.append(" ".join(s.text.strip() for s in segments))
print(json.dumps(texts))
""".replace("COMPUTE_TYPE", repr(FASTER_WHISPER_COMPUTE_TYPE))


def pink_noise(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling 3 dB per octave (1/f), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequencies = np.fft.rfftfreq(samples, 1 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(frequencies[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, samples)
    return noise / np.sqrt(np.mean(noise**2))


def tones(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked chords of harmonic notes on a pentatonic scale, unit RMS."""
    out = np.zeros(samples)
    position = 0
    while position < samples:
        length = min(int(rng.uniform(*NOTE_SECONDS) * SAMPLE_RATE), samples - position)
        t = np.arange(length) / SAMPLE_RATE
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-t * rng.uniform(2.0, 6.0))
        chord = rng.choice(len(SCALE) * 2, size=rng.integers(1, 4), replace=False)
        for step in chord:
            octave, degree = divmod(int(step), len(SCALE))
            frequency = ROOT_HZ * 2 ** (octave + SCALE[degree] / 12)
            for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25)):
                out[position:position + length] += weight * envelope * np.sin(2 * np.pi * frequency * harmonic * t)
        position += length
    return out / np.sqrt(np.mean(out**2))


def build_signal(name: str, path: Path, minutes: float, *, seed: int = 0) -> Path:
    if path.is_file():
        return path
    rng = np.random.default_rng(seed)
    samples = round(minutes * 60 * SAMPLE_RATE)
    unit = tones(samples, rng) if name == "music-like tones" else pink_noise(samples, rng)
    signal = unit * 10 ** (SIGNALS[name] / 20)
    pcm = np.clip(np.round(signal * 32767), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def phantom_words(text: str, language: str) -> int:
    return len(normalize_text(text, language).split())


def _single_process(engine: str, model: Path, language: str, files: list[Path]) -> tuple[list[str | None], float]:
    """The texts one engine writes for ``files``; None for each when it did not finish in time."""
    try:
        done, wall, _ = pipeline.run_monitored([sys.executable, "-c", _SCRIPT, engine, str(model), str(THREADS),
                                                language, *map(str, files)], timeout=SINGLE_PROCESS_TIMEOUT_SECONDS)
    except SystemExit:
        log.warning("%s (%s) did not finish within %.0f s", engine, language, SINGLE_PROCESS_TIMEOUT_SECONDS)
        return [None] * len(files), SINGLE_PROCESS_TIMEOUT_SECONDS
    if done.returncode != 0:
        raise RuntimeError(f"{engine} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def run(ctx: RunContext) -> dict[str, Any]:
    minutes = QUICK_MINUTES if ctx.quick else MINUTES
    folder = ctx.work_dir / "hallucination"
    files = {name: build_signal(name, folder / f"{name.replace(' ', '-')}-{minutes:g}min.wav", minutes)
             for name in SIGNALS}
    ggml = ggml_model(ctx.models_dir, ctx.work_dir, DEFAULT_MODEL)
    ct2 = ct2_model(ctx.work_dir)
    rows = []
    for language in LANGUAGES:
        cli = pipeline.sttdesk_cli(list(files.values()), folder, ctx.models_dir, agents=2, threads=1,
                                   language=language)
        texts = {"sttdesk": ([cli.text_of(path) for path in files.values()], cli.wall_s)}
        texts["whisper.cpp"] = _single_process("whisper.cpp", ggml, language, list(files.values()))
        texts["faster-whisper"] = _single_process("faster-whisper", ct2, language, list(files.values()))
        for engine, (outputs, wall) in texts.items():
            for name, text in zip(files, outputs):
                count = None if text is None else phantom_words(text, language)
                log.info("%s %s %s: %s phantom words", engine, language, name, count)
                rows.append({"engine": engine, "language": language, "signal": name, "phantom_words": count,
                             "text": "" if text is None else text.strip()[:300],
                             "finished": text is not None, "wall_s_all_signals": round(wall, 1)})
    return {
        "setup": {
            "models": [ctx.model_record(DEFAULT_MODEL, ggml), ctx.model_record(FASTER_WHISPER_LABEL, ct2)],
            "threads": f"{THREADS} (sttdesk: 2 agents x 1)",
            "decoding": "greedy, language given, temperature fallback on; faster-whisper without VAD",
            "minutes_per_signal": minutes,
            "signals_dbfs": SIGNALS,
        },
        "rows": rows,
    }


def render(record: dict[str, Any]) -> str:
    engines = list(dict.fromkeys(row["engine"] for row in record["rows"]))
    minutes = record["setup"]["minutes_per_signal"]
    lines = [
        (f"Phantom words written over {minutes:g} min of each signal (no speech at all; target 0). "
        f"\"timeout\": the engine had not finished the three signals after {SINGLE_PROCESS_TIMEOUT_SECONDS:.0f} s "
        "(whisper looping on windows without speech)."),
        "",
        "| signal | language | " + " | ".join(engines) + " |",
        "|---|---|" + "---:|" * len(engines),
    ]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for row in record["rows"]:
        count = row["phantom_words"]
        cells.setdefault((row["signal"], row["language"]), {})[row["engine"]] = "timeout" if count is None else str(count)
    for (signal, language), counts in cells.items():
        lines.append(f"| {signal} | {language} | " + " | ".join(counts.get(e, "–") for e in engines) + " |")
    samples = [row for row in record["rows"] if row["phantom_words"] and row["text"]]
    if samples:
        lines += ["", "What was written (first 80 characters):", ""]
        lines += [f"- {row['engine']}, {row['signal']}, {row['language']}: “{row['text'][:80]}”" for row in samples]
    return "\n".join(lines)


def plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    engines = list(dict.fromkeys(row["engine"] for row in record["rows"]))
    groups = list(dict.fromkeys(f"{row['signal']}\n{row['language']}" for row in record["rows"]))
    values = {(f"{row['signal']}\n{row['language']}", row["engine"]): row["phantom_words"] for row in record["rows"]}
    file = "hallucination.png"
    plots.grouped_bars(folder / file, "Phantom words over audio without speech (lower is better)", groups,
                       {engine: [values.get((group, engine)) for group in groups] for engine in engines},
                       ylabel="words", footer=plots.footer(footer, record["setup"]), value_format="{:.0f}")
    return [Plot(file, "phantom words per signal, language and engine")]


def headline(record: dict[str, Any]) -> dict[str, str]:
    def total(engine: str) -> str:
        counts = [row["phantom_words"] for row in record["rows"] if row["engine"] == engine]
        finished = sum(c for c in counts if c is not None)
        return f"{finished}" + (" and a timeout" if None in counts else "")

    return {"Hallucination": f"{total('sttdesk')} phantom words from sttdesk over all no-speech signals "
                             f"(whisper.cpp alone: {total('whisper.cpp')}, faster-whisper: {total('faster-whisper')})"}


SECTION = Section(
    name="hallucination",
    title="Hallucination: silence, noise and music-like tones",
    run=run,
    render=render,
    plot=plot,
    headline=headline,
    estimate_s=560.0,
)
