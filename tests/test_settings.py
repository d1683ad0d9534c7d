"""Settings: defaults from the seed, the TOML file, environment overrides, and bad values refused."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sttdesk.audio.chunker import ChunkingMode
from sttdesk.paths import default_paths
from sttdesk.settings import (
    FALLBACK_MODEL,
    Settings,
    SettingsError,
    change_settings,
    load_settings,
    save_settings,
    settings_path,
    validate,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_seeds_values_and_the_file_lives_in_the_config_folder() -> None:
    settings = load_settings(environ={})
    assert settings.processing.chunk_timeout_seconds == 300.0
    assert settings.processing.max_chunks_per_job >= 1440  # 12 h in 30 s chunks
    assert (settings.retry.max_retries, settings.retry.base_seconds, settings.retry.factor) == (3, 2.0, 3.0)
    assert settings.retry.cap_seconds == 300.0
    assert (settings.monitoring.retry_rate_alert, settings.monitoring.mean_retries_alert) == (0.20, 1.5)
    assert (settings.monitoring.dead_letters_alert, settings.monitoring.agent_crashes_per_hour_alert) == (100, 5)
    assert settings.monitoring.dead_letter_days == 7.0
    assert settings.chunking.min_silence_seconds == 1.0 and settings.chunking.threshold_dbfs == -40.0
    assert settings.limits.max_seconds == 12 * 3600
    assert settings.processing.default_model == "" and FALLBACK_MODEL == "base-q8_0"
    assert settings_path() == default_paths().config_dir / "settings.toml"


def test_the_file_and_then_the_environment_override_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.toml", """
[processing]
pool_agents = 3
default_language = "vi"
chunk_timeout_seconds = 120

[retry]
max_retries = 5

[chunking]
mode = "fixed"
max_chunk_seconds = 40.0

[ui]
auto_export_formats = ["srt", "vtt"]
""")
    env = {
        "STTDESK_PROCESSING__POOL_AGENTS": "2",
        "STTDESK_RETRY__JITTER": "0",
        "STTDESK_UI__AUTO_EXPORT_FORMATS": "txt, json",
        "STTDESK_API__ENABLED_IN_APP": "yes",
        "STTDESK_DATA_DIR": "/elsewhere",  # not a setting: a folder override, ignored here
    }
    settings = load_settings(path, environ=env)
    assert settings.processing.pool_agents == 2  # environment beats the file
    assert settings.processing.default_language == "vi"
    assert settings.processing.chunk_timeout_seconds == 120.0
    assert isinstance(settings.processing.chunk_timeout_seconds, float)
    assert settings.retry.max_retries == 5 and settings.retry.jitter == 0.0
    assert settings.chunking.mode is ChunkingMode.FIXED and settings.chunking.max_chunk_seconds == 40.0
    assert settings.ui.auto_export_formats == ["txt", "json"]
    assert settings.api.enabled_in_app is True


def test_saved_settings_read_back_the_same(tmp_path: Path) -> None:
    settings = load_settings(environ={})
    settings.processing.pool_agents = 4
    path = save_settings(settings, tmp_path / "conf" / "settings.toml")
    assert tomllib.loads(path.read_text())["processing"]["pool_agents"] == 4
    again = load_settings(path, environ={})
    assert again.to_dict() == settings.to_dict()
    assert isinstance(again, Settings)


def test_unknown_keys_and_sections_are_ignored_with_a_warning(tmp_path: Path, caplog) -> None:
    path = write(tmp_path / "settings.toml", "[processing]\npool_agent = 2\n\n[gpu]\nenabled = true\n")
    settings = load_settings(path, environ={})
    assert settings.processing.pool_agents == 0
    assert "processing.pool_agent" in caplog.text and "'gpu'" in caplog.text


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ("[processing]\npool_agents = -1\n", {}, "processing.pool_agents"),
        ("[processing]\npool_agents = true\n", {}, "processing.pool_agents"),
        ("[processing]\npool_agents = 1.5\n", {}, "processing.pool_agents"),
        ("", {"STTDESK_PROCESSING__POOL_AGENTS": "two"}, "processing.pool_agents"),
        ("[processing]\ndefault_language = \"fr\"\n", {}, "processing.default_language"),
        ("[processing]\ndefault_model = 3\n", {}, "processing.default_model"),
        ("[processing]\nbeam_size = 1\n", {}, "processing.beam_size"),
        ("[processing]\nchunk_timeout_seconds = 0\n", {}, "processing.chunk_timeout_seconds"),
        ("", {"STTDESK_PROCESSING__CHUNK_TIMEOUT_SECONDS": "nan"}, "processing.chunk_timeout_seconds"),
        ("[retry]\nmax_retries = -2\n", {}, "retry.max_retries"),
        ("", {"STTDESK_RETRY__JITTER": "1.5"}, "retry.jitter"),
        ("[chunking]\nmode = \"magic\"\n", {}, "chunking.mode"),
        ("[chunking]\nmin_chunk_seconds = 60\n", {}, "chunking.min_chunk_seconds"),
        ("[limits]\nmax_bytes = 0\n", {}, "limits.max_bytes"),
        ("[monitoring]\nretry_rate_alert = 20\n", {}, "monitoring.retry_rate_alert"),
        ("[api]\nport = 70000\n", {}, "api.port"),
        ("", {"STTDESK_API__ENABLED_IN_APP": "maybe"}, "api.enabled_in_app"),
        ("[ui]\nauto_export_formats = [\"docx\"]\n", {}, "ui.auto_export_formats"),
        ("processing = 3\n", {}, "processing"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named_in_both_languages(
    tmp_path: Path, toml: str, env: dict[str, str], key: str
) -> None:
    path = write(tmp_path / "settings.toml", toml)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ=env)
    error = caught.value
    assert error.code == "bad_settings" and not error.transient
    assert key in error.user_message("en") and key in error.user_message("vi")
    assert error.user_message("en") != error.user_message("vi")


def test_a_damaged_file_is_a_settings_error(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.toml", "[processing\npool_agents = ")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert str(path) in caught.value.user_message("en")


def _sttdesk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sttdesk.cli.main", *args], check=False, capture_output=True,
                          text=True, timeout=120)


def test_config_show_and_path_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(settings_path(), "[processing]\npool_agents = 3\n")
    monkeypatch.setenv("STTDESK_RETRY__MAX_RETRIES", "4")
    shown = _sttdesk("config", "show")
    assert shown.returncode == 0, shown.stderr
    data = tomllib.loads(shown.stdout)
    assert data["processing"]["pool_agents"] == 3 and data["retry"]["max_retries"] == 4
    located = _sttdesk("config", "path")
    assert located.returncode == 0 and located.stdout.strip() == str(path)

    write(path, "[processing]\npool_agents = -3\n")
    broken = _sttdesk("config", "show")
    assert broken.returncode == 1
    assert "processing.pool_agents" in broken.stderr and "Traceback" not in broken.stderr


def test_change_settings_takes_typed_or_text_values_and_checks_the_whole(tmp_path: Path) -> None:
    original = Settings()
    changed = change_settings(original, {"processing": {"pool_agents": "2", "default_language": "vi"},
                                         "ui": {"auto_export_formats": "txt, vtt"},
                                         "chunking": {"mode": ChunkingMode.FIXED}})
    assert changed.processing.pool_agents == 2 and changed.processing.default_language == "vi"
    assert changed.ui.auto_export_formats == ["txt", "vtt"] and changed.chunking.mode is ChunkingMode.FIXED
    assert original == Settings()  # the original is never touched
    assert validate(changed) is changed


@pytest.mark.parametrize(("changes", "key", "vietnamese"), [
    ({"processing": {"pool_agentz": 1}}, "processing.pool_agentz", "không có cài đặt này"),
    ({"procezzing": {"pool_agents": 1}}, "procezzing", "không có mục này"),
    ({"retry": {"cap_seconds": 1.0}}, "retry.cap_seconds", "không được ngắn hơn"),
    ({"ui": {"auto_export_dir": "/srv/out", "auto_export_formats": ""}}, "ui.auto_export_formats",
     "ít nhất một định dạng"),
    ({"processing": {"pool_threads": "many"}}, "processing.pool_threads", "many"),
    ({"chunking": {"min_chunk_seconds": 100}}, "chunking.min_chunk_seconds", "min_chunk_seconds"),
], ids=["unknown-field", "unknown-section", "cap-below-base", "export-without-format", "not-a-number",
        "chunk-order"])
def test_change_settings_refuses_bad_changes_naming_the_setting(changes: dict, key: str, vietnamese: str) -> None:
    with pytest.raises(SettingsError) as caught:
        change_settings(Settings(), changes)
    assert key in caught.value.user_message("en") and key in caught.value.user_message("vi")
    assert vietnamese in caught.value.user_message("vi")


def test_validate_catches_a_settings_object_changed_in_place() -> None:
    from sttdesk.domain.retry import RetryPolicy

    settings = Settings()
    settings.retry = RetryPolicy(base_seconds=10.0, cap_seconds=5.0)
    with pytest.raises(SettingsError, match="retry.cap_seconds"):
        validate(settings)


def test_config_set_and_check_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STTDESK_RETRY__MAX_RETRIES", "4")
    done = _sttdesk("config", "set", "processing.pool_agents=2", "ui.auto_export_formats=txt,srt")
    assert done.returncode == 0, done.stderr
    saved = tomllib.loads(settings_path().read_text(encoding="utf-8"))
    assert saved["processing"]["pool_agents"] == 2 and saved["ui"]["auto_export_formats"] == ["txt", "srt"]
    assert saved["retry"]["max_retries"] == 3  # the environment's override is not written into the file
    assert _sttdesk("config", "check").returncode == 0

    refused = _sttdesk("config", "set", "processing.pool_agents=2", "retry.cap_seconds=0.5")
    assert refused.returncode == 1 and "retry.cap_seconds" in refused.stderr
    assert tomllib.loads(settings_path().read_text(encoding="utf-8")) == saved  # nothing written
    malformed = _sttdesk("config", "set", "pool_agents")
    assert malformed.returncode != 0 and "SECTION.FIELD=VALUE" in malformed.stderr
