"""Language forced vs detected: WER with each, and how often detection picks the right language.

Each dev utterance is transcribed by sttdesk's engine backend (base q8_0,
greedy) three ways: with its language given; with "auto" as sttdesk does it
(whisper's detection on the first window, restricted to the languages sttdesk
transcribes, English and Vietnamese); and with "auto" open to every language
the model knows (what plain whisper does). Vietnamese is the case that matters:
detection that falls on another language transcribes, or translates, into it.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sttdesk.engine.backend import WhisperCppBackend
from sttdesk.engine.options import DEFAULT_AUTO_LANGUAGES, DecodeOptions

from . import plots
from .accuracy import corpus_wer, transcribe_whisper_cpp
from .devsets import load_devset
from .models import DEFAULT_MODEL, ggml_model
from .sections import Plot, RunContext, Section

log = logging.getLogger(__name__)

#: One thread per engine, as in the accuracy section (WER does not depend on threads), and the
#: settings measured in two worker processes side by side (both cores of a 2-core PC).
THREADS = 1
WORKERS = 2
#: Language -> modes measured on it. English detection is measured only as sttdesk runs it.
MODES: dict[str, tuple[str, ...]] = {"vi": ("forced", "auto (en/vi)", "auto (any)"), "en": ("auto (en/vi)",)}
QUICK_UTTERANCES = 2


def _options(language: str, mode: str) -> DecodeOptions:
    if mode == "forced":
        return DecodeOptions(language=language, threads=THREADS)
    if mode == "auto (en/vi)":
        return DecodeOptions(language="auto", auto_languages=DEFAULT_AUTO_LANGUAGES, threads=THREADS)
    return DecodeOptions(language="auto", auto_languages=(), threads=THREADS)


def measure(path: str, language: str, mode: str, limit: int | None) -> dict[str, Any]:
    """One language setting on one dev set: its table row (runs in a worker process)."""
    utterances = load_devset(language, limit=limit)
    backend = WhisperCppBackend()
    try:
        backend.load(Path(path), THREADS)
        done, detected = transcribe_whisper_cpp(backend, utterances, _options(language, mode))
    finally:
        backend.close()
    wer, words = corpus_wer(utterances, done.texts, language)
    counts = Counter(detected)
    log.info("%s %s: WER %.2f %%, detected %s", language, mode, 100 * wer, dict(counts))
    return {
        "language": language,
        "mode": mode,
        "utterances": len(utterances),
        "reference_words": words,
        "wer": round(wer, 4),
        "detected_right": counts.get(language, 0) if mode != "forced" else None,
        "detected": dict(counts.most_common()) if mode != "forced" else None,
        "engine_s": round(done.engine_s, 2),
    }


def run(ctx: RunContext) -> dict[str, Any]:
    path = ggml_model(ctx.models_dir, ctx.work_dir, DEFAULT_MODEL)
    limit = QUICK_UTTERANCES if ctx.quick else None
    tasks = [(str(path), language, mode, limit) for language, modes in MODES.items() for mode in modes]
    # the English pass is the longest (7.6 min of audio against 2.7): it starts first
    order = sorted(tasks, key=lambda task: task[1] != "en")
    with ProcessPoolExecutor(max_workers=min(WORKERS, len(tasks)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        measured = dict(zip(order, pool.map(measure, *zip(*order)), strict=True))
    rows = [measured[task] for task in tasks]
    return {
        "setup": {
            "models": [ctx.model_record(DEFAULT_MODEL, path)],
            "threads": THREADS,
            "workers": min(WORKERS, len(tasks)),
            "decoding": "greedy; auto = whisper's language detection on the first 30 s",
            "modes": {mode: _options("vi", mode).to_dict() for mode in MODES["vi"]},
        },
        "rows": rows,
    }


def render(record: dict[str, Any]) -> str:
    names = {"en": "English", "vi": "Vietnamese"}
    lines = [
        "| audio | language setting | WER | detected right | detected as | engine s |",
        "|---|---|---:|---:|---|---:|",
    ]
    for row in record["rows"]:
        right = "–" if row["detected_right"] is None else f"{row['detected_right']} / {row['utterances']}"
        detected = "–" if not row["detected"] else ", ".join(f"{k} {v}" for k, v in row["detected"].items())
        lines.append(f"| {names[row['language']]} ({row['utterances']} utterances) | {row['mode']} "
                     f"| {plots.percent(row['wer'])} | {right} | {detected} | {row['engine_s']:.0f} |")
    return "\n".join(lines)


def plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    rows = [row for row in record["rows"] if row["language"] == "vi"]
    file = "language-vi.png"
    plots.grouped_bars(folder / file, "Vietnamese: language forced vs detected", [row["mode"] for row in rows],
                       {"WER (%)": [100 * row["wer"] for row in rows],
                        "detected wrong (%)": [None if row["detected_right"] is None
                                               else 100 * (1 - row["detected_right"] / row["utterances"])
                                               for row in rows]},
                       ylabel="%", footer=plots.footer(footer, record["setup"]), value_format="{:.1f}")
    return [Plot(file, "Vietnamese WER and detection errors with the language forced or detected")]


def headline(record: dict[str, Any]) -> dict[str, str]:
    row = next((r for r in record["rows"] if r["language"] == "vi" and r["mode"] == "auto (en/vi)"), None)
    if row is None:
        return {}
    return {"Vietnamese auto-detection": f"right for {row['detected_right']} of {row['utterances']} utterances "
                                         f"(WER {plots.percent(row['wer'], 1)} with detection)"}


SECTION = Section(
    name="language",
    title="Vietnamese: language forced vs auto-detected",
    run=run,
    render=render,
    plot=plot,
    headline=headline,
    estimate_s=600.0,
)
