"""How cost grows with audio length: real-time factor at 1, 10 and 60 minutes, and peak memory per process.

The inputs are talks built like the pipeline benchmark's (whole English clips
with talk-like pauses). sttdesk runs end to end as a user runs it
(``sttdesk transcribe``, 2 agents x 1 thread, the default pool shape on two
cores); whisper.cpp (pywhispercpp, whole file, 2 threads) and faster-whisper
int8 (2 threads) run at 1 and 10 minutes. At 60 minutes only sttdesk runs: the
two others would add about 7 minutes of the 30-minute budget of the default
set on a 2-core PC, and their cost per minute is already clear from the
shorter inputs. The 10-minute figures are taken from the ``pipeline`` section
when it ran earlier in the same invocation (same talk, same runs), not
measured twice.

Memory: the peak resident size of each process of the sttdesk run, by role:
the coordinator (the CLI process: job store, chunker, dispatcher, merge), each
local agent, and each agent's whisper.cpp engine child.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from . import pipeline, plots
from .models import FASTER_WHISPER_LABEL, ct2_model
from .proctree import ROLE_AGENT, ROLE_COORDINATOR, ROLE_ENGINE
from .sections import Plot, RunContext, Section

log = logging.getLogger(__name__)

#: Talk lengths (minutes) -> what runs at that length.
ALL_ENGINES = ("sttdesk", "whisper.cpp", "faster-whisper")
LENGTHS: dict[float, tuple[str, ...]] = {1.0: ALL_ENGINES, 10.0: ALL_ENGINES, 60.0: ("sttdesk",)}
QUICK_LENGTHS: dict[float, tuple[str, ...]] = {0.5: ("sttdesk",), 1.0: ALL_ENGINES}
#: sttdesk's pool shape here: the CLI's default on two cores.
AGENTS, THREADS = 2, 1
#: The pipeline section's run names for each engine.
PIPELINE_NAMES = {
    "sttdesk": "sttdesk 2 agent(s) x 1 thread(s)",
    "whisper.cpp": "pywhispercpp, whole file, 2 threads",
    "faster-whisper": "faster-whisper int8, whole file, 2 threads",
}


def _row(minutes: float, engine: str, audio_s: float, run: dict[str, Any], *, reused: bool) -> dict[str, Any]:
    details = run["details"]
    return {
        "minutes": minutes,
        "engine": engine,
        "audio_s": round(audio_s, 1),
        "wall_s": round(run["wall_s"], 2),
        "rtf": round(run["wall_s"] / audio_s, 4),
        "x_real_time": round(audio_s / run["wall_s"], 2),
        "wer": round(run["wer"], 4),
        "peak_rss_mib": details.get("peak_rss_mib"),
        "memory": details.get("memory"),
        "load_average_before": details.get("load_average_before"),
        "reused_from_pipeline": reused,
    }


def _measure(ctx: RunContext, minutes: float, engine: str) -> tuple[float, dict[str, Any]]:
    audio = ctx.work_dir / f"talk-{minutes:g}min-seed0.wav"
    reference = pipeline.build_talk(audio, minutes)
    audio_s = pipeline.load_audio(audio).size / pipeline.SAMPLE_RATE
    model = pipeline.ModelStore(ctx.models_dir).path_for(pipeline.MODEL)
    if engine == "sttdesk":
        result = pipeline.run_sttdesk(audio, ctx.work_dir, ctx.models_dir, agents=AGENTS, threads=THREADS,
                                      reference=reference)
        result.details.pop("last_done_at", None)
    elif engine == "whisper.cpp":
        result = pipeline.run_script(PIPELINE_NAMES[engine], pipeline._PYWHISPERCPP, str(model), str(audio),
                                     str(pipeline.TOTAL_THREADS), reference=reference)
    else:
        result = pipeline.run_script(PIPELINE_NAMES[engine], pipeline._FASTER_WHISPER, str(ct2_model(ctx.work_dir)),
                                     str(audio), str(pipeline.TOTAL_THREADS), reference=reference)
    log.info("%g min, %s: %.1f s", minutes, engine, result.wall_s)
    return audio_s, {"wall_s": result.wall_s, "wer": result.wer, "details": result.details}


def run(ctx: RunContext) -> dict[str, Any]:
    lengths = QUICK_LENGTHS if ctx.quick else LENGTHS
    earlier = ctx.earlier.get("pipeline")
    rows = []
    for minutes, engines in lengths.items():
        for engine in engines:
            reuse = None
            if earlier and abs(earlier["audio_seconds"] / 60 - minutes) < 0.5:
                reuse = next((r for r in earlier["runs"] if r["name"] == PIPELINE_NAMES[engine]), None)
            if reuse is not None:
                rows.append(_row(minutes, engine, earlier["audio_seconds"], reuse, reused=True))
            else:
                audio_s, measured = _measure(ctx, minutes, engine)
                rows.append(_row(minutes, engine, audio_s, measured, reused=False))
    model = pipeline.ModelStore(ctx.models_dir).path_for(pipeline.MODEL)
    return {
        "setup": {
            "models": [ctx.model_record(pipeline.MODEL, model),
                       ctx.model_record(FASTER_WHISPER_LABEL, ct2_model(ctx.work_dir))],
            "threads": f"2 in total (sttdesk {AGENTS} agents x {THREADS}; whisper.cpp and faster-whisper 2)",
            "decoding": "greedy, English given, temperature fallback on",
            "lengths": {f"{minutes:g} min": list(engines) for minutes, engines in lengths.items()},
        },
        "rows": rows,
    }


def _memory_cells(row: dict[str, Any]) -> list[str]:
    roles = (row.get("memory") or {}).get("by_role", {})

    def cell(role: str) -> str:
        entry = roles.get(role)
        if not entry:
            return "–"
        return f"{entry['max_peak_mib']:.0f} MiB" + (f" (×{entry['processes']})" if entry["processes"] > 1 else "")

    return [cell(ROLE_COORDINATOR), cell(ROLE_AGENT), cell(ROLE_ENGINE)]


def render(record: dict[str, Any]) -> str:
    lines = [
        "| audio | engine | wall s | RTF | × real time | WER | peak RSS, all processes | from |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {row['minutes']:g} min | {row['engine']} | {row['wall_s']:.1f} | {row['rtf']:.3f} "
            f"| {row['x_real_time']:.1f}× | {plots.percent(row['wer'])} | {plots.number(row['peak_rss_mib'], ' MiB', 0)} "
            f"| {'pipeline section' if row['reused_from_pipeline'] else 'measured here'} |"
        )
    lines += [
        "",
        "Peak resident memory of each sttdesk process (largest of its kind; ×N = processes of that kind):",
        "",
        "| audio | coordinator (CLI) | agent | engine child (whisper.cpp) | all processes together |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in record["rows"]:
        if row["engine"] == "sttdesk":
            lines.append(f"| {row['minutes']:g} min | " + " | ".join(_memory_cells(row))
                         + f" | {plots.number(row['peak_rss_mib'], ' MiB', 0)} |")
    return "\n".join(lines)


def plot(record: dict[str, Any], folder: Path, footer: dict[str, Any]) -> list[Plot]:
    series: dict[str, list[tuple[float, float]]] = {}
    for row in record["rows"]:
        series.setdefault(row["engine"], []).append((row["minutes"], row["rtf"]))
    file = "scaling-rtf.png"
    plots.lines(folder / file, "Real-time factor vs audio length (lower is faster)", series,
                xlabel="audio length (minutes, log scale)", ylabel="RTF (wall seconds per audio second)",
                footer=plots.footer(footer, record["setup"]), log_x=True)
    return [Plot(file, "real-time factor against audio length for sttdesk, whisper.cpp and faster-whisper")]


def headline(record: dict[str, Any]) -> dict[str, str]:
    longest = max((row for row in record["rows"] if row["engine"] == "sttdesk"), key=lambda r: r["minutes"],
                  default=None)
    if longest is None:
        return {}
    return {"Long files": f"{longest['minutes']:g} min transcribed by sttdesk in {longest['wall_s'] / 60:.1f} min "
                          f"({longest['x_real_time']:.1f}× real time), peak memory of all its processes "
                          f"{plots.number(longest['peak_rss_mib'], ' MiB', 0)}"}


SECTION = Section(
    name="scaling",
    title="Speed vs audio length (1, 10, 60 min) and peak memory",
    run=run,
    render=render,
    plot=plot,
    headline=headline,
    estimate_s=410.0,
)
