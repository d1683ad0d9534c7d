"""One typed settings object for the whole app, loaded from a TOML file.

Sections mirror the seed's CHUNKING / PROCESSING / RETRY_POLICY / MONITORING
values; every field has the seed's default. The file lives in the config
folder (``sttdesk config path``); environment variables override single
values as ``STTDESK_<SECTION>__<FIELD>`` (e.g. ``STTDESK_PROCESSING__POOL_AGENTS=2``).
Front ends read settings from here only, never from files of their own, and
change them through :func:`change_settings` (values as typed or as text) or
check a whole object with :func:`validate`: the settings dialog, ``sttdesk
config set`` and the server all apply the same rules.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import logging
import math
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from .audio.chunker import ChunkerOptions
from .audio.probe import AudioLimits
from .domain.errors import PermanentError, SttdeskError
from .domain.languages import SUPPORTED_LANGUAGES
from .domain.retry import RetryPolicy
from .paths import AppPaths, default_paths

log = logging.getLogger(__name__)

SETTINGS_FILE_NAME = "settings.toml"
#: Most whisper.cpp threads a local agent may be given (far beyond any PC; catches typos).
MAX_POOL_THREADS = 256
#: Widest beam whisper.cpp decodes with.
MAX_BEAM_SIZE = 8
#: The model of jobs that name none when neither the settings nor the model store choose one:
#: the offline default that ``sttdesk models install-default`` builds.
FALLBACK_MODEL = "base-q8_0"
ENV_PREFIX = "STTDESK_"


class SettingsError(PermanentError):
    """The settings file or an override holds a value that cannot be used."""

    code = "bad_settings"
    message_en = "Invalid setting {key}: {detail}"
    message_vi = "Cài đặt {key} không hợp lệ: {detail_vi}"

    def __init__(self, detail: str = "", *, key: str = "", detail_vi: str | None = None) -> None:
        # Most checks explain themselves in English only; the ones users meet in the app say it in Vietnamese too.
        super().__init__(detail, key=key, detail_vi=detail_vi or detail)


@dataclass(slots=True)
class ProcessingSettings:
    """How jobs are run."""

    #: Model used when a job names none; empty follows the model store's default
    #: (``sttdesk models default``), else :data:`FALLBACK_MODEL`.
    default_model: str = ""
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

    def __post_init__(self) -> None:
        _check("processing", [
            (self.default_language in SUPPORTED_LANGUAGES, "default_language",
             f"must be one of {', '.join(SUPPORTED_LANGUAGES)}"),
            (self.pool_agents >= 0, "pool_agents", "must be 0 (choose from the CPU) or more"),
            (1 <= self.pool_threads <= MAX_POOL_THREADS, "pool_threads", f"must be from 1 to {MAX_POOL_THREADS}"),
            (self.chunk_timeout_seconds > 0, "chunk_timeout_seconds", "must be more than 0"),
            (self.max_chunks_per_job >= 1, "max_chunks_per_job", "must be 1 or more"),
            (self.beam_size == 0 or 2 <= self.beam_size <= MAX_BEAM_SIZE, "beam_size",
             f"must be 0 (greedy) or from 2 to {MAX_BEAM_SIZE}"),
        ])


@dataclass(slots=True)
class MonitoringSettings:
    """Thresholds above which an alert event is raised."""

    retry_rate_alert: float = 0.20
    mean_retries_alert: float = 1.5
    dead_letters_alert: int = 100
    agent_crashes_per_hour_alert: int = 5
    #: Dead letters are kept this many days.
    dead_letter_days: float = 7.0

    def __post_init__(self) -> None:
        _check("monitoring", [
            (0 <= self.retry_rate_alert <= 1, "retry_rate_alert", "must be a share from 0 to 1"),
            (self.mean_retries_alert >= 0, "mean_retries_alert", "must be 0 or more"),
            (self.dead_letters_alert >= 0, "dead_letters_alert", "must be 0 or more"),
            (self.agent_crashes_per_hour_alert >= 0, "agent_crashes_per_hour_alert", "must be 0 or more"),
            (self.dead_letter_days > 0, "dead_letter_days", "must be more than 0"),
        ])


@dataclass(slots=True)
class ApiSettings:
    """The local REST API."""

    host: str = "127.0.0.1"
    port: int = 8765
    #: Whether the desktop app also serves the API.
    enabled_in_app: bool = False

    def __post_init__(self) -> None:
        _check("api", [
            (bool(self.host.strip()), "host", "must not be empty"),
            (1 <= self.port <= 65535, "port", "must be from 1 to 65535"),
        ])


@dataclass(slots=True)
class UiSettings:
    """The desktop app."""

    #: "en" or "vi"; empty follows the system.
    language: str = ""
    start_minimized: bool = False
    #: Folder exports are written to automatically; empty: no automatic export.
    auto_export_dir: str = ""
    auto_export_formats: list[str] = field(default_factory=lambda: ["txt", "srt"])

    def __post_init__(self) -> None:
        from .domain.exporters import available_formats

        unknown = [f for f in self.auto_export_formats if f not in available_formats()]
        _check("ui", [
            (self.language in ("", "en", "vi"), "language", "must be empty (follow the system), en or vi"),
            (not unknown, "auto_export_formats", f"must be among {', '.join(available_formats())}"),
        ])


@dataclass(slots=True)
class NetworkSettings:
    """Agents on other computers: found on the LAN, or added by address."""

    #: Browse the LAN for agents (zeroconf) and connect to those this app trusts.
    discovery: bool = True
    #: Agents added by address (another subnet, a VPN), as "host:port"; reconnected on start.
    agents: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check("network", [
            (all(isinstance(a, str) and a.strip() for a in self.agents), "agents",
             "must be a list of host:port addresses"),
        ])


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
    network: NetworkSettings = field(default_factory=NetworkSettings)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _section_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _section_dict(section: Any) -> dict[str, Any]:
    data = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        data[f.name] = value.value if hasattr(value, "value") else value
    return data


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _coerce(value: Any, target: Any) -> Any:
    """``value`` (from TOML, or a string from the environment) as the annotated type ``target``.

    Strict on purpose: ``pool_agents = true`` or ``default_model = 3`` is a
    mistake to report, not something to convert. Raises ValueError or TypeError.
    """
    if target is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if target is int:
        if isinstance(value, bool):
            raise TypeError(f"expected a whole number, got {value!r}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, (int, str)):
            return int(value)
        raise TypeError(f"expected a whole number, got {value!r}")
    if target is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(f"expected a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {value!r}")
        return number
    if target is str:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {value!r}")
        return value
    if typing.get_origin(target) in (list, tuple):
        (item_type, *_) = typing.get_args(target) or (str,)
        if isinstance(value, str):
            items: list[Any] = [item.strip() for item in value.split(",") if item.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise TypeError(f"expected a list, got {value!r}")
        converted = [_coerce(item, item_type) for item in items]
        return tuple(converted) if typing.get_origin(target) is tuple else converted
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return target(value)
    return value


def _apply(section: Any, name: str, values: Mapping[str, Any], source: str, *, strict: bool = False) -> Any:
    hints = typing.get_type_hints(type(section))
    known = {f.name for f in dataclasses.fields(section)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            if strict:
                raise SettingsError(f"there is no such setting; [{name}] has {', '.join(sorted(known))}",
                                    key=f"{name}.{key}",
                                    detail_vi=f"không có cài đặt này; [{name}] có {', '.join(sorted(known))}")
            log.warning("%s: unknown setting %s.%s ignored", source, name, key)
            continue
        try:
            changes[key] = _coerce(value, hints[key])
        except (TypeError, ValueError) as exc:
            raise SettingsError(_from(str(exc), source), key=f"{name}.{key}") from exc
    if not changes:
        return section
    try:
        # the sections check their own values (ranges, orders) when built
        return dataclasses.replace(section, **changes)
    except SettingsError:
        raise
    except (TypeError, ValueError, SttdeskError) as exc:
        detail = exc.user_message("en") if isinstance(exc, SttdeskError) else str(exc)
        raise SettingsError(_from(detail, source), key=f"{name}.{', '.join(sorted(changes))}") from exc


def _from(detail: str, source: str) -> str:
    """``detail`` naming where the value came from, when that is worth saying (a file, the environment)."""
    return f"{detail} ({source})" if source else detail


def _check(section: str, checks: list[tuple[bool, str, str] | tuple[bool, str, str, str]]) -> None:
    """Raise SettingsError for the first failed (ok, field, what is expected[, the same in Vietnamese]) check."""
    for ok, key, expected, *vietnamese in checks:
        if not ok:
            raise SettingsError(expected, key=f"{section}.{key}", detail_vi=vietnamese[0] if vietnamese else None)


def _check_retry(policy: RetryPolicy) -> None:
    """RetryPolicy lives in the domain layer and trusts its caller: the settings check it."""
    _check("retry", [
        (policy.max_retries >= 0, "max_retries", "must be 0 or more"),
        (policy.base_seconds > 0, "base_seconds", "must be more than 0"),
        (policy.factor >= 1, "factor", "must be 1 or more"),
        (policy.cap_seconds >= policy.base_seconds, "cap_seconds",
         "the longest wait must not be shorter than the first wait (base_seconds)",
         "thời gian chờ dài nhất không được ngắn hơn lần chờ đầu tiên (base_seconds)"),
        (0 <= policy.jitter < 1, "jitter", "must be from 0 up to (not including) 1"),
        (policy.disk_full_retries >= 0, "disk_full_retries", "must be 0 or more"),
        (policy.min_split_seconds > 0, "min_split_seconds", "must be more than 0"),
        (policy.timeout_growth >= 1, "timeout_growth", "must be 1 or more"),
    ])


def validate(settings: Settings) -> Settings:
    """Check a whole Settings object: each value, and the rules that tie values together.

    Returns ``settings`` unchanged; raises SettingsError naming the first
    setting at fault. Sections check their own values when they are built,
    so this catches objects changed in place (``settings.retry = ...``) too.
    """
    for f in dataclasses.fields(settings):
        section = getattr(settings, f.name)
        try:
            dataclasses.replace(section)  # runs the section's own checks again
        except SettingsError:
            raise
        except (TypeError, ValueError, SttdeskError) as exc:
            detail = exc.user_message("en") if isinstance(exc, SttdeskError) else str(exc)
            raise SettingsError(detail, key=f.name) from exc
    _check_retry(settings.retry)
    if settings.ui.auto_export_dir.strip() and not settings.ui.auto_export_formats:
        raise SettingsError("choose at least one format for the automatic export", key="ui.auto_export_formats",
                            detail_vi="hãy chọn ít nhất một định dạng để tự động xuất")
    return settings


def change_settings(settings: Settings, changes: Mapping[str, Mapping[str, Any]], *,
                    source: str = "") -> Settings:
    """A copy of ``settings`` with ``changes`` ({section: {field: value}}) made and the whole checked.

    Values may be of the field's type or text as typed on a command line
    ("2", "true", "txt,srt"). Unknown sections or fields are refused, not
    ignored: a change names exactly what it means to change. ``settings`` is
    left as it was whatever happens.
    """
    changed = copy.deepcopy(settings)
    sections = {f.name for f in dataclasses.fields(changed)}
    for name, values in changes.items():
        if name not in sections:
            raise SettingsError(f"there is no such section; the sections are {', '.join(sorted(sections))}",
                                key=name, detail_vi=f"không có mục này; các mục là {', '.join(sorted(sections))}")
        setattr(changed, name, _apply(getattr(changed, name), name, values, source, strict=True))
    return validate(changed)


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
        if name in data and not isinstance(data[name], dict):
            raise SettingsError(f"[{name}] must be a table of settings ({path})", key=name)
        if isinstance(data.get(name), dict):
            section = _apply(section, name, data[name], str(path))
        if name in overrides:
            section = _apply(section, name, overrides[name], "environment")
        setattr(settings, name, section)
    return validate(settings)


def save_settings(settings: Settings, path: Path | None = None, *, paths: AppPaths | None = None) -> Path:
    """Write the settings file atomically; returns its path."""
    path = path or settings_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(settings.to_dict()), encoding="utf-8")
    os.replace(tmp, path)
    return path


def update_settings_file(section: str, values: dict[str, Any], *, path: Path | None = None,
                         paths: AppPaths | None = None) -> Path:
    """Change only ``values`` of ``[section]`` in the settings file, keeping the rest as written.

    Unlike :func:`save_settings` this never writes environment overrides or defaults
    into the file. The result is checked (SettingsError) before it replaces the file.
    """
    path = path or settings_path(paths)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(str(exc), key=str(path)) from exc
    table = data.setdefault(section, {})
    if not isinstance(table, dict):
        raise SettingsError(f"[{section}] must be a table of settings ({path})", key=section)
    table.update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    try:
        load_settings(tmp, environ={})
    except SettingsError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def settings_path(paths: AppPaths | None = None) -> Path:
    return (paths or default_paths()).config_dir / SETTINGS_FILE_NAME
