"""The model store: import, install, verify, remove, defaults; atomic and shared between processes."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from sttdesk.engine.catalog import Catalog, load_catalog
from sttdesk.engine.download import part_path
from sttdesk.engine.errors import (
    ChecksumMismatchError,
    CorruptModelError,
    DownloadError,
    InvalidModelNameError,
    ModelError,
    ModelExistsError,
    ModelNotInstalledError,
    NetworkError,
    UnknownModelError,
)
from sttdesk.engine.ggml_format import (
    GgmlHeader,
    GgmlType,
    GgmlWriter,
    expected_tensors,
    file_type,
    stored_ftype,
)
from sttdesk.engine.store import (
    INCOMING_DIR,
    MANIFEST_NAME,
    ModelStatus,
    ModelStore,
    header_matches_entry,
    name_from_file,
)

REPO = Path(__file__).resolve().parents[2]


def write_model(path: Path, *, seed: int = 0, header: GgmlHeader | None = None, zeros: bool = False) -> Path:
    """A structurally valid whisper.cpp model file (random or zero weights)."""
    if header is None:
        # A tiny custom shape: every tensor whisper.cpp expects, about 100 kB in all.
        header = GgmlHeader(64, 8, 32, 2, 1, 8, 32, 2, 1, 80, stored_ftype(file_type("f16")))
    weight_type = header.file_type.weight_type
    rng = np.random.default_rng(seed)
    tokens = [f"t{i}".encode() for i in range(min(header.n_vocab, 64))]
    with GgmlWriter(path, header, np.full((header.n_mels, 201), 0.01, np.float32), tokens) as writer:
        for spec in expected_tensors(header).values():
            kind = spec.storage_type(weight_type)
            shape = tuple(reversed(spec.ne))
            if kind.is_quantized:
                row_bytes = spec.ne[0] // kind.block_size * kind.block_bytes
                writer.add_tensor(spec.name, shape, kind, np.zeros((*shape[:-1], row_bytes), np.uint8))
            elif zeros:
                writer.add_tensor(spec.name, shape, kind, np.zeros(shape, np.float32))
            else:
                writer.add_tensor(spec.name, shape, kind, rng.standard_normal(shape).astype(np.float32))
    return path


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return write_model(tmp_path / "src" / "ggml-mini.bin")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(store: ModelStore) -> list[str]:
    incoming = store.root / INCOMING_DIR
    return sorted(p.name for p in incoming.iterdir() if not p.name.endswith(".lock")) if incoming.is_dir() else []


# --- import -------------------------------------------------------------------


def test_import_validates_checksums_and_records_the_model(store: ModelStore, model_file: Path) -> None:
    model = store.import_file(model_file)
    assert model.name == "mini"  # from ggml-mini.bin
    assert model.path == store.root / "ggml-mini.bin" and model.path.read_bytes() == model_file.read_bytes()
    assert model.sha256 == _sha256(model_file) and model.size == model_file.stat().st_size
    assert model.source == "import" and model.model_size == "custom" and model.quantization == "f16"
    assert model.header["n_tensors"] > 20
    assert store.list() == [model]
    assert store.get("mini") == model
    assert store.path_for("mini") == model.path
    manifest = json.loads((store.root / MANIFEST_NAME).read_text())
    assert manifest["models"]["mini"]["sha256"] == model.sha256
    assert model_file.exists() and _leftovers(store) == []


def test_a_new_store_object_sees_what_another_installed(store: ModelStore, model_file: Path) -> None:
    store.import_file(model_file, "shared", source="convert")
    again = ModelStore(store.root)
    assert [m.name for m in again.list()] == ["shared"] and again.get("shared").source == "convert"


@pytest.mark.parametrize(
    ("content", "detail"),
    [(b"RIFF....WAVEfmt " + bytes(200), "wrong magic"), (b"", "wrong magic")],
)
def test_a_file_that_is_not_a_model_is_refused(store: ModelStore, tmp_path: Path, content, detail) -> None:
    bogus = tmp_path / "song.bin"
    bogus.write_bytes(content)
    with pytest.raises(CorruptModelError, match=detail) as caught:
        store.import_file(bogus)
    assert "hỏng" in caught.value.user_message("vi")
    assert store.list() == [] and not (store.root / "ggml-song.bin").exists()


def test_a_truncated_model_is_refused(store: ModelStore, model_file: Path, tmp_path: Path) -> None:
    cut = tmp_path / "ggml-cut.bin"
    cut.write_bytes(model_file.read_bytes()[:-1000])
    with pytest.raises(CorruptModelError, match="truncated"):
        store.import_file(cut)
    assert store.list() == [] and _leftovers(store) == []


def test_missing_source_is_a_clear_error(store: ModelStore, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is not a file"):
        store.import_file(tmp_path / "nothing.bin")


@pytest.mark.parametrize("name", ["../evil", "", ".hidden", "a/b", "x" * 101, "-dash"])
def test_invalid_names_are_refused(store: ModelStore, model_file: Path, name: str) -> None:
    with pytest.raises(InvalidModelNameError) as caught:
        store.import_file(model_file, name)
    assert caught.value.code == "invalid_model_name"
    assert store.list() == []


def test_a_catalog_name_must_hold_that_catalog_model(store: ModelStore, model_file: Path) -> None:
    with pytest.raises(ModelError, match="catalog's name for base f16"):
        store.import_file(model_file, "base")


def test_importing_the_same_bytes_again_is_harmless(store: ModelStore, model_file: Path) -> None:
    first = store.import_file(model_file)
    again = store.import_file(model_file)
    assert again.sha256 == first.sha256 and len(store.list()) == 1


def test_a_different_model_under_an_installed_name_needs_replace(store: ModelStore, model_file, tmp_path) -> None:
    store.import_file(model_file)
    other = write_model(tmp_path / "other" / "ggml-mini.bin", seed=7)
    with pytest.raises(ModelExistsError) as caught:
        store.import_file(other)
    assert "mini" in caught.value.user_message("en")
    assert store.get("mini").sha256 == _sha256(model_file)
    replaced = store.import_file(other, replace=True)
    assert replaced.sha256 == _sha256(other) and store.verify("mini").sha256 == replaced.sha256


def test_move_takes_the_file_only_once_it_is_safe(store: ModelStore, model_file: Path, tmp_path: Path) -> None:
    store.import_file(model_file, move=True)
    assert not model_file.exists() and store.path_for("mini").is_file()
    bad = tmp_path / "ggml-bad.bin"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(CorruptModelError):
        store.import_file(bad, move=True)
    assert bad.read_bytes() == b"not a model at all"  # left where it was


def test_name_from_file() -> None:
    assert name_from_file(Path("/x/ggml-large-v3-turbo-q5_0.bin")) == "large-v3-turbo-q5_0"
    assert name_from_file(Path("phowhisper-small.bin")) == "phowhisper-small"


# --- corruption ---------------------------------------------------------------


def test_changed_bytes_are_caught_by_a_full_verify(store: ModelStore, model_file: Path) -> None:
    model = store.import_file(model_file)
    data = bytearray(model.path.read_bytes())
    data[-500] ^= 0xFF  # inside the last tensor's data: size and structure stay valid
    model.path.write_bytes(bytes(data))
    assert store.path_for("mini") == model.path  # the quick check cannot see it
    store.verify("mini", full=False)
    with pytest.raises(ChecksumMismatchError) as caught:
        store.verify("mini")
    assert caught.value.fields["expected"] == model.sha256


def test_a_truncated_installed_file_is_never_handed_out(store: ModelStore, model_file: Path) -> None:
    model = store.import_file(model_file)
    with model.path.open("r+b") as handle:
        handle.truncate(model.size // 2)
    with pytest.raises(CorruptModelError, match="bytes"):
        store.path_for("mini")
    with pytest.raises(CorruptModelError):
        store.verify("mini", full=False)
    assert store.overview()[-1].status is ModelStatus.DAMAGED


def test_a_damaged_header_is_never_handed_out(store: ModelStore, model_file: Path) -> None:
    model = store.import_file(model_file)
    with model.path.open("r+b") as handle:
        handle.write(b"XXXX")
    with pytest.raises(CorruptModelError, match="magic"):
        store.path_for("mini")


def test_a_deleted_file_is_reported(store: ModelStore, model_file: Path) -> None:
    store.import_file(model_file).path.unlink()
    with pytest.raises(CorruptModelError, match="missing"):
        store.path_for("mini")


def test_a_damaged_manifest_is_a_clear_error(store: ModelStore, model_file: Path) -> None:
    store.import_file(model_file)
    (store.root / MANIFEST_NAME).write_text("{ half a manif")
    with pytest.raises(ModelError, match="damaged"):
        store.list()


# --- remove and default -------------------------------------------------------


def test_remove_forgets_and_deletes(store: ModelStore, model_file: Path) -> None:
    path = store.import_file(model_file).path
    store.set_default("mini")
    store.remove("mini")
    assert store.list() == [] and not path.exists() and store.default_name is None
    with pytest.raises(ModelNotInstalledError):
        store.remove("mini")
    with pytest.raises(ModelNotInstalledError) as caught:
        store.path_for("mini")
    assert "sttdesk models install mini" in caught.value.user_message("en")


def test_default_is_persisted_and_must_be_installed(store: ModelStore, model_file: Path) -> None:
    assert store.default_name is None
    with pytest.raises(ModelNotInstalledError):
        store.set_default("mini")
    store.import_file(model_file)
    store.set_default("mini")
    assert ModelStore(store.root).default_name == "mini"
    store.set_default(None)
    assert store.default_name is None


def test_default_store_lives_in_the_models_folder(isolated_dirs: Path) -> None:
    assert ModelStore.default().root == Path(os.environ["STTDESK_MODELS_DIR"])


def test_overview_merges_catalog_and_store(store: ModelStore, model_file: Path) -> None:
    store.import_file(model_file)
    store.set_default("mini")
    rows = store.overview(recommended="small-q8_0")
    catalog = load_catalog()
    assert [r.name for r in rows[: len(catalog)]] == catalog.names()
    assert all(r.status is ModelStatus.AVAILABLE and r.installed is None for r in rows[: len(catalog)])
    assert [r.name for r in rows if r.is_recommended] == ["small-q8_0"]
    mine = rows[-1]
    assert (mine.name, mine.status, mine.entry, mine.is_default) == ("mini", ModelStatus.INSTALLED, None, True)


# --- atomicity ----------------------------------------------------------------


def test_a_failure_mid_copy_leaves_no_half_model(store: ModelStore, model_file: Path, monkeypatch) -> None:
    monkeypatch.setattr("sttdesk.engine.store.COPY_CHUNK_BYTES", 4096)

    def progress(done: int, total: int | None) -> None:
        if done > 8192:
            raise OSError("source disk went away")

    with pytest.raises(OSError, match="went away"):
        store.import_file(model_file, progress=progress)
    assert store.list() == [] and not (store.root / "ggml-mini.bin").exists()
    assert _leftovers(store) == []


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_import_leaves_no_half_model_and_its_leftovers_are_cleaned(store, model_file) -> None:
    child = _python(
        """
        import sys, time
        from pathlib import Path
        import sttdesk.engine.store as store_module
        store_module.COPY_CHUNK_BYTES = 4096
        def progress(done, total):
            if done >= 3 * 4096:
                print("copying", flush=True)
                time.sleep(120)
        store_module.ModelStore(Path(sys.argv[1])).import_file(Path(sys.argv[2]), "victim", progress=progress)
        """,
        str(store.root),
        str(model_file),
    )
    try:
        assert child.stdout.readline().strip() == "copying", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    # Half a file sits in .incoming, where nothing loads from; the store knows nothing of it.
    half = [store.root / INCOMING_DIR / n for n in _leftovers(store)]
    assert len(half) == 1 and 0 < half[0].stat().st_size < model_file.stat().st_size
    assert store.list() == [] and not (store.root / "ggml-victim.bin").exists()
    assert store.clean_leftovers() == half and _leftovers(store) == []
    # The next import works as if nothing happened.
    assert store.import_file(model_file, "victim").sha256 == _sha256(model_file)


def test_concurrent_imports_from_two_processes_keep_every_entry(store, tmp_path: Path) -> None:
    per_process = 6
    sources = [write_model(tmp_path / "src" / f"ggml-m{i}.bin", seed=i) for i in range(2 * per_process)]
    code = """
        import sys
        from pathlib import Path
        from sttdesk.engine.store import ModelStore
        store = ModelStore(Path(sys.argv[1]))
        for src in sys.argv[2:]:
            store.import_file(Path(src))
        print("done", flush=True)
        """
    children = [
        _python(code, str(store.root), *map(str, sources[k::2])) for k in range(2)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == "done"
    names = [m.name for m in store.list()]
    assert names == sorted(f"m{i}" for i in range(2 * per_process))
    for i, src in enumerate(sources):
        assert store.verify(f"m{i}").sha256 == _sha256(src)


# --- install from a server ----------------------------------------------------


class _Files(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    files: ClassVar[dict[str, bytes]] = {}
    requests: ClassVar[list[str]] = []
    cut_once: ClassVar[set[str]] = set()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).requests.append(f"{self.path} {self.headers.get('Range') or ''}".strip())
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if self.path in self.cut_once:
            self.cut_once.discard(self.path)
            self.files[self.path + "#down"] = b""  # further requests fail until the test says so
            self.wfile.write(data[start : start + len(data) // 3])
            return
        if self.path + "#down" in self.files:
            return  # headers, then nothing: the connection drops at once
        self.wfile.write(data[start:])


@pytest.fixture
def file_server() -> Iterator[str]:
    _Files.files, _Files.requests, _Files.cut_once = {}, [], set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def tiny_q8_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file with whisper tiny's exact shape, stored as q8_0 (zero weights, ~43 MB)."""
    header = GgmlHeader(51865, 1500, 384, 6, 4, 448, 384, 6, 4, 80, stored_ftype(file_type("q8_0")))
    return write_model(tmp_path_factory.mktemp("tiny") / "ggml-tiny-q8_0.bin", header=header, zeros=True)


def _catalog_serving(path: Path, name: str, *, checksum: bool = True) -> Catalog:
    data = path.read_bytes()
    entry = dataclasses.replace(
        load_catalog().get(name),
        size_bytes=len(data) if checksum else None,
        sha1=hashlib.sha1(data).hexdigest() if checksum else None,
    )
    return Catalog([entry])


def test_install_downloads_verifies_and_records(tmp_path, file_server, tiny_q8_file) -> None:
    _Files.files["/ggml-tiny-q8_0.bin"] = tiny_q8_file.read_bytes()
    store = ModelStore(tmp_path / "models", catalog=_catalog_serving(tiny_q8_file, "tiny-q8_0"))
    seen: list[int] = []
    model = store.install("tiny-q8_0", base_url=file_server, progress=lambda d, t: seen.append(d))
    assert model.path.read_bytes() == tiny_q8_file.read_bytes()
    assert (model.model_size, model.quantization, model.source) == ("tiny", "q8_0", "mirror")
    assert model.sha1 == hashlib.sha1(tiny_q8_file.read_bytes()).hexdigest()
    assert model.url == f"{file_server}/ggml-tiny-q8_0.bin" and seen[-1] == model.size
    assert _leftovers(store) == []
    # Installed and whole: a second install does nothing.
    assert store.install("tiny-q8_0", base_url=file_server) == model
    assert _Files.requests == ["/ggml-tiny-q8_0.bin"]


def test_an_interrupted_install_resumes(tmp_path, file_server, tiny_q8_file, monkeypatch) -> None:
    monkeypatch.setattr("sttdesk.engine.download.RETRY_DELAY_S", 0.01)
    data = tiny_q8_file.read_bytes()
    _Files.files["/ggml-tiny-q8_0.bin"] = data
    _Files.cut_once.add("/ggml-tiny-q8_0.bin")
    store = ModelStore(tmp_path / "models", catalog=_catalog_serving(tiny_q8_file, "tiny-q8_0"))
    with pytest.raises(NetworkError):
        store.install("tiny-q8_0", base_url=file_server)
    staged = store.root / INCOMING_DIR / "ggml-tiny-q8_0.bin"
    assert part_path(staged).stat().st_size == len(data) // 3
    assert store.list() == []
    del _Files.files["/ggml-tiny-q8_0.bin#down"]
    model = store.install("tiny-q8_0", base_url=file_server)
    assert _Files.requests[-1] == f"/ggml-tiny-q8_0.bin bytes={len(data) // 3}-"
    assert store.verify(model.name).sha256 == hashlib.sha256(data).hexdigest()


def test_install_refuses_a_download_that_is_another_model(tmp_path, file_server, model_file) -> None:
    # No checksum in this catalog, so only the header can tell the file is wrong.
    _Files.files["/ggml-tiny-q8_0.bin"] = model_file.read_bytes()
    store = ModelStore(tmp_path / "models", catalog=_catalog_serving(model_file, "tiny-q8_0", checksum=False))
    with pytest.raises(CorruptModelError, match="custom f16 model, not tiny-q8_0"):
        store.install("tiny-q8_0", base_url=file_server)
    assert store.list() == [] and _leftovers(store) == []


def test_install_with_wrong_bytes_fails_the_checksum(tmp_path, file_server, tiny_q8_file) -> None:
    data = bytearray(tiny_q8_file.read_bytes())
    data[-10] ^= 1
    _Files.files["/ggml-tiny-q8_0.bin"] = bytes(data)
    store = ModelStore(tmp_path / "models", catalog=_catalog_serving(tiny_q8_file, "tiny-q8_0"))
    with pytest.raises(ChecksumMismatchError):
        store.install("tiny-q8_0", base_url=file_server)
    assert store.list() == [] and _leftovers(store) == []


def test_install_of_a_missing_file_or_unknown_name(tmp_path, file_server) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DownloadError, match="404"):
        store.install("base-q8_0", base_url=file_server)
    with pytest.raises(UnknownModelError) as caught:
        store.install("base-q9_9")
    assert "base-q9_9" in caught.value.user_message("vi")


def test_header_matches_entry_tells_large_v1_and_v2_apart_only_by_name(tiny_q8_file) -> None:
    catalog = load_catalog()
    large = GgmlHeader(51865, 1500, 1280, 20, 32, 448, 1280, 20, 32, 80, stored_ftype(file_type("q5_0")))
    assert header_matches_entry(large, catalog.get("large-v2-q5_0"))
    assert not header_matches_entry(large, catalog.get("large-v3-q5_0"))
    assert not header_matches_entry(large, catalog.get("large-v2-q8_0"))
    assert GgmlType.Q8_0.is_quantized
