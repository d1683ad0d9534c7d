"""The models installed on this machine: a folder of ggml files and a manifest.

Layout of the store folder (``STTDESK_MODELS_DIR``, by default under the user
data folder)::

    manifest.json          name -> file, size, sha256, sha1, source, time, header summary
    .manifest.lock         flock()ed around every manifest change
    ggml-<name>.bin        the model files
    .incoming/             files being copied or downloaded (never loaded from here)

Every model file arrives through ``.incoming``: written there, fsynced,
validated with :func:`sttdesk.engine.ggml_format.read_header`, then renamed into
place and recorded in the manifest under the lock. So a model is never
half-written, and several processes (the app, an agent, the CLI) can share one
store without losing each other's manifest entries. The manifest itself is
replaced atomically (temp file, fsync, rename). A file whose size or header no
longer matches the manifest is reported as corrupt and never handed out.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from ..paths import default_paths
from . import download as downloads
from .catalog import Catalog, CatalogEntry, load_catalog
from .errors import (
    ChecksumMismatchError,
    CorruptModelError,
    DiskFullError,
    InvalidModelNameError,
    ModelError,
    ModelExistsError,
    ModelNotInstalledError,
)
from .ggml_format import GgmlHeader, read_header

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
LOCK_NAME = ".manifest.lock"
INCOMING_DIR = ".incoming"
#: Bytes copied per step when importing a file (also the progress granularity).
COPY_CHUNK_BYTES = 1 << 20
#: Source recorded for models downloaded from the catalog's official URL.
SOURCE_HUGGINGFACE = "huggingface"
#: Source recorded for models downloaded from a mirror (``base_url``).
SOURCE_MIRROR = "mirror"
#: Source recorded for a file imported by the user.
SOURCE_IMPORT = "import"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TEMP_PREFIX = "tmp-"

#: ``progress(done_bytes, total_bytes)``, as for downloads.
ProgressCallback = Callable[[int, "int | None"], None]


class ModelStatus(str, Enum):
    """Where a model stands on this machine, for listings."""

    #: In the manifest and its file looks whole (size matches).
    INSTALLED = "installed"
    #: In the catalog, not installed.
    AVAILABLE = "available"
    #: In the manifest, but its file is missing or has the wrong size.
    DAMAGED = "damaged"


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """One model in the store, as the manifest records it."""

    name: str
    #: Absolute path of the ggml file.
    path: Path
    #: Size of the file in bytes.
    size: int
    #: SHA-256 of the file, computed when it was installed.
    sha256: str
    #: Where it came from: "huggingface", "mirror", "pypi", "import", "convert", ...
    source: str
    #: When it was installed (UTC).
    installed_at: datetime
    #: Summary of the ggml header: model_size, quantization, multilingual, n_mels, ...
    header: dict[str, Any] = field(default_factory=dict)
    #: SHA-1 of the file (what whisper.cpp publishes for its official files).
    sha1: str | None = None
    #: URL it was downloaded from, when it was downloaded.
    url: str | None = None

    @property
    def model_size(self) -> str:
        """Whisper size the file has the shape of ("base", "small.en", "custom", ...)."""
        return str(self.header.get("model_size", "custom"))

    @property
    def quantization(self) -> str:
        return str(self.header.get("quantization", ""))

    @property
    def multilingual(self) -> bool:
        return bool(self.header.get("multilingual", True))

    def to_dict(self) -> dict[str, Any]:
        """The manifest record (the name is the key, the file is relative to the store)."""
        return {
            "file": self.path.name,
            "size": self.size,
            "sha256": self.sha256,
            "sha1": self.sha1,
            "source": self.source,
            "url": self.url,
            "installed_at": self.installed_at.isoformat(timespec="seconds"),
            "header": dict(self.header),
        }


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One line of :meth:`ModelStore.overview`: a catalog and/or installed model."""

    name: str
    status: ModelStatus
    #: The catalog entry, or None for a model only found in the store (imported, converted).
    entry: CatalogEntry | None
    #: The installed model, or None when only available.
    installed: InstalledModel | None
    #: Whether this is the store's default model.
    is_default: bool = False
    #: Whether this is the model recommended for this machine (when one was given).
    is_recommended: bool = False


def validate_name(name: str) -> str:
    """Return ``name`` if it can name a model file, else raise InvalidModelNameError."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidModelNameError(f"invalid model name {name!r}", name=str(name))
    return name


def model_file_name(name: str) -> str:
    """The file a model called ``name`` is stored in: ``ggml-<name>.bin``."""
    return f"ggml-{validate_name(name)}.bin"


def name_from_file(path: Path) -> str:
    """The model name a file suggests: ``ggml-base-q8_0.bin`` -> ``base-q8_0``."""
    return Path(path).name.removesuffix(".bin").removeprefix("ggml-")


def header_summary(header: GgmlHeader) -> dict[str, Any]:
    """The header facts kept in the manifest."""
    return {
        "model_size": header.model_size,
        "quantization": header.quantization,
        "multilingual": header.is_multilingual,
        "n_vocab": header.n_vocab,
        "n_mels": header.n_mels,
        "n_audio_state": header.n_audio_state,
        "n_audio_layer": header.n_audio_layer,
        "n_text_layer": header.n_text_layer,
        "n_tensors": header.n_tensors,
    }


def header_matches_entry(header: GgmlHeader, entry: CatalogEntry) -> bool:
    """Whether a file with ``header`` is the model ``entry`` describes (size and quantization)."""
    wanted = entry.family + (".en" if entry.english_only else "")
    size_ok = header.model_size == wanted or (
        # large-v1 and large-v2 have the same shape; the file cannot tell them apart.
        header.model_size == "large" and entry.family in ("large-v1", "large-v2")
    )
    return size_ok and header.quantization == entry.quantization


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _disk_full(exc: OSError, folder: Path) -> DiskFullError:
    return DiskFullError(str(exc.strerror or exc), path=str(folder))


class ModelStore:
    """The models installed in one folder; safe to share between processes."""

    def __init__(self, root: Path, *, catalog: Catalog | None = None) -> None:
        self.root = Path(root)
        self._catalog = catalog

    @classmethod
    def default(cls, *, catalog: Catalog | None = None) -> ModelStore:
        """The store in this user's models folder (``STTDESK_MODELS_DIR`` overrides)."""
        return cls(default_paths().models_dir, catalog=catalog)

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def incoming(self) -> Path:
        return self.root / INCOMING_DIR

    def file_for(self, name: str) -> Path:
        """Where the model ``name`` is (or would be) stored."""
        return self.root / model_file_name(name)

    # --- the manifest -----------------------------------------------------

    def _read_manifest(self) -> dict[str, Any]:
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": MANIFEST_VERSION, "default": None, "models": {}}
        except OSError as exc:
            raise ModelError(f"cannot read the model list {self.manifest_path}: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"the model list {self.manifest_path} is damaged ({exc}); delete it and install the models again"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ModelError(f"the model list {self.manifest_path} is not in sttdesk's format")
        if data.get("version") != MANIFEST_VERSION:
            raise ModelError(
                f"the model list {self.manifest_path} has version {data.get('version')!r}; "
                f"this sttdesk reads version {MANIFEST_VERSION}"
            )
        return data

    def _write_manifest(self, data: dict[str, Any]) -> None:
        """Replace the manifest atomically; call with the lock held."""
        temp = self.root / f"{MANIFEST_NAME}.{os.getpid()}.tmp"
        payload = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.manifest_path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            if exc.errno == 28:  # ENOSPC
                raise _disk_full(exc, self.root) from exc
            raise ModelError(f"cannot write the model list {self.manifest_path}: {exc}") from exc
        _fsync_dir(self.root)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the store lock; yields the current manifest (re-read under the lock)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield self._read_manifest()
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _name_lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        """Serialise installs of one name across processes; yields False if busy (non-blocking)."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        with open(self.incoming / f"{name}.lock", "a+b") as lock:
            flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
            try:
                fcntl.flock(lock.fileno(), flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _record(self, name: str, raw: dict[str, Any]) -> InstalledModel:
        try:
            installed_at = datetime.fromisoformat(str(raw["installed_at"]))
            return InstalledModel(
                name=name,
                path=self.root / str(raw["file"]),
                size=int(raw["size"]),
                sha256=str(raw["sha256"]),
                source=str(raw.get("source", "")),
                installed_at=installed_at,
                header=dict(raw.get("header") or {}),
                sha1=raw.get("sha1"),
                url=raw.get("url"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the model list entry for '{name}' is damaged ({exc})") from exc

    # --- reading ----------------------------------------------------------

    def list(self) -> list[InstalledModel]:
        """Every installed model, by name."""
        models = self._read_manifest()["models"]
        return [self._record(name, models[name]) for name in sorted(models)]

    def is_installed(self, name: str) -> bool:
        return name in self._read_manifest()["models"]

    def get(self, name: str) -> InstalledModel:
        """The installed model ``name``; ModelNotInstalledError if it is not installed."""
        raw = self._read_manifest()["models"].get(name)
        if raw is None:
            raise ModelNotInstalledError(f"'{name}' is not installed", name=name)
        return self._record(name, raw)

    @property
    def default_name(self) -> str | None:
        """The model chosen as default, if it is still installed."""
        data = self._read_manifest()
        name = data.get("default")
        return name if isinstance(name, str) and name in data["models"] else None

    def set_default(self, name: str | None) -> None:
        """Make the installed model ``name`` the default (None clears the choice)."""
        with self._locked() as data:
            if name is not None and name not in data["models"]:
                raise ModelNotInstalledError(f"'{name}' is not installed", name=name)
            data["default"] = name
            self._write_manifest(data)

    def path_for(self, name: str) -> Path:
        """The file of ``name``, checked to be whole: present, right size, valid header.

        Raises ModelNotInstalledError or CorruptModelError; a damaged file is never returned.
        """
        model = self.get(name)
        self._check_quick(model)
        return model.path

    def _check_quick(self, model: InstalledModel) -> GgmlHeader:
        try:
            size = model.path.stat().st_size
        except FileNotFoundError:
            raise CorruptModelError("the file is missing", path=str(model.path)) from None
        if size != model.size:
            raise CorruptModelError(
                f"it is {size} bytes, {model.size} were installed", path=str(model.path)
            )
        return read_header(model.path)

    def verify(self, name: str, *, full: bool = True) -> InstalledModel:
        """Check the installed ``name``: size and header, and with ``full`` its SHA-256.

        Raises CorruptModelError (ChecksumMismatchError for different bytes).
        """
        model = self.get(name)
        self._check_quick(model)
        if full:
            digest = hashlib.sha256()
            with model.path.open("rb") as handle:
                while block := handle.read(COPY_CHUNK_BYTES):
                    digest.update(block)
            actual = digest.hexdigest()
            if actual != model.sha256:
                raise ChecksumMismatchError(
                    "the file changed since it was installed",
                    path=str(model.path),
                    expected=model.sha256,
                    actual=actual,
                )
        return model

    def overview(self, catalog: Catalog | None = None, *, recommended: str | None = None) -> list[ModelRow]:
        """Catalog models (in catalog order) merged with what is installed, then other installed models.

        Installed files are checked by size only, so listing stays fast; use
        :meth:`verify` for a full check.
        """
        catalog = catalog or self.catalog
        data = self._read_manifest()
        installed = {name: self._record(name, raw) for name, raw in data["models"].items()}
        default = data.get("default")
        rows: list[ModelRow] = []

        def row(name: str, entry: CatalogEntry | None) -> ModelRow:
            model = installed.get(name)
            if model is None:
                status = ModelStatus.AVAILABLE
            else:
                try:
                    whole = model.path.stat().st_size == model.size
                except OSError:
                    whole = False
                status = ModelStatus.INSTALLED if whole else ModelStatus.DAMAGED
            return ModelRow(
                name=name,
                status=status,
                entry=entry,
                installed=model,
                is_default=model is not None and name == default,
                is_recommended=name == recommended,
            )

        for entry in catalog:
            rows.append(row(entry.name, entry))
        for name in sorted(installed):
            if name not in catalog:
                rows.append(row(name, None))
        return rows

    # --- writing ----------------------------------------------------------

    def _temp_path(self, name: str) -> Path:
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{name}"

    def _commit(
        self,
        name: str,
        temp: Path,
        *,
        size: int,
        sha256: str,
        sha1: str | None,
        source: str,
        header: GgmlHeader,
        url: str | None = None,
        replace: bool = True,
    ) -> InstalledModel:
        """Move a validated file from .incoming into place and record it, under the lock."""
        final = self.file_for(name)
        with self._locked() as data:
            existing = data["models"].get(name)
            if existing is not None and not replace and existing.get("sha256") != sha256:
                raise ModelExistsError(f"'{name}' is already installed", name=name)
            os.chmod(temp, 0o644)
            os.replace(temp, final)
            _fsync_dir(self.root)
            model = InstalledModel(
                name=name,
                path=final,
                size=size,
                sha256=sha256,
                source=source,
                installed_at=datetime.now(UTC).replace(microsecond=0),
                header=header_summary(header),
                sha1=sha1,
                url=url,
            )
            data["models"][name] = model.to_dict()
            try:
                self._write_manifest(data)
            except BaseException:
                # Unrecorded, the file must not stay in place; the caller cleans up the temp.
                os.replace(final, temp)
                raise
        log.info("installed model %s (%s, %d bytes) from %s", name, header.quantization, size, source)
        return model

    def _check_against_catalog(self, name: str, header: GgmlHeader, path: Path) -> None:
        entry = self.catalog.find(name)
        if entry is not None and not header_matches_entry(header, entry):
            raise ModelError(
                f"{path} holds a {header.model_size} {header.quantization} model, but '{name}' is the "
                f"catalog's name for {entry.family}{'.en' if entry.english_only else ''} {entry.quantization}; "
                "import it under another name"
            )

    def import_file(
        self,
        src: Path,
        name: str | None = None,
        *,
        source: str = SOURCE_IMPORT,
        move: bool = False,
        replace: bool = False,
        progress: ProgressCallback | None = None,
        expected_sha256: str | None = None,
    ) -> InstalledModel:
        """Add a local ggml file to the store, validated by its header and checksummed.

        ``name`` defaults to the file's name without ``ggml-`` and ``.bin``. A
        catalog name must hold that catalog model (size and quantization). An
        installed model of the same name is replaced only with ``replace`` (or
        when the bytes are identical, which makes importing again harmless).
        ``move`` removes the source once the model is safely in the store.
        ``expected_sha256``: the file must hash to this (checked on the store's own
        copy, before it is recorded), else :class:`ChecksumMismatchError`.
        """
        src = Path(src)
        if not src.is_file():
            raise ModelError(f"'{src}' is not a file")
        name = validate_name(name if name is not None else name_from_file(src))
        header = read_header(src)
        self._check_against_catalog(name, header, src)
        if not replace and self.is_installed(name):
            # Checked again under the lock; failing here saves copying gigabytes for nothing.
            existing = self.get(name)
            if existing.size != header.file_size:
                raise ModelExistsError(f"'{name}' is already installed", name=name)
        self.clean_leftovers()
        temp = self._temp_path(name)
        try:
            if move and self._same_device(src):
                os.rename(src, temp)
                size, sha256, sha1 = self._hash(temp, progress)
            else:
                size, sha256, sha1 = self._copy(src, temp, progress)
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise ChecksumMismatchError(
                    f"{src} hashes to {sha256}", path=str(src), expected=expected_sha256, actual=sha256
                )
            # Validate the copy, not the source: what is installed is what was checked.
            copied = read_header(temp)
            model = self._commit(
                name, temp, size=size, sha256=sha256, sha1=sha1, source=source, header=copied, replace=replace
            )
        except BaseException:
            if move and temp.exists() and not src.exists():
                os.rename(temp, src)  # give the user's file back
            temp.unlink(missing_ok=True)
            raise
        if move and src.exists():
            src.unlink()
        return model

    def _same_device(self, src: Path) -> bool:
        try:
            return src.stat().st_dev == self.root.stat().st_dev
        except OSError:
            return False

    def _hash(self, path: Path, progress: ProgressCallback | None) -> tuple[int, str, str]:
        sha256, sha1, done = hashlib.sha256(), hashlib.sha1(), 0
        total = path.stat().st_size
        with path.open("rb") as handle:
            while block := handle.read(COPY_CHUNK_BYTES):
                sha256.update(block)
                sha1.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        return done, sha256.hexdigest(), sha1.hexdigest()

    def _copy(self, src: Path, dest: Path, progress: ProgressCallback | None) -> tuple[int, str, str]:
        sha256, sha1, done = hashlib.sha256(), hashlib.sha1(), 0
        total = src.stat().st_size
        free = shutil.disk_usage(dest.parent).free
        if free < total:
            raise DiskFullError(f"{total} bytes needed, {free} free", path=str(self.root))
        try:
            with src.open("rb") as reader, open(dest, "xb") as writer:
                while block := reader.read(COPY_CHUNK_BYTES):
                    writer.write(block)
                    sha256.update(block)
                    sha1.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
                writer.flush()
                os.fsync(writer.fileno())
        except OSError as exc:
            if exc.errno == 28:  # ENOSPC
                raise _disk_full(exc, self.root) from exc
            raise
        return done, sha256.hexdigest(), sha1.hexdigest()

    def install(
        self,
        name: str,
        *,
        progress: ProgressCallback | None = None,
        base_url: str | None = None,
        cancel: downloads.CancelToken | None = None,
        timeout: float = downloads.DEFAULT_TIMEOUT_S,
    ) -> InstalledModel:
        """Download the catalog model ``name`` into the store (resuming an interrupted download).

        ``base_url`` fetches the same file from a mirror (it is still checked
        against the catalog's size and checksum). Returns the installed model;
        a model that is already installed and whole is returned as it is.
        """
        entry = self.catalog.get(name)
        with self._name_lock(name):
            if self.is_installed(name):
                try:
                    self.path_for(name)
                    return self.get(name)
                except CorruptModelError as exc:
                    log.warning("reinstalling damaged model %s: %s", name, exc.detail)
            self.clean_leftovers()
            url = entry.url_from(base_url)
            staged = self.incoming / entry.file
            if entry.sha256 is None and entry.sha1 is None:
                log.warning("the catalog has no checksum for %s; its download cannot be verified", name)
            result = downloads.download(
                url,
                staged,
                sha256=entry.sha256,
                sha1=entry.sha1,
                expected_size=entry.size_bytes,
                progress=progress,
                cancel=cancel,
                timeout=timeout,
            )
            try:
                header = read_header(staged)
                if not header_matches_entry(header, entry):
                    raise CorruptModelError(
                        f"the download holds a {header.model_size} {header.quantization} model, "
                        f"not {entry.name}",
                        path=url,
                    )
                return self._commit(
                    name,
                    staged,
                    size=result.size,
                    sha256=result.sha256,
                    sha1=result.sha1,
                    source=SOURCE_MIRROR if base_url else SOURCE_HUGGINGFACE,
                    header=header,
                    url=url,
                )
            except BaseException:
                staged.unlink(missing_ok=True)
                raise

    def remove(self, name: str) -> None:
        """Uninstall ``name``: forget it in the manifest, then delete its file."""
        with self._locked() as data:
            raw = data["models"].pop(name, None)
            if raw is None:
                raise ModelNotInstalledError(f"'{name}' is not installed", name=name)
            if data.get("default") == name:
                data["default"] = None
            self._write_manifest(data)
            # Forgotten first: a crash now leaves a stray file, never an entry without a file.
            (self.root / str(raw.get("file", model_file_name(name)))).unlink(missing_ok=True)
        log.info("removed model %s", name)

    def clean_leftovers(self, *, partial_downloads: bool = False) -> list[Path]:
        """Delete what killed imports left in .incoming (and, if asked, unfinished downloads).

        Temp files of processes still running are kept, and so are downloads
        another process is working on. Returns what was deleted.
        """
        removed: list[Path] = []
        if not self.incoming.is_dir():
            return removed
        for path in self.incoming.iterdir():
            if path.name.startswith(_TEMP_PREFIX):
                pid_text = path.name[len(_TEMP_PREFIX) :].split("-", 1)[0]
                if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                    path.unlink(missing_ok=True)
                    removed.append(path)
            elif partial_downloads and path.name.endswith((downloads.PART_SUFFIX, downloads.META_SUFFIX)):
                stem = path.name.removesuffix(downloads.META_SUFFIX).removesuffix(downloads.PART_SUFFIX)
                with self._name_lock(name_from_file(Path(stem)), blocking=False) as free:
                    if free:
                        path.unlink(missing_ok=True)
                        removed.append(path)
        for path in self.root.glob(f"{MANIFEST_NAME}.*.tmp"):
            pid_text = path.name.split(".")[-2]
            if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                path.unlink(missing_ok=True)
                removed.append(path)
        if removed:
            log.info("cleaned %d leftover files in %s", len(removed), self.root)
        return removed
