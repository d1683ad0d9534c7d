"""Where sttdesk keeps its files: the one place that decides every path.

Defaults follow the platform's conventions (platformdirs). Tests and portable
installs override each folder with an environment variable:

===================== ==========================================
``STTDESK_HOME``      one folder holding all of the below
``STTDESK_DATA_DIR``  job database, job folders, keys
``STTDESK_MODELS_DIR`` installed whisper models
``STTDESK_CONFIG_DIR`` settings file
``STTDESK_CACHE_DIR`` downloads in progress, scratch files
===================== ==========================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "sttdesk"


def _from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True, slots=True)
class AppPaths:
    """The folders sttdesk uses; build one with :func:`default_paths`."""

    data_dir: Path
    models_dir: Path
    config_dir: Path
    cache_dir: Path

    def ensure(self) -> AppPaths:
        """Create every folder that does not exist yet; return self."""
        for folder in (self.data_dir, self.models_dir, self.config_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def default_paths() -> AppPaths:
    """The folders for this user, honouring the ``STTDESK_*`` overrides."""
    home = os.environ.get("STTDESK_HOME")
    if home:
        base = Path(home).expanduser()
        data, config, cache = base / "data", base / "config", base / "cache"
    else:
        data = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        config = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
        cache = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    data = _from_env("STTDESK_DATA_DIR", data)
    return AppPaths(
        data_dir=data,
        models_dir=_from_env("STTDESK_MODELS_DIR", data / "models"),
        config_dir=_from_env("STTDESK_CONFIG_DIR", config),
        cache_dir=_from_env("STTDESK_CACHE_DIR", cache),
    )
