"""Fixtures for the engine tests: the real Whisper base model as f16, q8_0 and q5_0.

Each fixture returns an :class:`~sttdesk.engine.store.InstalledModel` (``.path``,
``.name``, ``.sha256``). The models come from the user's model store, where
``scripts/setup`` (``sttdesk models install-default``) puts "base" and
"base-q8_0"; whatever is not installed there is built once per test session
in a temporary store: converted from the PyPI packages, and q5_0 quantized
from the f16 file. The fixtures only read the user's store.

The fixtures depend on nothing but the root conftest's fixtures, so other test
packages can import them (``from tests.engine.conftest import base_q8_model``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sttdesk.engine.default_model import install_default
from sttdesk.engine.errors import ModelError
from sttdesk.engine.quantize import quantize_model
from sttdesk.engine.store import InstalledModel, ModelStore

BASE_F16 = "base"
BASE_Q8 = "base-q8_0"
BASE_Q5 = "base-q5_0"

_SUPPLY_KEY = pytest.StashKey["_ModelSupply"]()


class _ModelSupply:
    """Finds the real models in the user's store, or builds them once in a session store."""

    def __init__(self, real_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._real_models_dir = real_models_dir
        self._tmp_path_factory = tmp_path_factory
        self._session_store: ModelStore | None = None
        self._failure: str | None = None

    def _installed(self, name: str) -> InstalledModel | None:
        if not (self._real_models_dir / "manifest.json").is_file():
            return None
        store = ModelStore(self._real_models_dir)
        if not store.is_installed(name):
            return None
        try:
            store.path_for(name)  # present, right size, valid header
        except ModelError:
            return None
        return store.get(name)

    def _store(self) -> ModelStore:
        if self._session_store is None:
            self._session_store = ModelStore(self._tmp_path_factory.mktemp("engine-models"))
        return self._session_store

    def get(self, name: str) -> InstalledModel:
        model = self._installed(name)
        if model is not None:
            return model
        store = self._store()
        if store.is_installed(name):
            return store.get(name)
        if self._failure is not None:
            pytest.skip(self._failure)
        try:
            if name == BASE_Q5:
                return self._quantized_q5(store)
            self._install_default(store)
        except ModelError as error:
            self._failure = f"the Whisper base model could not be built: {error}"
            pytest.skip(self._failure)
        return store.get(name)

    def _install_default(self, store: ModelStore) -> None:
        work = self._tmp_path_factory.mktemp("engine-model-work")
        install_default(store, quantizations=("q8_0",), keep_f16=True, work_dir=work)

    def _quantized_q5(self, store: ModelStore) -> InstalledModel:
        f16 = self.get(BASE_F16)
        target = self._tmp_path_factory.mktemp("engine-q5") / "ggml-base-q5_0.bin"
        quantize_model(Path(f16.path), target, "q5_0")
        return store.import_file(target, BASE_Q5, move=True)


def _supply(
    request: pytest.FixtureRequest, real_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> _ModelSupply:
    stash = request.config.stash
    if _SUPPLY_KEY not in stash:
        stash[_SUPPLY_KEY] = _ModelSupply(real_models_dir, tmp_path_factory)
    return stash[_SUPPLY_KEY]


@pytest.fixture(scope="session")
def base_f16_model(
    request: pytest.FixtureRequest, real_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> InstalledModel:
    """Whisper base (multilingual) in ggml f16."""
    return _supply(request, real_models_dir, tmp_path_factory).get(BASE_F16)


@pytest.fixture(scope="session")
def base_q8_model(
    request: pytest.FixtureRequest, real_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> InstalledModel:
    """Whisper base quantized to q8_0 (the default model sttdesk installs)."""
    return _supply(request, real_models_dir, tmp_path_factory).get(BASE_Q8)


@pytest.fixture(scope="session")
def base_q5_model(
    request: pytest.FixtureRequest, real_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> InstalledModel:
    """Whisper base quantized to q5_0 (built from the f16 file for the tests)."""
    return _supply(request, real_models_dir, tmp_path_factory).get(BASE_Q5)
