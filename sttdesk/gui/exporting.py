"""Writing the transcripts of several jobs to a folder (runs on a worker thread).

Each job's transcript is read with the user's corrections and written once per
chosen format as ``<file name without extension>.<format>``. Two jobs of the
same file name in one export get " (2)", " (3)"... so neither overwrites the
other; a file left from an earlier export is replaced (exports are redone
after corrections).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.errors import SttdeskError
from ..domain.exporters import get_format, write_export
from ..domain.jobs import JobState

if TYPE_CHECKING:
    from ..service.job_service import JobService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What to write and where."""

    folder: Path
    #: Format names ("txt", "json", "srt", "vtt"), in the order they are written.
    formats: tuple[str, ...]
    #: TXT only: one line per segment with its start time instead of paragraphs.
    txt_timestamps: bool = False
    #: Language of the notices written where text is missing ("en" or "vi").
    ui_language: str = "en"


@dataclass(slots=True)
class ExportResult:
    """What an export wrote, and the jobs it could not write (with why)."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, SttdeskError]] = field(default_factory=list)


def unique_stems(names: Iterable[str]) -> list[str]:
    """File name stems for these job names, numbered where two would collide (case-insensitively)."""
    stems: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = Path(name).stem or "transcript"
        stem, number = base, 1
        while stem.casefold() in taken:
            number += 1
            stem = f"{base} ({number})"
        taken.add(stem.casefold())
        stems.append(stem)
    return stems


def export_jobs(service: JobService, job_ids: Sequence[str], options: ExportOptions) -> ExportResult:
    """Write every job's transcript in every format to ``options.folder`` (created if missing).

    A job that cannot be read or written (a full disk, a folder that cannot be
    made) is listed in ``failed`` with the typed error; the others are written.
    """
    for name in options.formats:
        get_format(name)  # an unknown format fails before anything is written
    result = ExportResult()
    views = []
    for job_id in job_ids:
        try:
            views.append(service.get(job_id))
        except SttdeskError as exc:
            result.failed.append((job_id, exc))
    for view, stem in zip(views, unique_stems(view.name for view in views)):
        try:
            transcript = service.transcript(view.id, partial=view.state != JobState.COMPLETED.value)
            for name in options.formats:
                exporter = get_format(name)
                extra = {"timestamps": options.txt_timestamps, "ui_language": options.ui_language} \
                    if exporter.name == "txt" else {}
                path = options.folder / f"{stem}{exporter.extension}"
                result.written.append(write_export(transcript, exporter.name, path, **extra))
        except SttdeskError as exc:
            log.warning("could not export %s: %s", view.name, exc)
            result.failed.append((view.name, exc))
    return result
