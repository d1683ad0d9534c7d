"""The offline default model: from the two PyPI packages to installed base f16 / q8_0 / q5_0."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sttdesk.engine import default_model
from sttdesk.engine.default_model import (
    INSTALL_HINT,
    JOINED_SHA256,
    DefaultModelSource,
    OfflineModelMissingError,
    install_default,
    join_parts,
    locate_packages,
)
from sttdesk.engine.errors import ChecksumMismatchError, ConversionError, DiskFullError, ModelNotInstalledError
from sttdesk.engine.ggml_format import read_header
from sttdesk.engine.store import ModelStore
from tests.engine.tiny_models import small_filesystem, whisper_cpp_transcribe

JFK_WORDS = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def packages() -> DefaultModelSource:
    try:
        return locate_packages()
    except OfflineModelMissingError as exc:
        pytest.skip(f"offline model packages not installed: {exc.detail}")


@pytest.fixture(scope="module")
def installed_store(tmp_path_factory: pytest.TempPathFactory, packages: DefaultModelSource) -> ModelStore:
    store = ModelStore(tmp_path_factory.mktemp("models"))
    install_default(store, quantizations=("q8_0", "q5_0"), source=packages, work_dir=tmp_path_factory.mktemp("work"))
    return store


def test_locates_the_pinned_packages(packages: DefaultModelSource) -> None:
    assert packages.version == "1.0.0"
    assert [p.name for p in packages.parts] == ["model.bin.part1", "model.bin.part2"]
    assert (packages.side_dir / "tokenizer.json").is_file()


@pytest.mark.slow
def test_installs_base_f16_and_quantized(installed_store: ModelStore) -> None:
    names = {m.name: m for m in installed_store.list()}
    assert set(names) == {"base", "base-q8_0", "base-q5_0"}
    for name, quantization in (("base", "f16"), ("base-q8_0", "q8_0"), ("base-q5_0", "q5_0")):
        header = read_header(names[name].path)
        assert (header.model_size, header.quantization) == ("base", quantization)
        assert names[name].source == "pypi"
        installed_store.verify(name)  # size, header and sha256 as recorded
    assert names["base"].size == 147_951_465  # the size of whisper.cpp's published ggml-base.bin
    # nothing left over beside the models
    assert not list(installed_store.root.glob("*.part"))


@pytest.mark.slow
def test_installed_q8_0_transcribes_jfk(installed_store: ModelStore, en_audio: Path) -> None:
    model = installed_store.get("base-q8_0")
    assert words(whisper_cpp_transcribe(model.path, en_audio / "jfk.wav")) == JFK_WORDS


@pytest.mark.slow
def test_second_install_does_nothing(installed_store: ModelStore, tmp_path: Path) -> None:
    before = {m.name: (m.path.stat().st_mtime_ns, m.sha256) for m in installed_store.list()}
    calls: list[tuple[int, int]] = []
    bogus = DefaultModelSource((tmp_path / "a", tmp_path / "b"), tmp_path, "1.0.0")  # would fail if used
    models = install_default(
        installed_store,
        quantizations=("q8_0", "q5_0"),
        progress=lambda d, t: calls.append((d, t)),
        source=bogus,
        work_dir=tmp_path,
    )
    assert [m.name for m in models] == ["base", "base-q8_0", "base-q5_0"]
    assert calls == []
    assert {m.name: (m.path.stat().st_mtime_ns, m.sha256) for m in installed_store.list()} == before


@pytest.mark.slow
def test_new_quantization_reuses_the_installed_f16(
    installed_store: ModelStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = ModelStore(tmp_path_factory.mktemp("models-reuse"))
    base = installed_store.get("base")
    store.import_file(base.path, "base", source="pypi")
    work = tmp_path_factory.mktemp("work-reuse")
    bogus = DefaultModelSource((work / "a", work / "b"), work, "1.0.0")  # the packages are not needed
    models = install_default(store, quantizations=("q5_1",), source=bogus, work_dir=work)
    assert [m.name for m in models] == ["base", "base-q5_1"]
    assert read_header(store.get("base-q5_1").path).quantization == "q5_1"
    assert list(work.iterdir()) == []


@pytest.mark.slow
def test_damaged_model_is_installed_again(
    installed_store: ModelStore, packages: DefaultModelSource, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = ModelStore(tmp_path_factory.mktemp("models-damaged"))
    store.import_file(installed_store.get("base-q8_0").path, "base-q8_0", source="pypi")
    path = store.get("base-q8_0").path
    path.write_bytes(path.read_bytes()[:10_000_000])
    models = install_default(store, keep_f16=False, source=packages, work_dir=tmp_path_factory.mktemp("work-damaged"))
    assert [m.name for m in models] == ["base-q8_0"]
    store.verify("base-q8_0")
    with pytest.raises(ModelNotInstalledError):
        store.get("base")  # keep_f16=False: the f16 file was only an intermediate


@pytest.mark.slow
def test_progress_runs_to_the_end(packages: DefaultModelSource, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    install_default(
        ModelStore(tmp_path / "models"),
        keep_f16=False,
        progress=lambda d, t: calls.append((d, t)),
        source=packages,
        work_dir=tmp_path / "work",
    )
    assert len(calls) > 20
    assert len({t for _, t in calls}) == 1
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))
    assert calls[-1][0] == calls[-1][1]


# --- when things are missing or wrong -------------------------------------------------------


def test_missing_packages_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(OfflineModelMissingError) as caught:
        locate_packages(distributions=("sttdesk-no-such-part1", "sttdesk-no-such-part2"))
    assert "sttdesk-no-such-part1 is not installed" in caught.value.detail
    assert INSTALL_HINT in caught.value.user_message("en")
    assert INSTALL_HINT in caught.value.user_message("vi")
    assert caught.value.code == "offline_model_missing" and not caught.value.transient

    real_locate = default_model.locate_packages
    monkeypatch.setattr(
        default_model, "locate_packages", lambda: real_locate(modules=("sttdesk_no_such_1", "sttdesk_no_such_2"))
    )
    store = ModelStore(tmp_path / "models")
    with pytest.raises(OfflineModelMissingError, match="data is missing"):
        install_default(store, work_dir=tmp_path / "work")
    assert store.list() == []
    assert list((tmp_path / "work").iterdir()) == []


def test_wrong_package_version(packages: DefaultModelSource) -> None:
    with pytest.raises(OfflineModelMissingError, match="1.0.0 is installed, sttdesk needs 2.0.0"):
        locate_packages(version="2.0.0")


def test_checksum_mismatch(tmp_path: Path, packages: DefaultModelSource) -> None:
    parts = (tmp_path / "p1", tmp_path / "p2")
    parts[0].write_bytes(b"not the")
    parts[1].write_bytes(b" model")
    bad = DefaultModelSource(parts, packages.side_dir, "1.0.0")
    with pytest.raises(ChecksumMismatchError) as caught:
        join_parts(bad, tmp_path / "joined")
    assert caught.value.fields["expected"] == JOINED_SHA256
    assert JOINED_SHA256 in caught.value.user_message("en")
    assert list((tmp_path / "joined").iterdir()) == []

    # scratch left by an install that was killed is cleaned up; one of a live process is not
    stale = tmp_path / "work" / "sttdesk-default-model-999999999-x"
    live = tmp_path / "work" / f"sttdesk-default-model-{os.getppid()}-y"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "ggml-base.bin").write_bytes(b"partial")
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ChecksumMismatchError):
        install_default(store, source=bad, work_dir=tmp_path / "work")
    assert store.list() == []
    assert list((tmp_path / "work").iterdir()) == [live]


def test_unknown_quantization_is_refused_before_any_work(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ConversionError, match="unknown quantization 'q9'"):
        install_default(store, quantizations=("q9",), work_dir=tmp_path / "work")
    with pytest.raises(ConversionError, match="nothing to install"):
        install_default(store, quantizations=(), keep_f16=False, work_dir=tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_full_disk_while_joining(tmp_path: Path, packages: DefaultModelSource) -> None:
    with small_filesystem(tmp_path / "small", "20m") as folder:
        with pytest.raises(DiskFullError) as caught:
            join_parts(packages, folder / "ct2")
        assert str(folder / "ct2") in caught.value.user_message("en")
        assert list((folder / "ct2").iterdir()) == []
