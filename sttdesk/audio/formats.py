"""Which file names and declared types can be recordings, known without opening the file.

ffprobe has the last word on every file; these checks only refuse, at once and
for free, what cannot be a recording: an upload named ``report.pdf`` or sent as
``text/plain``. Folders dropped on the desktop app are searched for the same
extensions.
"""

from __future__ import annotations

from pathlib import PurePath

from .errors import UnsupportedFileTypeError

#: Extensions of the audio and video files ffmpeg reads that people record or receive.
MEDIA_EXTENSIONS = frozenset({
    ".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".oga", ".opus", ".wma", ".aiff", ".aif", ".amr",
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".mpg", ".mpeg", ".3gp", ".ts", ".mts",
})
#: Declared types (MIME major types) of files that are never recordings.
NON_MEDIA_MAJOR_TYPES = frozenset({"text", "image", "font", "model", "message", "multipart"})
#: Declared types that say nothing about the content (any extension decides then).
UNTYPED_MEDIA_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def is_media_name(name: str) -> bool:
    """True when ``name`` ends with the extension of an audio or video file."""
    return PurePath(name).suffix.lower() in MEDIA_EXTENSIONS


def check_media_type(name: str, content_type: str | None = None) -> None:
    """Refuse a file whose name or declared type cannot be a recording (UnsupportedFileTypeError).

    A media extension is required, except for a name without any extension
    whose declared type is ``audio/*`` or ``video/*``. A media extension
    declared as text or an image is refused too: the sender says it is not
    a recording.
    """
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    major = declared.partition("/")[0]
    suffix = PurePath(name).suffix.lower()
    if major in NON_MEDIA_MAJOR_TYPES:
        raise UnsupportedFileTypeError(name=name, detail=f"sent as {declared}")
    if suffix in MEDIA_EXTENSIONS:
        return
    if not suffix and major in ("audio", "video"):
        return
    detail = f"the extension '{suffix}'" if suffix else "the name has no extension"
    if declared not in UNTYPED_MEDIA_TYPES:
        detail += f", sent as {declared}"
    raise UnsupportedFileTypeError(name=name, detail=detail)
