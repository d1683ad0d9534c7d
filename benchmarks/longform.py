"""Long-form accuracy: chunked transcription merged by time vs the whole file and the seed's word-count merge.

The measurement is :func:`benchmarks.chunking.merge_quality_rows`: English dev
recordings joined into a few minutes, once with talk-like pauses (the chunker
cuts in silences) and once with every pause squeezed out (cuts are forced
mid-speech with a 3 s overlap, and the fixed 30 s / 5 s grid is tried too);
each chunk plan transcribed by sttdesk's engine (base q8_0, greedy) and merged
by time (:class:`~sttdesk.domain.merge.TranscriptAssembler`, as the app does)
and by the seed's drop-the-first-N-words rule; each audio also transcribed
whole in one engine call. WER against the joined reference transcripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sttdesk.engine.options import DecodeOptions
from sttdesk.engine.store import ModelStore

from . import chunking, plots
from .sections import Plot, RunContext, Section

#: Minutes of speech in the quick set (the default set uses chunking.MERGE_MINUTES).
QUICK_MINUTES = 0.5
#: Issue 9: chunked WER must be within this of whole-file WER.
WITHIN_WHOLE = 0.01


def run(ctx: RunContext) -> dict[str, Any]:
    minutes = QUICK_MINUTES if ctx.quick else chunking.MERGE_MINUTES
    rows = chunking.merge_quality_rows(ctx.work_dir, minutes)
    model = ModelStore(ctx.models_dir).path_for(chunking.MERGE_MODEL)
    return {
        "setup": {
            "models": [ctx.model_record(chunking.MERGE_MODEL, model)],
            "threads": chunking.MERGE_THREADS,
            "decoding": "greedy, English given",
            "decode_options": DecodeOptions(language="en").to_dict(),
            "minutes": minutes,
            "forced_cut_options": chunking.FORCED_OPTIONS,
        },
        "rows": rows,
    }


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """Per chunk plan: merged-by-time WER against the whole file's and against the word-count merge's."""
    lines = []
    whole = {row["audio"]: row["wer"] for row in rows if row["chunks"] == 1}
    by_method = {(row["audio"], row["method"]): row for row in rows}
    for (audio, method), row in by_method.items():
        if not method.endswith(", merged by time"):
            continue
        plan = method.removesuffix(", merged by time")
        baseline = by_method.get((audio, f"{plan}, word-count merge (seed)"))
        gap = row["wer"] - whole[audio] if audio in whole else None
        text = f"- {audio}, {plan}: merged by time {plots.percent(row['wer'])}"
        if gap is not None:
            text += (f", {100 * gap:+.2f} points from the whole file "
                     f"({'within' if gap <= WITHIN_WHOLE else 'NOT within'} {100 * WITHIN_WHOLE:.0f} point)")
        if baseline:
            if abs(row["wer"] - baseline["wer"]) < 1e-9:
                verdict = "the same: these chunks share no audio, so there is nothing to drop"
            else:
                verdict = "time merge better" if row["wer"] < baseline["wer"] else "time merge NOT better"
            text += f"; word-count merge {plots.percent(baseline['wer'])} ({verdict})"
        lines.append(text + ".")
    return lines


def render(record: dict[str, Any]) -> str:
    rows = record["rows"]
    return "\n".join([
        (f"{record['setup']['minutes']:g} min of English speech (whole dev recordings), base q8_0, "
        f"{record['setup']['threads']} threads. \"vs whole file\" is the WER of a merged transcript against the "
        "whole-file transcript: what cutting and merging change, apart from what the model gets wrong anyway. "
        "Seam columns count words inserted or lost within 1 s of a seam."),
        "",
        chunking.merge_quality_table(rows),
        "",
        *verdicts(rows),
    ])


def plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    rows = record["rows"]
    file = "longform-wer.png"
    plots.horizontal_bars(folder / file, "Long-form WER by chunking and merge",
                          [f"{row['audio']}: {row['method']}" for row in rows], [100 * row["wer"] for row in rows],
                          xlabel="WER (%)", footer=plots.footer(footer, record["setup"]), value_format="{:.2f} %")
    return [Plot(file, "long-form WER per chunking and merge mode, with the whole-file and word-count baselines")]


def headline(record: dict[str, Any]) -> dict[str, str]:
    rows = record["rows"]
    whole = next((r for r in rows if r["audio"] == "with pauses" and r["chunks"] == 1), None)
    ours = next((r for r in rows if r["audio"] == "with pauses" and r["method"].endswith("merged by time")), None)
    if not whole or not ours:
        return {}
    return {"Long-form English": f"chunked and merged by time {plots.percent(ours['wer'])} vs whole file "
                                 f"{plots.percent(whole['wer'])} ({record['setup']['minutes']:g} min with pauses)"}


SECTION = Section(
    name="longform",
    title="Long-form accuracy: chunking and merge modes vs whole file and the word-count baseline",
    run=run,
    render=render,
    plot=plot,
    headline=headline,
    estimate_s=105.0,
)
