"""Transcript exporters: one module per format behind one registry.

>>> export(transcript, "srt")                      # the text of an SRT file
>>> write_export(transcript, "vtt", "out/talk.vtt")  # written atomically, UTF-8

Formats: ``txt`` (plain paragraphs, optional timestamps), ``json`` (the versioned
``sttdesk.transcript/1`` schema), ``srt`` and ``vtt`` (subtitles laid out by
:mod:`.cues`). Options are keyword arguments of each format's function; an
unknown option or a bad value raises :class:`InvalidExportOptionError`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..transcript import Transcript
from .errors import ExportDiskFullError, ExportWriteError, InvalidExportOptionError, UnknownExportFormatError
from .json_format import from_json, to_json
from .srt import to_srt
from .txt import to_txt
from .vtt import to_vtt
from .writer import write_text_atomic

__all__ = [
    "EXPORTERS",
    "ExportDiskFullError",
    "ExportFormat",
    "ExportWriteError",
    "InvalidExportOptionError",
    "UnknownExportFormatError",
    "available_formats",
    "export",
    "from_json",
    "get_format",
    "write_export",
]


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """One export format: its name, file extension, media type and renderer."""

    name: str
    #: File name extension, with the dot.
    extension: str
    #: Media type for HTTP downloads.
    media_type: str
    #: ``render(transcript, **options) -> str``.
    render: Callable[..., str]
    #: Whether a UTF-8 byte order mark may be written (never for JSON: RFC 8259 forbids it).
    allows_bom: bool = True
    description: str = ""


#: Every export format by name, in the order front ends list them.
EXPORTERS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("txt", ".txt", "text/plain; charset=utf-8", to_txt, description="Plain text"),
        ExportFormat(
            "json", ".json", "application/json", to_json, allows_bom=False, description="JSON (sttdesk.transcript/1)"
        ),
        ExportFormat("srt", ".srt", "application/x-subrip; charset=utf-8", to_srt, description="SubRip subtitles"),
        ExportFormat("vtt", ".vtt", "text/vtt; charset=utf-8", to_vtt, description="WebVTT subtitles"),
    )
}
_ALIASES = {"text": "txt", "webvtt": "vtt", "subrip": "srt"}


def available_formats() -> tuple[str, ...]:
    """The names of every export format ("txt", "json", "srt", "vtt")."""
    return tuple(EXPORTERS)


def get_format(name: str) -> ExportFormat:
    """The format called ``name`` (any case, a leading dot allowed: ".SRT")."""
    key = str(name).strip().lower().lstrip(".")
    key = _ALIASES.get(key, key)
    try:
        return EXPORTERS[key]
    except KeyError:
        raise UnknownExportFormatError(format=name, available=", ".join(EXPORTERS)) from None


def export(transcript: Transcript, fmt: str, **options: Any) -> str:
    """The transcript rendered in format ``fmt`` with that format's ``options``."""
    exporter = get_format(fmt)
    try:
        inspect.signature(exporter.render).bind(transcript, **options)
    except TypeError as exc:
        allowed = [p for p in inspect.signature(exporter.render).parameters if p != "transcript"]
        raise InvalidExportOptionError(
            f"{exc}; options are: {', '.join(allowed) or 'none'}", format=exporter.name.upper()
        ) from None
    return exporter.render(transcript, **options)


def write_export(
    transcript: Transcript, fmt: str, path: str | os.PathLike[str], *, bom: bool = False, **options: Any
) -> Path:
    """Render ``transcript`` as ``fmt`` and write it atomically to ``path`` (UTF-8, no BOM by default)."""
    exporter = get_format(fmt)
    if bom and not exporter.allows_bom:
        raise InvalidExportOptionError("a byte order mark is not allowed in this format", format=exporter.name.upper())
    return write_text_atomic(path, export(transcript, exporter.name, **options), bom=bom)
