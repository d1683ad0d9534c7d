"""``docs/benchmarks.md``: the benchmark report, rendered from a results file with its plots.

Everything here reads the results file only, so the report can be rebuilt
without measuring again (``python -m benchmarks --report-only FILE``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import plots
from .sections import Plot, Section

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS_FILE = REPO_ROOT / "docs" / "benchmarks.md"
#: The plots folder, next to the report.
PLOTS_FOLDER_NAME = "benchmarks"

METHOD = """\
- **Command**: `python -m benchmarks` runs the default set (`--list` shows the sections, `python -m benchmarks
  accuracy pipeline` runs some, `--quick` a CI-sized set). It writes `benchmarks/results/<date>-<host>.json` and
  regenerates this page and its plots. A run of some sections keeps the other sections of the same day's file.
- **Same run, same machine**: every comparison in a table was measured in the same invocation on the same
  machine, one engine after the other (never side by side), with the same model weights and the same number of
  threads in total. The machine is shared: the load average before and after each section is printed with it, and
  figures measured under load are slower than on an idle PC, for every engine alike.
- **Models**: OpenAI Whisper *base* (multilingual) from the offline default packages, converted to ggml f16 and
  quantized to q8_0 (sttdesk's default) and q5_0; faster-whisper reads the same weights as CTranslate2 int8.
  Each section lists the files with their sha256.
- **WER** (jiwer) after `sttdesk.domain.textnorm.normalize_text` on reference and hypothesis. whisper's own
  normalisers (the `openai-whisper` package) cannot be installed here; textnorm applies the rules of whisper's
  English normaliser that matter on this audio (case, punctuation, contractions, titles, British spellings,
  numbers as words) and, for Vietnamese, those of its basic normaliser with the diacritics kept (case, punctuation,
  Unicode NFC). Figures are therefore close to, not identical with, whisper-normalised WER.
- **Audio**: `../shared/audio/dev/en` (LibriSpeech, LibriVox, jfk.wav: CC BY 4.0 / public domain) and
  `../shared/audio/dev/vi` (VIVOS, CC BY-NC-SA 4.0, read speech of one speaker: internal evaluation only).
  Long inputs are built by joining these recordings; the Vietnamese set is 2.7 minutes of one speaker, so its WER is
  indicative only.
- **× real time** is audio seconds per wall-clock second (higher is faster); **RTF** is the inverse.
"""


def _load_text(record: Mapping[str, Any]) -> str:
    before, after = record.get("load_average_before"), record.get("load_average_after")
    if not before or not after:
        return ""
    return f"load average {before[0]:.1f} → {after[0]:.1f} (1 min)"


def _setup_line(record: Mapping[str, Any]) -> str:
    setup = record.get("setup") or {}
    parts = [f"Measured {record.get('started', '?')} in {record.get('wall_s', 0):.0f} s", _load_text(record)]
    if record.get("carried_over_from"):
        parts.append(f"carried over from the run of {record['carried_over_from']}")
    if setup.get("models"):
        parts.append("models " + plots.describe_models(setup["models"]))
    if setup.get("threads") is not None:
        parts.append(f"threads: {setup['threads']}")
    if setup.get("decoding"):
        parts.append(f"decoding: {setup['decoding']}")
    elif setup.get("decodings"):
        parts.append("decoding: " + ", ".join(setup["decodings"]))
    return "_" + "; ".join(p for p in parts if p) + "._"


def _footer_context(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"machine": record["machine"], "versions": record["versions"],
            "load_average": record.get("load_average_after")}


def _machine_paragraph(results: Mapping[str, Any]) -> str:
    machine, versions = results["machine"], results["versions"]
    return (
        f"Measured on **{machine['host']}**: {machine['cpu']}, {machine['cores']} cores "
        f"({machine.get('usable_cores', machine['cores'])} usable), {machine['memory_gib']} GiB RAM, "
        f"{machine['platform']}, Python {machine['python']}. Run started {results['started']}, "
        f"took {results['wall_s'] / 60:.1f} min; load average {machine['load_average']} at the start and "
        f"{machine.get('load_average_at_end')} at the end.\n\n"
        f"Versions: sttdesk {versions.get('sttdesk')} (commit {versions.get('git_commit')}), whisper.cpp "
        f"{versions.get('whisper.cpp')} (pywhispercpp {versions.get('pywhispercpp')}), faster-whisper "
        f"{versions.get('faster-whisper')}, CTranslate2 {versions.get('ctranslate2')}, numpy {versions.get('numpy')}, "
        f"jiwer {versions.get('jiwer')}, ffmpeg {versions.get('ffmpeg')}."
    )


def headlines(results: Mapping[str, Any], sections: Mapping[str, Section]) -> dict[str, str]:
    """The headline figures of every section that has them, label -> text."""
    found: dict[str, str] = {}
    for name, section in sections.items():
        record = results["sections"].get(name)
        if record and "error" not in record and section.headline:
            try:
                found.update(section.headline(record))
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                log.warning("no headline for %s: %s", name, exc)
    return found


def render_report(results: Mapping[str, Any], sections: Mapping[str, Section], *, results_file: Path,
                  docs_file: Path) -> str:
    """The whole report; draws each section's plots into the folder beside ``docs_file``."""
    plot_dir = docs_file.parent / PLOTS_FOLDER_NAME
    try:
        shown_results = os.path.relpath(results_file, docs_file.parent)
    except ValueError:
        shown_results = str(results_file)
    lines = [
        "# Benchmarks",
        "",
        ("<!-- Generated by `python -m benchmarks` from the results file named below. Do not edit by hand: "
        "re-run the command (or `python -m benchmarks --report-only <results file>`). -->"),
        "",
        f"Results file: [`{Path(shown_results).name}`]({shown_results})"
        + (" — **quick set (CI smoke run): tiny inputs, figures not meaningful**" if results.get("quick") else ""),
        "",
        _machine_paragraph(results),
        "",
        "## Summary",
        "",
    ]
    summary = headlines(results, sections)
    lines += [f"- **{label}**: {text}" for label, text in summary.items()] or ["_no headline figures in this run_"]
    lines += ["", "## Method", "", METHOD]
    missing = [name for name in sections if name not in results["sections"]]
    failed = [name for name, record in results["sections"].items() if "error" in record]
    if missing or failed:
        lines += [
            "Not in this report: "
            + "; ".join(
                ([f"not measured: {', '.join(missing)}"] if missing else [])
                + ([f"failed: {', '.join(failed)}"] if failed else [])
            )
            + ".",
            "",
        ]
    for name, section in sections.items():
        record = results["sections"].get(name)
        if record is None:
            continue
        lines += [f"## {section.title}", "", f"Section `{name}`. " + _setup_line(record), ""]
        if "error" in record:
            lines += [f"**This section failed in this run**: `{record['error']}`", ""]
            continue
        try:
            lines += [section.render(record), ""]
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
            # A record from an older layout must not cost the rest of the report.
            log.warning("cannot render %s: %s", name, exc)
            lines += [f"**This section's record could not be rendered**: `{type(exc).__name__}: {exc}`", ""]
        drawn: list[Plot] = []
        if section.plot:
            try:
                drawn = section.plot(record, plot_dir, _footer_context(record))
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                log.warning("no plot for %s: %s", name, exc)
        for picture in drawn:
            lines += [f"![{picture.caption}]({PLOTS_FOLDER_NAME}/{picture.file})", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(results: Mapping[str, Any], sections: Mapping[str, Section], *, results_file: Path,
                 docs_file: Path) -> Path:
    text = render_report(results, sections, results_file=results_file, docs_file=docs_file)
    docs_file.parent.mkdir(parents=True, exist_ok=True)
    docs_file.write_text(text, encoding="utf-8")
    log.info("wrote %s", docs_file)
    return docs_file
