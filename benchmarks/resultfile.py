"""The results file: ``benchmarks/results/<date>-<host>.json``, one per machine and day.

A run of a subset of sections updates that day's file: the sections it ran are
replaced, the others kept, so that ``python -m benchmarks accuracy`` after a
full run still leaves a complete file (and a complete report). Each section
keeps the machine, versions and load average it was measured under.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Version of the file's layout; bumped when a reader would misread older files.
FORMAT_VERSION = 1


def result_path(folder: Path, when: datetime, host: str) -> Path:
    """``<folder>/<YYYY-MM-DD>-<host>.json``, the host name made safe for a file name."""
    safe_host = re.sub(r"[^A-Za-z0-9._-]+", "-", host).strip("-") or "host"
    return folder / f"{when:%Y-%m-%d}-{safe_host}.json"


def read_results(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "sections" not in data:
        raise ValueError(f"{path} is not a benchmark results file")
    return data


def merge_results(previous: dict[str, Any] | None, run: dict[str, Any]) -> dict[str, Any]:
    """``run`` with the sections of ``previous`` it did not measure kept (marked as carried over)."""
    if not previous or previous.get("format") != FORMAT_VERSION or previous.get("quick") != run.get("quick"):
        return run
    merged = dict(run)
    sections = {}
    for name, record in previous.get("sections", {}).items():
        if name not in run["sections"]:
            sections[name] = {**record, "carried_over_from": record.get("carried_over_from") or previous.get("started")}
    sections.update(run["sections"])
    merged["sections"] = sections
    return merged


def write_results(path: Path, run: dict[str, Any], *, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``run`` into ``previous`` (by default what ``path`` holds) and write it; returns what was written."""
    if previous is None and path.is_file():
        try:
            previous = read_results(path)
        except ValueError as exc:
            log.warning("not merging with %s: %s", path, exc)
    data = merge_results(previous, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(path)
    return data
