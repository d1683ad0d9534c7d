"""One typed settings object for the whole app, loaded from a TOML file.

Sections mirror the seed's CHUNKING / PROCESSING / RETRY_POLICY / MONITORING
values; every field has the seed's default. The file lives in the config
folder (``sttdesk config path``); environment variables override single
values as ``STTDESK_<SECTION>__<FIELD>`` (e.g. ``STTDESK_PROCESSING__POOL_AGENTS=2``).
Front ends read settings from here only, never from files of their own.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from .audio.chunker import ChunkerOptions
from .audio.probe import AudioLimits
from .domain.errors import PermanentError
from .domain.retry import RetryPolicy
from .paths import AppPaths, default_paths

log = logging.getLogger(__name__)

SETTINGS_FILE_NAME = "settings.toml"
ENV_PREFIX = "STTDESK_"


class SettingsError(PermanentError):
    """The settings file or an override holds a value that cannot be used."""

    code = "bad_settings"
    message_en = "Invalid setting {key}: {detail}"
    message_vi = "Cài đặt {key} không hợp lệ: {detail}"


@dataclass(slots=True)
class ProcessingSettings:
    """How jobs are run."""

    #: Model used when a job names none.
    default_model: str = "base-q8_0"
    #: Language used when a job names none: "en", "vi" or "auto".
    default_language: str = "auto"
    #: Local agents to start; 0 chooses from the CPU (one single-thread agent per core).
    pool_agents: int = 0
    #: whisper.cpp threads per local agent.
    pool_threads: int = 1
    #: A chunk's lease deadline (seconds); grows after a timeout.
    chunk_timeout_seconds: float = 300.0
    #: Safety cap on chunks per job (12 h at ~30 s per chunk is 1,440).
    max_chunks_per_job: int = 3000
    #: Beam size; 0 means greedy decoding (the measured default: beam 5 costs ~1.6x).
    beam_size: int = 0


@dataclass(slots=True)
class MonitoringSettings:
    """Thresholds above which an alert event is raised."""

    retry_rate_alert: float = 0.20
    mean_retries_alert: float = 1.5
    dead_letters_alert: int = 100
    agent_crashes_per_hour_alert: int = 5
    #: Dead letters are kept this many days.
    dead_letter_days: float = 7.0


@dataclass(slots=True)
class ApiSettings:
    """The local REST API."""

    host: str = "127.0.0.1"
    port: int = 8765
    #: Whether the desktop app also serves the API.
    enabled_in_app: bool = False


@dataclass(slots=True)
class UiSettings:
    """The desktop app."""

    #: "en" or "vi"; empty follows the system.
    language: str = ""
    start_minimized: bool = False
    #: Folder exports are written to automatically; empty: no automatic export.
    auto_export_dir: str = ""
    auto_export_formats: list[str] = field(default_factory=lambda: ["txt", "srt"])


@dataclass(slots=True)
class Settings:
    """Everything configurable, with the seed's defaults."""

    chunking: ChunkerOptions = field(default_factory=ChunkerOptions)
    processing: ProcessingSettings = field(default_factory=ProcessingSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: AudioLimits = field(default_factory=AudioLimits)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    ui: UiSettings = field(default_factory=UiSettings)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _section_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _section_dict(section: Any) -> dict[str, Any]:
    data = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        data[f.name] = value.value if hasattr(value, "value") else value
    return data


def _coerce(key: str, value: Any, target: Any) -> Any:
    """Convert ``value`` to the annotated type ``target`` (from TOML or a string)."""
    origin = typing.get_origin(target)
    try:
        if target is bool:
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if value.strip().lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(f"not a yes/no value: {value!r}")
            return bool(value)
        if target in (int, float, str):
            if target is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(f"not a whole number: {value!r}")
            return target(value)
        if origin is list:
            (item_type,) = typing.get_args(target) or (str,)
            items = value.split(",") if isinstance(value, str) else list(value)
            return [_coerce(key, item.strip() if isinstance(item, str) else item, item_type)
                    for item in items if item != ""]
    except (TypeError, ValueError) as exc:
        raise SettingsError(str(exc), key=key) from exc
    return value


def _apply(section: Any, name: str, values: dict[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(type(section))
    known = {f.name for f in dataclasses.fields(section)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            log.warning("%s: unknown setting %s.%s ignored", source, name, key)
            continue
        target = hints[key]
        if isinstance(target, type) and issubclass(target, enum.Enum):
            try:
                changes[key] = target(value)
            except ValueError as exc:
                raise SettingsError(str(exc), key=f"{name}.{key}") from exc
        else:
            changes[key] = _coerce(f"{name}.{key}", value, target)
    return dataclasses.replace(section, **changes) if changes else section


def load_settings(path: Path | None = None, *, paths: AppPaths | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Settings from the file (defaults where absent) with environment overrides."""
    path = path or settings_path(paths)
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(str(exc), key=str(path)) from exc
    overrides: dict[str, dict[str, str]] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and "__" in key:
            section, _, name = key[len(ENV_PREFIX):].lower().partition("__")
            overrides.setdefault(section, {})[name] = value
    sections = {f.name for f in dataclasses.fields(settings)}
    for name in list(data) + list(overrides):
        if name not in sections:
            log.warning("unknown settings section %r ignored", name)
    for name in sections:
        section = getattr(settings, name)
        if isinstance(data.get(name), dict):
            section = _apply(section, name, data[name], str(path))
        if name in overrides:
            section = _apply(section, name, overrides[name], "environment")
        setattr(settings, name, section)
    return settings


def save_settings(settings: Settings, path: Path | None = None, *, paths: AppPaths | None = None) -> Path:
    """Write the settings file atomically; returns its path."""
    path = path or settings_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(settings.to_dict()), encoding="utf-8")
    os.replace(tmp, path)
    return path


def settings_path(paths: AppPaths | None = None) -> Path:
    return (paths or default_paths()).config_dir / SETTINGS_FILE_NAME
