"""Language forced vs detected: WER with each, and how often detection picks the right language.

Each dev utterance is transcribed by sttdesk's engine backend (base q8_0,
greedy) three ways: with its language given; with "auto" as sttdesk does it
(whisper's detection on the first window, restricted to the languages sttdesk
transcribes, English and Vietnamese); and with "auto" open to every language
the model knows (what plain whisper does). Vietnamese is the case that matters:
detection that falls on another language transcribes, or translates, into it.

"auto" is detection, then a decode in the detected language, exactly as the
backend runs it. So each utterance is detected once (both auto settings read
the same probabilities), an utterance detected right takes its forced
transcript, and only the others are decoded again in the language detected.
The forced transcripts come from the accuracy section when it ran earlier in
the same invocation (same model, options and utterances); otherwise they are
made here.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sttdesk.engine.backend import WhisperCppBackend, pick_language
from sttdesk.engine.options import DEFAULT_AUTO_LANGUAGES, DecodeOptions

from . import plots
from .accuracy import FORCED_TEXTS_KEY, corpus_wer
from .devsets import load_devset
from .models import DEFAULT_MODEL, ggml_model
from .sections import Plot, RunContext, Section

log = logging.getLogger(__name__)

#: One thread per engine, as in the accuracy section (WER does not depend on threads), and one
#: language per worker process, side by side (both cores of a 2-core PC).
THREADS = 1
WORKERS = 2
#: Language -> modes measured on it. English detection is measured only as sttdesk runs it.
MODES: dict[str, tuple[str, ...]] = {"vi": ("forced", "auto (en/vi)", "auto (any)"), "en": ("auto (en/vi)",)}
#: Languages each auto mode chooses from (empty: every language the model knows).
CANDIDATES: dict[str, tuple[str, ...]] = {"auto (en/vi)": DEFAULT_AUTO_LANGUAGES, "auto (any)": ()}
QUICK_UTTERANCES = 2


def _options(language: str, mode: str) -> DecodeOptions:
    if mode == "forced":
        return DecodeOptions(language=language, threads=THREADS)
    return DecodeOptions(language="auto", auto_languages=CANDIDATES[mode], threads=THREADS)


def measure(path: str, language: str, modes: Sequence[str], limit: int | None,
            forced_texts: dict[str, str] | None) -> list[dict[str, Any]]:
    """Every mode on one language's dev set: their table rows (runs in a worker process)."""
    utterances = load_devset(language, limit=limit)
    backend = WhisperCppBackend()
    rows = []
    try:
        backend.load(Path(path), THREADS)
        forced_s: float | None = None
        if forced_texts is None or any(u.name not in forced_texts for u in utterances):
            started = time.perf_counter()
            forced = {u.name: backend.transcribe(u.samples, _options(language, "forced")).text for u in utterances}
            forced_s = time.perf_counter() - started
            reused = False
        else:
            forced, reused = forced_texts, True
        if "forced" in modes:
            wer, words = corpus_wer(utterances, [forced[u.name] for u in utterances], language)
            rows.append(_row(language, "forced", utterances, wer, words, None, forced_s, reused))
        started = time.perf_counter()
        probabilities = [backend.language_probabilities(u.samples, THREADS) for u in utterances]
        detect_s = time.perf_counter() - started
        for mode in (m for m in modes if m != "forced"):
            picks = [pick_language(p, CANDIDATES[mode]) for p in probabilities]
            texts = [forced[u.name] if pick == language else
                     backend.transcribe(u.samples, DecodeOptions(language=pick, threads=THREADS)).text
                     for u, pick in zip(utterances, picks, strict=True)]
            wer, words = corpus_wer(utterances, texts, language)
            rows.append(_row(language, mode, utterances, wer, words, Counter(picks), detect_s, reused))
    finally:
        backend.close()
    return rows


def _row(language: str, mode: str, utterances: Sequence[Any], wer: float, words: int,
         detected: Counter[str] | None, seconds: float | None, reused: bool) -> dict[str, Any]:
    log.info("%s %s: WER %.2f %%, detected %s", language, mode, 100 * wer, dict(detected or {}))
    return {
        "language": language,
        "mode": mode,
        "utterances": len(utterances),
        "reference_words": words,
        "wer": round(wer, 4),
        "detected_right": detected.get(language, 0) if detected is not None else None,
        "detected": dict(detected.most_common()) if detected is not None else None,
        # forced: the decode time (None when the accuracy section's transcripts were used);
        # auto: the time detection took on the whole set
        "engine_s": None if seconds is None else round(seconds, 2),
        "forced_texts_from_accuracy": reused,
    }


def _forced_texts(ctx: RunContext, language: str) -> dict[str, str] | None:
    """The accuracy section's transcripts of ``language`` with the default model, greedy, if it ran."""
    for row in (ctx.earlier.get("accuracy") or {}).get("rows", []):
        if row.get("language") == language and FORCED_TEXTS_KEY in row:
            return row[FORCED_TEXTS_KEY]
    return None


def run(ctx: RunContext) -> dict[str, Any]:
    path = ggml_model(ctx.models_dir, ctx.work_dir, DEFAULT_MODEL)
    limit = QUICK_UTTERANCES if ctx.quick else None
    # the English set is the longest (7.6 min of audio against 2.7): it starts first
    languages = sorted(MODES, key=lambda language: language != "en")
    args = [(str(path), language, MODES[language], limit, _forced_texts(ctx, language)) for language in languages]
    with ProcessPoolExecutor(max_workers=min(WORKERS, len(args)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        measured = dict(zip(languages, pool.map(measure, *zip(*args)), strict=True))
    rows = [row for language in MODES for row in measured[language]]
    return {
        "setup": {
            "models": [ctx.model_record(DEFAULT_MODEL, path)],
            "threads": THREADS,
            "workers": min(WORKERS, len(args)),
            "decoding": "greedy; auto = whisper's language detection on the first 30 s, then a decode in the "
                        "language detected",
            "modes": {mode: _options("vi", mode).to_dict() for mode in MODES["vi"]},
        },
        "rows": rows,
    }


def render(record: dict[str, Any]) -> str:
    names = {"en": "English", "vi": "Vietnamese"}
    lines = [
        "| audio | language setting | WER | detected right | detected as | seconds |",
        "|---|---|---:|---:|---|---:|",
    ]
    for row in record["rows"]:
        right = "–" if row["detected_right"] is None else f"{row['detected_right']} / {row['utterances']}"
        detected = "–" if not row["detected"] else ", ".join(f"{k} {v}" for k, v in row["detected"].items())
        seconds = "–" if row.get("engine_s") is None else f"{row['engine_s']:.0f}"
        lines.append(f"| {names[row['language']]} ({row['utterances']} utterances) | {row['mode']} "
                     f"| {plots.percent(row['wer'])} | {right} | {detected} | {seconds} |")
    reused = any(row.get("forced_texts_from_accuracy") for row in record["rows"])
    lines += ["", "Seconds: the forced decode of the whole set, or for auto the language detection alone. "
              "An auto transcript is the forced one where detection picked the right language, and a decode "
              "in the language detected elsewhere"
              + (" (forced transcripts from the accuracy section of the same run)." if reused else ".")]
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
    estimate_s=220.0,
)
