"""Whole-utterance word error rate per model variant and decoding, English and Vietnamese.

Every dev utterance (``../shared/audio/dev/{en,vi}``, 4-30 s each, so one
whisper window) is transcribed alone by sttdesk's engine backend
(:class:`~sttdesk.engine.backend.WhisperCppBackend`, whisper.cpp through
pywhispercpp, the code the agents run) with the language given, for base f16,
q8_0 and q5_0 greedy, and q8_0 (the default) with beam 5 as well; and by
faster-whisper int8 on the same weights, greedy, for comparison. The
configurations run in two worker processes of one thread each, side by side. WER is over the whole set (all edits over all
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
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
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
    DEFAULT_MODEL,
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
#: Variants also measured with beam search: the default model (beam 5 costs 1.5x greedy for every variant
#: alike; measuring it on all three would double the section's time for no new finding).
BEAM_VARIANTS = ("q8_0",)
#: Worker processes, each with THREADS threads: both cores of a 2-core PC (WER does not depend on it;
#: the × real time figures are then those of two processes side by side).
WORKERS = 2
WHISPER_CPP_ENGINE = "whisper.cpp (sttdesk engine)"
FASTER_WHISPER_ENGINE = "faster-whisper"
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
        "utterances": len(utterances),
        "audio_s": round(audio_s, 1),
        "engine_s": round(done.engine_s, 2),
        "x_real_time": round(audio_s / done.engine_s, 2) if done.engine_s > 0 else None,
    }


@dataclass(frozen=True)
class Task:
    """One configuration on one language's dev set, measured in a worker process."""

    engine: str
    variant: str
    decoding: str
    language: str
    #: The model file (ggml) or folder (CTranslate2).
    model_path: str
    utterance_limit: int | None


#: Rows of the default model, greedy, keep each utterance's transcript under this key (by file name):
#: the language section reads them as its forced transcripts.
FORCED_TEXTS_KEY = "texts"


def measure(task: Task) -> dict[str, Any]:
    """Transcribe the task's dev set with its configuration; its table row (runs in a worker)."""
    utterances = load_devset(task.language, limit=task.utterance_limit)
    if task.engine == FASTER_WHISPER_ENGINE:
        from faster_whisper import WhisperModel

        model = WhisperModel(task.model_path, device="cpu", compute_type=FASTER_WHISPER_COMPUTE_TYPE,
                             cpu_threads=THREADS)
        done = transcribe_faster_whisper(model, utterances, task.language, beam_size=1)
    else:
        backend = WhisperCppBackend()
        try:
            backend.load(Path(task.model_path), THREADS)
            options = DecodeOptions(language=task.language, beam_size=DECODINGS[task.decoding], threads=THREADS)
            done, _ = transcribe_whisper_cpp(backend, utterances, options)
        finally:
            backend.close()
    row = _row(task.engine, task.variant, task.decoding, task.language, utterances, done)
    if GGML_VARIANTS.get(task.variant) == DEFAULT_MODEL and task.decoding == "greedy":
        row[FORCED_TEXTS_KEY] = {u.name: text for u, text in zip(utterances, done.texts, strict=True)}
    return row


def plan(ctx: RunContext) -> tuple[list[Task], list[dict[str, Any]]]:
    """The tasks of a run (slowest first, so that the workers end together) and the models they use."""
    limit = QUICK_UTTERANCES if ctx.quick else None
    variants = QUICK_VARIANTS if ctx.quick else tuple(GGML_VARIANTS)
    decodings = {k: v for k, v in DECODINGS.items() if not ctx.quick or k in QUICK_DECODINGS}
    tasks: list[Task] = []
    models: list[dict[str, Any]] = []
    for variant in variants:
        path = ggml_model(ctx.models_dir, ctx.work_dir, GGML_VARIANTS[variant])
        models.append(ctx.model_record(GGML_VARIANTS[variant], path))
        for decoding, beam in decodings.items():
            if beam is not None and variant not in BEAM_VARIANTS:
                continue
            tasks += [Task(WHISPER_CPP_ENGINE, variant, decoding, language, str(path), limit)
                      for language in LANGUAGES]
    if not ctx.quick:
        folder = ct2_model(ctx.work_dir)
        models.append(ctx.model_record(FASTER_WHISPER_LABEL, folder))
        tasks += [Task(FASTER_WHISPER_ENGINE, "int8", "greedy", language, str(folder), limit) for language in LANGUAGES]
    cost = {"beam 5": 3, "greedy": 2}  # beam search costs about 1.5x greedy
    order = sorted(tasks, key=lambda t: (-cost.get(t.decoding, 1) * (2 if t.language == "en" else 1),
                                         t.engine == FASTER_WHISPER_ENGINE))
    return order, models


def run(ctx: RunContext) -> dict[str, Any]:
    tasks, models = plan(ctx)
    workers = min(WORKERS, len(tasks))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        measured = dict(zip(tasks, pool.map(measure, tasks), strict=True))
    # rows in a fixed order: engine and variant as planned, then decoding, then language
    rank = {task: index for index, task in enumerate(sorted(tasks, key=_table_order))}
    rows = [measured[task] for task in sorted(tasks, key=rank.__getitem__)]
    sets = {row["language"]: row for row in rows}  # every row of a language read the same utterances
    return {
        "setup": {
            "threads": THREADS,
            "workers": workers,
            "models": models,
            "decodings": {name: DecodeOptions(language="en", beam_size=beam, threads=THREADS).to_dict()
                          for name, beam in DECODINGS.items() if any(t.decoding == name for t in tasks)},
            "beam_variants": list(BEAM_VARIANTS),
            "faster_whisper": None if ctx.quick else {"compute_type": FASTER_WHISPER_COMPUTE_TYPE, "beam_size": 1,
                                                      "threads": THREADS},
            "audio": {language: {"folder": str(DEV_DIR / language), "utterances": row["utterances"],
                                 "seconds": row["audio_s"]}
                      for language, row in sets.items()},
            "normaliser": "sttdesk.domain.textnorm.normalize_text (en: whisper-English-normaliser rules; "
                          "vi: basic normaliser, diacritics kept)",
            "language": "given (forced)",
        },
        "rows": rows,
    }


def _table_order(task: Task) -> tuple[int, int, int, int]:
    return (task.engine == FASTER_WHISPER_ENGINE, list(GGML_VARIANTS).index(task.variant)
            if task.variant in GGML_VARIANTS else 0, list(DECODINGS).index(task.decoding),
            LANGUAGES.index(task.language))


def _pivot(record: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    table: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for row in record["rows"]:
        table.setdefault((row["engine"], row["model"], row["decoding"]), {})[row["language"]] = row
    return table


def render(record: dict[str, Any]) -> str:
    audio = record["setup"]["audio"]
    lines = [
        f"Each utterance transcribed alone, language given, {record['setup']['threads']} thread(s) per engine, "
        f"{record['setup'].get('workers', 1)} engine(s) side by side (× real time is per engine). "
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
    estimate_s=595.0,
)
