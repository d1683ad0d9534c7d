"""Whole-utterance word error rate per model variant and decoding, English and Vietnamese.

Every dev utterance (``../shared/audio/dev/{en,vi}``, 4-30 s each, so one
whisper window) is transcribed alone by sttdesk's engine backend
(:class:`~sttdesk.engine.backend.WhisperCppBackend`, whisper.cpp through
pywhispercpp, the code the agents run) with the language given, for base f16,
q8_0 and q5_0, greedy and beam 5; and by faster-whisper int8 on the same
weights, greedy, for comparison. WER is over the whole set (all edits over all
reference words), after :func:`sttdesk.domain.textnorm.normalize_text` on both
sides: for English the rules of whisper's English normaliser that matter on
this set (case, punctuation, contractions, titles, British spellings, numbers
as words); for Vietnamese those of its basic normaliser with the diacritics
kept (case, punctuation, NFC). whisper's own normalisers are not used: the
``openai-whisper`` package is not installable here.

Run alone: ``python -m benchmarks accuracy`` (``--quick`` for a few utterances).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jiwer

from sttdesk.domain.textnorm import normalize_text
from sttdesk.engine.backend import WhisperCppBackend
from sttdesk.engine.options import DecodeOptions

from . import plots
from .devsets import DEV_DIR, LANGUAGES, Utterance, load_devset
from .models import (
    FASTER_WHISPER_COMPUTE_TYPE,
    FASTER_WHISPER_LABEL,
    GGML_VARIANTS,
    ct2_model,
    ggml_model,
)
from .sections import Plot, RunContext, Section

log = logging.getLogger(__name__)

#: whisper.cpp / CTranslate2 threads. WER does not depend on them, and on a shared 2-core PC one
#: thread degrades gracefully under others' load where two threads wait on each other (DESIGN.md §9).
THREADS = 1
#: Decodings compared: label -> beam size (None = greedy, sttdesk's default).
DECODINGS: dict[str, int | None] = {"greedy": None, "beam 5": 5}
#: Utterances per language in the --quick set.
QUICK_UTTERANCES = 2
#: Variants and decodings in the --quick set.
QUICK_VARIANTS = ("q8_0",)
QUICK_DECODINGS = ("greedy",)


@dataclass
class Transcribed:
    """The texts an engine wrote for a set of utterances, and the time it took."""

    texts: list[str]
    engine_s: float


def corpus_wer(utterances: Sequence[Utterance], texts: Sequence[str], language: str) -> tuple[float, int]:
    """Corpus WER of ``texts`` against the references (both normalised), and the reference word count."""
    references = [normalize_text(u.reference, language) for u in utterances]
    hypotheses = [normalize_text(text, language) for text in texts]
    words = sum(len(r.split()) for r in references)
    return float(jiwer.wer(references, hypotheses)), words


def transcribe_whisper_cpp(backend: WhisperCppBackend, utterances: Sequence[Utterance],
                           options: DecodeOptions) -> tuple[Transcribed, list[str]]:
    """Each utterance through the engine backend; also the language each reply names."""
    texts, languages = [], []
    started = time.perf_counter()
    for utterance in utterances:
        result = backend.transcribe(utterance.samples, options)
        texts.append(result.text)
        languages.append(result.language)
    return Transcribed(texts, time.perf_counter() - started), languages


def transcribe_faster_whisper(model: Any, utterances: Sequence[Utterance], language: str,
                              beam_size: int) -> Transcribed:
    texts = []
    started = time.perf_counter()
    for utterance in utterances:
        segments, _ = model.transcribe(utterance.samples, language=language, beam_size=beam_size)
        texts.append(" ".join(s.text.strip() for s in segments))  # the generator runs the model
    return Transcribed(texts, time.perf_counter() - started)


def _row(engine: str, variant: str, decoding: str, language: str, utterances: Sequence[Utterance],
         done: Transcribed) -> dict[str, Any]:
    wer, words = corpus_wer(utterances, done.texts, language)
    audio_s = sum(u.seconds for u in utterances)
    log.info("%s %s %s %s: WER %.2f %% (%.0f s)", engine, variant, decoding, language, 100 * wer, done.engine_s)
    return {
        "engine": engine,
        "model": variant,
        "decoding": decoding,
        "language": language,
        "wer": round(wer, 4),
        "reference_words": words,
        "audio_s": round(audio_s, 1),
        "engine_s": round(done.engine_s, 2),
        "x_real_time": round(audio_s / done.engine_s, 2) if done.engine_s > 0 else None,
    }


def run(ctx: RunContext) -> dict[str, Any]:
    limit = QUICK_UTTERANCES if ctx.quick else None
    sets = {language: load_devset(language, limit=limit) for language in LANGUAGES}
    variants = QUICK_VARIANTS if ctx.quick else tuple(GGML_VARIANTS)
    decodings = {k: v for k, v in DECODINGS.items() if not ctx.quick or k in QUICK_DECODINGS}
    rows: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    for variant in variants:
        path = ggml_model(ctx.models_dir, ctx.work_dir, GGML_VARIANTS[variant])
        models.append(ctx.model_record(GGML_VARIANTS[variant], path))
        backend = WhisperCppBackend()
        try:
            backend.load(path, THREADS)
            for decoding, beam in decodings.items():
                for language, utterances in sets.items():
                    options = DecodeOptions(language=language, beam_size=beam, threads=THREADS)
                    done, _ = transcribe_whisper_cpp(backend, utterances, options)
                    rows.append(_row("whisper.cpp (sttdesk engine)", variant, decoding, language, utterances, done))
        finally:
            backend.close()
    if not ctx.quick:
        from faster_whisper import WhisperModel

        folder = ct2_model(ctx.work_dir)
        models.append(ctx.model_record(FASTER_WHISPER_LABEL, folder))
        model = WhisperModel(str(folder), device="cpu", compute_type=FASTER_WHISPER_COMPUTE_TYPE,
                             cpu_threads=THREADS)
        for language, utterances in sets.items():
            done = transcribe_faster_whisper(model, utterances, language, beam_size=1)
            rows.append(_row("faster-whisper", "int8", "greedy", language, utterances, done))
    return {
        "setup": {
            "threads": THREADS,
            "models": models,
            "decodings": {name: DecodeOptions(language="en", beam_size=beam, threads=THREADS).to_dict()
                          for name, beam in decodings.items()},
            "faster_whisper": None if ctx.quick else {"compute_type": FASTER_WHISPER_COMPUTE_TYPE, "beam_size": 1,
                                                      "threads": THREADS},
            "audio": {language: {"folder": str(DEV_DIR / language), "utterances": len(utterances),
                                 "seconds": round(sum(u.seconds for u in utterances), 1)}
                      for language, utterances in sets.items()},
            "normaliser": "sttdesk.domain.textnorm.normalize_text (en: whisper-English-normaliser rules; "
                          "vi: basic normaliser, diacritics kept)",
            "language": "given (forced)",
        },
        "rows": rows,
    }


def _pivot(record: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    table: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for row in record["rows"]:
        table.setdefault((row["engine"], row["model"], row["decoding"]), {})[row["language"]] = row
    return table


def render(record: dict[str, Any]) -> str:
    audio = record["setup"]["audio"]
    lines = [
        f"Each utterance transcribed alone, language given, {record['setup']['threads']} threads. "
        + "; ".join(f"{lang}: {a['utterances']} utterances, {a['seconds'] / 60:.1f} min" for lang, a in audio.items())
        + ". WER over the whole set after text normalisation (see Method).",
        "",
        "| engine | model | decoding | English WER | Vietnamese WER | English × real time | Vietnamese × real time |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for (engine, model, decoding), by_language in _pivot(record).items():
        en, vi = by_language.get("en"), by_language.get("vi")
        lines.append(
            f"| {engine} | {model} | {decoding} | {plots.percent(en and en['wer'])} | {plots.percent(vi and vi['wer'])} "
            f"| {plots.number(en and en['x_real_time'], '×')} | {plots.number(vi and vi['x_real_time'], '×')} |"
        )
    return "\n".join(lines)


def plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    table = _pivot(record)
    groups = [f"{model}\n{decoding}" if engine.startswith("whisper.cpp") else f"faster-whisper\n{model} {decoding}"
              for engine, model, decoding in table]
    series = {
        {"en": "English", "vi": "Vietnamese"}[language]: [
            100 * by_language[language]["wer"] if language in by_language else None for by_language in table.values()
        ]
        for language in LANGUAGES
    }
    file = "accuracy-wer.png"
    plots.grouped_bars(folder / file, "Whole-utterance WER by model and decoding", groups, series,
                       ylabel="WER (%)", footer=plots.footer(footer, record["setup"]), value_format="{:.1f}")
    return [Plot(file, "WER per model variant and decoding, English and Vietnamese")]


def headline(record: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for row in record["rows"]:
        if row["engine"].startswith("whisper.cpp") and row["model"] == "q8_0" and row["decoding"] == "greedy":
            name = {"en": "English WER", "vi": "Vietnamese WER"}[row["language"]]
            found[name] = f"{100 * row['wer']:.1f} % (base q8_0, greedy)"
    return found


SECTION = Section(
    name="accuracy",
    title="Accuracy: whole-utterance WER per model and decoding",
    run=run,
    render=render,
    plot=plot,
    headline=headline,
    estimate_s=330.0,
)
