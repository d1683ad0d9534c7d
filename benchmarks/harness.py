"""Runs benchmark sections one after another and gathers their records into one run.

A section that fails is recorded with its error and the run goes on, so a long
run that meets trouble late still yields the sections that finished.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .machine import load_average, machine_info, software_versions
from .resultfile import FORMAT_VERSION
from .sections import RunContext, Section

log = logging.getLogger(__name__)


def run_sections(sections: Sequence[Section], ctx: RunContext, *, command: str,
                 on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Measure ``sections`` in order; the run's record (machine, versions, each section's record).

    ``on_progress`` gets the run's record so far after each section, so that a
    long run stopped part-way still leaves the sections that finished.
    """
    started = datetime.now(UTC)
    started_clock = time.perf_counter()
    machine = machine_info()
    versions = software_versions()
    records: dict[str, dict[str, Any]] = {}
    for section in sections:
        log.info("section %s: %s", section.name, section.title)
        before = load_average()
        section_started = datetime.now(UTC)
        clock = time.perf_counter()
        try:
            record = section.run(ctx)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - one failed section must not lose the others
            log.error("section %s failed: %s", section.name, exc)
            record = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=8)}
        wall = time.perf_counter() - clock
        record.update({
            "title": section.title,
            "started": section_started.isoformat(timespec="seconds"),
            "wall_s": round(wall, 1),
            "load_average_before": before,
            "load_average_after": load_average(),
            "machine": machine,
            "versions": versions,
        })
        records[section.name] = record
        if "error" not in record:
            ctx.earlier[section.name] = record
        log.info("section %s done in %.0f s (load %s)", section.name, wall, record["load_average_after"])
        if on_progress is not None:
            on_progress(_run_record(ctx, command, started, started_clock, machine, versions, records))
    return _run_record(ctx, command, started, started_clock, machine, versions, records)


def _run_record(ctx: RunContext, command: str, started: datetime, started_clock: float, machine: dict[str, Any],
                versions: dict[str, Any], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "command": command,
        "quick": ctx.quick,
        "started": started.isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - started_clock, 1),
        "machine": {**machine, "load_average_at_end": load_average()},
        "versions": versions,
        "sections": dict(records),
    }
