"""The registry of benchmark sections that ``python -m benchmarks`` runs and reports.

A section is one measurement with its own table(s) and plot(s) in
``docs/benchmarks.md``. Each lives in its own module, which defines a module
attribute ``SECTION = Section(...)``. To add one, write the module and add its
import path to :data:`SECTION_MODULES`; the order there is the order sections
run in and appear in the report.

A section's ``run`` gets a :class:`RunContext` and returns its record: a
JSON-ready dict with the figures, plus a ``"setup"`` dict saying what they were
measured with (model files and their sha256, threads, decoding options, audio).
The harness adds timing and load average around it. ``render`` turns the record
back into markdown and ``plot`` draws its PNGs; both must work from the JSON
alone, so the report can be rebuilt from a results file without measuring.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .machine import ModelFile, model_file

log = logging.getLogger(__name__)

#: Modules that define a ``SECTION``, in the order they run and are reported.
SECTION_MODULES: tuple[str, ...] = (
    "benchmarks.accuracy",
    "benchmarks.longform",
    "benchmarks.pipeline",
    "benchmarks.language",
    "benchmarks.hallucination",
    "benchmarks.scaling",
    "benchmarks.engine",
    "benchmarks.chunking",
    "benchmarks.control_plane",
    "benchmarks.lan",
)


@dataclass
class RunContext:
    """What a section needs from the harness."""

    #: The small ``--quick`` set (CI smoke run): same code, tiny inputs.
    quick: bool
    #: Scratch space for built inputs, joined models and run folders; kept between runs as a cache.
    work_dir: Path
    #: The installed ggml models (the user's store unless overridden).
    models_dir: Path
    #: Records of the sections already run in this invocation, by name (a section may reuse them).
    earlier: dict[str, dict[str, Any]] = field(default_factory=dict)

    def model_record(self, name: str, path: Path) -> dict[str, Any]:
        """The record (path, size, sha256) of a model file used by a section."""
        record: ModelFile = model_file(name, path)
        return record.to_dict()


@dataclass(frozen=True)
class Plot:
    """A PNG a section drew, and what it shows."""

    #: File name inside the plots folder.
    file: str
    #: One-line description, used as the image's alt text.
    caption: str


@dataclass(frozen=True)
class Section:
    """One benchmark section: how to measure it and how to report it."""

    #: Short name used on the command line and as the key in the results file.
    name: str
    #: Heading in the report.
    title: str
    #: Measures and returns the record (JSON-ready).
    run: Callable[[RunContext], dict[str, Any]]
    #: The record as markdown (tables and text, without the heading).
    render: Callable[[dict[str, Any]], str]
    #: Draws the record's PNGs into a folder (the footer names machine and setup); returns what it drew.
    plot: Callable[[dict[str, Any], Path, dict[str, Any]], list[Plot]] | None = None
    #: Headline figures for the report's summary and the README, as label -> text.
    headline: Callable[[dict[str, Any]], dict[str, str]] | None = None
    #: Part of ``python -m benchmarks`` with no section named (the default set).
    default: bool = True
    #: Wall time measured on the 2-core PC in the last full run, in seconds (shown by --list).
    estimate_s: float = 0.0


def load_sections(modules: tuple[str, ...] = SECTION_MODULES) -> dict[str, Section]:
    """Every registered section by name, in report order."""
    sections: dict[str, Section] = {}
    for module_name in modules:
        section = getattr(importlib.import_module(module_name), "SECTION", None)
        if not isinstance(section, Section):
            raise TypeError(f"{module_name} defines no SECTION")
        if section.name in sections:
            raise ValueError(f"two sections are named {section.name!r}")
        sections[section.name] = section
    return sections
