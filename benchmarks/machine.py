"""What a benchmark figure was measured on: the machine, the software versions, the model files.

Every result the harness writes carries these records, so that a figure can be
compared only with figures measured under the same conditions.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import platform
import re
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Bytes read at a time while hashing a model file.
HASH_BLOCK_BYTES = 1 << 20
#: The Python distributions whose versions every result records.
DISTRIBUTIONS = ("sttdesk", "pywhispercpp", "faster-whisper", "ctranslate2", "numpy", "jiwer", "matplotlib")

_sha256_cache: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class ModelFile:
    """A model file a figure was measured with."""

    #: The name it goes by in the benchmark ("base-q8_0", "faster-whisper base int8", ...).
    name: str
    #: Where it was read from.
    path: str
    #: Size in bytes.
    size: int
    #: SHA-256 of the file's bytes (for a CTranslate2 folder: of its model.bin).
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(value, 2) for value in os.getloadavg()]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, OS, host name and the load average right now."""
    return {
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        # Cores this process may use (a container or taskset can allow fewer than the machine has).
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": load_average(),
    }


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def whisper_cpp_version() -> str | None:
    """The whisper.cpp release bundled in pywhispercpp's wheel, read from its library's file name."""
    try:
        files = importlib.metadata.files("pywhispercpp") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        match = re.search(r"libwhisper[^/]*\.so\.(\d+\.\d+\.\d+)$", str(file))
        if match:
            return match.group(1)
    return None


def ffmpeg_version() -> str | None:
    try:
        done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = done.stdout.splitlines()[0] if done.stdout else ""
    match = re.match(r"ffmpeg version (\S+)", first)
    return match.group(1) if match else first or None


def software_versions() -> dict[str, Any]:
    """Versions of sttdesk, the engines it is compared with, and the tools around them."""
    versions: dict[str, Any] = {name: _distribution_version(name) for name in DISTRIBUTIONS}
    try:
        import sttdesk

        # The checkout being measured, which may differ from the installed distribution.
        versions["sttdesk"] = sttdesk.__version__
    except ImportError:
        pass
    versions["whisper.cpp"] = whisper_cpp_version()
    versions["ffmpeg"] = ffmpeg_version()
    versions["git_commit"] = _git_commit()
    return versions


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, computed once per file version in this process (models are 50-150 MB)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _sha256_cache:
        digest = hashlib.sha256()
        with path.open("rb") as source:
            while block := source.read(HASH_BLOCK_BYTES):
                digest.update(block)
        _sha256_cache[key] = digest.hexdigest()
    return _sha256_cache[key]


def model_file(name: str, path: Path) -> ModelFile:
    """The record of a ggml file, or of a CTranslate2 folder (its model.bin)."""
    weights = path / "model.bin" if path.is_dir() else path
    return ModelFile(name=name, path=str(path), size=weights.stat().st_size, sha256=sha256_of(weights))
