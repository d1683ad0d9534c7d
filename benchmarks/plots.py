"""PNG charts for the benchmark report (matplotlib, no display needed), and cell formatting.

Every chart carries a footer naming the machine, the load average while it was
measured, the versions, the model files (sha256 prefix) and the threads and
decoding, so that an image copied out of the report still says what it shows.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on build machines or CI

import matplotlib.pyplot as plt

log = logging.getLogger(__name__)

#: Figure size in inches and resolution: about 1000 px wide.
FIGURE_SIZE = (10.0, 5.6)
DPI = 100
#: Characters per footer line.
FOOTER_WIDTH = 150
#: Characters of a sha256 shown in footers and tables.
SHA_PREFIX = 12


def percent(value: float | None, digits: int = 2) -> str:
    """A 0..1 ratio as a percentage cell; "–" when not measured."""
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def number(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def describe_models(models: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{m['name']} (sha256 {m['sha256'][:SHA_PREFIX]})" for m in models)


def footer(context: Mapping[str, Any], setup: Mapping[str, Any]) -> str:
    """One paragraph: machine, load, versions, models, threads and decoding of a section."""
    machine, versions = context["machine"], context["versions"]
    load = context.get("load_average")
    parts = [
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB"
        + (f", load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}" if load else ""),
        (f"sttdesk {versions.get('sttdesk')} ({versions.get('git_commit')}), whisper.cpp {versions.get('whisper.cpp')} "
        f"(pywhispercpp {versions.get('pywhispercpp')}), faster-whisper {versions.get('faster-whisper')}, "
        f"CTranslate2 {versions.get('ctranslate2')}"),
    ]
    if setup.get("models"):
        parts.append("models " + describe_models(setup["models"]))
    if setup.get("threads") is not None:
        parts.append(f"threads {setup['threads']}")
    if setup.get("decoding"):
        parts.append(f"decoding {setup['decoding']}")
    elif setup.get("decodings"):
        parts.append("decoding " + " / ".join(setup["decodings"]))
    return " · ".join(parts)


def _finish(figure: Any, path: Path, footer_text: str) -> None:
    wrapped = textwrap.fill(footer_text, FOOTER_WIDTH)
    lines = wrapped.count("\n") + 1
    figure.text(0.01, 0.01, wrapped, fontsize=7, color="0.35", ha="left", va="bottom")
    figure.tight_layout(rect=(0, 0.035 * lines + 0.01, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    log.info("wrote %s", path)


def grouped_bars(path: Path, title: str, groups: Sequence[str], series: Mapping[str, Sequence[float | None]], *,
                 ylabel: str, footer: str, value_format: str = "{:.2f}") -> None:
    """Bars per group, one colour per series; missing values leave a gap; values printed on the bars."""
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    count = max(1, len(series))
    width = 0.8 / count
    for index, (name, values) in enumerate(series.items()):
        xs = [g + (index - (count - 1) / 2) * width for g in range(len(groups))]
        heights = [0.0 if v is None else v for v in values]
        bars = axes.bar(xs, heights, width, label=name)
        for bar, value in zip(bars, values):
            if value is not None:
                axes.annotate(value_format.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                              ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    axes.set_xticks(range(len(groups)), list(groups), fontsize=8)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        axes.legend(fontsize=8)
    _finish(figure, path, footer)


def horizontal_bars(path: Path, title: str, labels: Sequence[str], values: Sequence[float], *, xlabel: str,
                    footer: str, value_format: str = "{:.2f}", reference: float | None = None) -> None:
    """One bar per label, top to bottom; an optional dashed reference line (e.g. 1.0 for ratios)."""
    figure, axes = plt.subplots(figsize=(FIGURE_SIZE[0], max(3.0, 0.45 * len(labels) + 1.8)))
    positions = list(range(len(labels)))[::-1]
    bars = axes.barh(positions, values, color="tab:blue")
    for bar, value in zip(bars, values):
        axes.annotate(value_format.format(value), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                      va="center", fontsize=8, xytext=(3, 0), textcoords="offset points")
    axes.set_yticks(positions, list(labels), fontsize=8)
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    if reference is not None:
        axes.axvline(reference, color="0.3", linestyle="--", linewidth=1)
    _finish(figure, path, footer)


def lines(path: Path, title: str, series: Mapping[str, Sequence[tuple[float, float]]], *, xlabel: str,
          ylabel: str, footer: str, log_x: bool = False) -> None:
    """One line with markers per series of (x, y) points."""
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    for name, points in series.items():
        if points:
            xs, ys = zip(*sorted(points))
            axes.plot(xs, ys, marker="o", label=name)
            for x, y in zip(xs, ys):
                axes.annotate(f"{y:.2f}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if log_x:
        axes.set_xscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    _finish(figure, path, footer)
