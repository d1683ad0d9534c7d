"""Which files a drop (or "Add files…") means: dropped files as they are, folders searched for media."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QMimeData

from ..audio.formats import MEDIA_EXTENSIONS

log = logging.getLogger(__name__)

# Dropped folders are searched for MEDIA_EXTENSIONS. A file dropped on its own
# is always tried, whatever its name: ffprobe has the last word.
#: Most files one dropped folder may add (a drop on a whole disk is a mistake, not a request).
MAX_FILES_PER_DROP = 5000

#: Filter for the "Add files…" dialog, built from the same list.
MEDIA_FILTER_PATTERNS = " ".join(f"*{ext}" for ext in sorted(MEDIA_EXTENSIONS))


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders a drag carries (remote URLs are ignored)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def expand_paths(paths: Iterable[Path], *, limit: int = MAX_FILES_PER_DROP) -> list[Path]:
    """Files to add: each dropped file, and the media files inside dropped folders (sorted, recursive).

    Hidden files and folders inside a dropped folder are skipped; a file is
    listed once however often it was dropped. Runs on a worker thread: a large
    folder takes a while to walk.
    """
    seen: set[Path] = set()
    files: list[Path] = []

    def add(path: Path) -> bool:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)
        return len(files) < limit

    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith(".") or Path(name).suffix.lower() not in MEDIA_EXTENSIONS:
                        continue
                    if not add(Path(root) / name):
                        log.warning("stopped looking in %s after %d files", path, limit)
                        return files
        elif not add(path):
            return files
    return files
