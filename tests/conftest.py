"""Shared fixtures: isolated sttdesk folders per test, the real model, test audio."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"
#: Real recordings with reference transcripts, beside the repository (not shipped).
SHARED_AUDIO = REPO_ROOT.parent / "shared" / "audio" / "dev"

# The real models folder of this user, captured before any test redirects it:
# tests that need the real whisper model read it from there (never write to it).
_paths_at_start = None


def _real_models_dir() -> Path:
    global _paths_at_start
    if _paths_at_start is None:
        from sttdesk.paths import default_paths

        _paths_at_start = default_paths().models_dir
    return _paths_at_start


_real_models_dir()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point sttdesk's data, config and cache folders at a fresh temp folder."""
    home = tmp_path_factory.mktemp("sttdesk-home")
    monkeypatch.setenv("STTDESK_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("STTDESK_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("STTDESK_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("STTDESK_MODELS_DIR", str(home / "models"))
    # No test browses the real network for agents; the LAN tests turn it on inside namespaces.
    monkeypatch.setenv("STTDESK_NETWORK__DISCOVERY", "false")
    return home


@pytest.fixture(scope="session")
def real_models_dir() -> Path:
    """The user's installed models (read only), where scripts/setup put the default model."""
    return _real_models_dir()


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    """``../shared/audio/dev``; tests using it skip with a reason where it is absent."""
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"shared recordings not found at {SHARED_AUDIO}")
    return SHARED_AUDIO


@pytest.fixture(scope="session")
def vi_audio(shared_audio: Path) -> Path:
    """The Vietnamese VIVOS clips (non-commercial: read from ../shared only, never copied)."""
    folder = shared_audio / "vi"
    if not (folder / "transcripts.tsv").is_file():
        pytest.skip("Vietnamese VIVOS clips not present in ../shared/audio/dev/vi (licence forbids copying them)")
    return folder


def read_transcripts(folder: Path) -> dict[str, str]:
    """``transcripts.tsv`` of a folder as {file name: reference text}."""
    refs: dict[str, str] = {}
    for line in (folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            name, text = line.split("\t", 1)
            refs[name] = text
    return refs


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def en_audio() -> Path:
    """The English dev recordings copied into tests/data/en (public domain and CC BY 4.0; see SOURCES.md there)."""
    return TEST_DATA / "en"
