"""The models an agent can run: announced in READY, looked up for each chunk.

A chunk names its model by name *and* sha256, so an agent never runs a file
that merely shares a name with the one the coordinator meant.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..domain.errors import SttdeskError
from ..protocol import ModelInfo, ModelRef

log = logging.getLogger(__name__)

#: A catalog re-reads the model store at most this often when a chunk asks for a model it
#: does not list (models installed while the agent runs are found without a restart).
RESCAN_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A model file on this machine."""

    name: str
    sha256: str
    size: int
    #: The ggml file; None for the fake engine's models, which have no file.
    path: Path | None

    @property
    def ref(self) -> ModelRef:
        return ModelRef(name=self.name, sha256=self.sha256)

    def info(self) -> ModelInfo:
        """The model as READY announces it."""
        return ModelInfo(name=self.name, sha256=self.sha256, size=self.size)


class ModelCatalog(Protocol):
    """Where an agent finds its models."""

    def models(self) -> tuple[LocalModel, ...]:
        """The models known right now, without touching the disk (the socket loop calls it)."""
        ...

    def find(self, ref: ModelRef) -> LocalModel | None:
        """The model with exactly this name and sha256, or None; may read the disk (slot threads call it)."""
        ...


class StoreCatalog:
    """The models of a :class:`sttdesk.engine.store.ModelStore` folder; thread-safe."""

    def __init__(
        self,
        models_dir: Path,
        *,
        rescan_interval: float = RESCAN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from ..engine.store import ModelStore

        self._store = ModelStore(models_dir)
        self._rescan_interval = rescan_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._models: tuple[LocalModel, ...] = ()
        self._scanned_at: float | None = None
        self.rescan()

    def rescan(self) -> tuple[LocalModel, ...]:
        """Read the store's manifest again; a damaged manifest counts as no models (and is logged)."""
        try:
            installed = self._store.list()
        except SttdeskError as exc:
            log.error("cannot read the installed models in %s: %s", self._store.root, exc.user_message("en"))
            installed = []
        models = tuple(LocalModel(m.name, m.sha256, m.size, m.path) for m in installed)
        with self._lock:
            changed = models != self._models
            self._models = models
            self._scanned_at = self._clock()
        if changed:
            log.info("models: %s", ", ".join(f"{m.name} ({m.sha256[:12]})" for m in models) or "none")
        return models

    def models(self) -> tuple[LocalModel, ...]:
        with self._lock:
            return self._models

    def find(self, ref: ModelRef) -> LocalModel | None:
        model = _match(self.models(), ref)
        if model is not None:
            return model
        with self._lock:
            due = self._scanned_at is None or self._clock() - self._scanned_at >= self._rescan_interval
        if due:
            model = _match(self.rescan(), ref)
        return model


class FixedCatalog:
    """A catalog with a fixed list of models (the fake engine's)."""

    def __init__(self, models: Iterable[LocalModel]) -> None:
        self._models = tuple(models)

    def models(self) -> tuple[LocalModel, ...]:
        return self._models

    def find(self, ref: ModelRef) -> LocalModel | None:
        return _match(self._models, ref)


class ChainedCatalog:
    """Several catalogs as one (the fake engine's made-up models plus a real store)."""

    def __init__(self, *catalogs: ModelCatalog) -> None:
        self._catalogs = catalogs

    def models(self) -> tuple[LocalModel, ...]:
        return tuple(m for catalog in self._catalogs for m in catalog.models())

    def find(self, ref: ModelRef) -> LocalModel | None:
        for catalog in self._catalogs:
            model = catalog.find(ref)
            if model is not None:
                return model
        return None


def fake_model(name: str, sha256: str | None = None) -> LocalModel:
    """A model for the fake engine; its sha256 is derived from the name unless given."""
    digest = sha256 or hashlib.sha256(f"sttdesk fake model {name}".encode()).hexdigest()
    return LocalModel(name=name, sha256=digest, size=0, path=None)


def _match(models: Iterable[LocalModel], ref: ModelRef) -> LocalModel | None:
    for model in models:
        if model.name == ref.name and model.sha256 == ref.sha256:
            return model
    return None
