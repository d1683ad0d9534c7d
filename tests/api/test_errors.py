"""The one error-to-status table, the error document, and what never leaks into it."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sttdesk.api import create_app
from sttdesk.api.errors import (
    PathScrubber,
    ResultNotReadyError,
    TokenRequiredError,
    UploadStorageError,
    UploadTooLargeError,
    error_payload,
    status_for,
)
from sttdesk.app import Core
from sttdesk.audio.errors import (
    AudioTooLongError,
    FfmpegMissingError,
    FileTooLargeError,
    NoAudioStreamError,
    TruncatedAudioError,
)
from sttdesk.domain.errors import PermanentError, SttdeskError, TransientError, UnsupportedLanguageError
from sttdesk.domain.exporters import UnknownExportFormatError
from sttdesk.engine.errors import CorruptModelError, ModelNotInstalledError, UnknownModelError
from sttdesk.service.job_service import JobNotFoundError, JobStateError
from sttdesk.store.errors import DatabaseLockedError, DatabaseUnavailableError

from .helpers import LOCAL_BASE_URL, error_of


@pytest.mark.parametrize(("error", "status"), [
    (TokenRequiredError(), 401),
    (JobNotFoundError(job_id="ab"), 404),
    (JobStateError(action="retry", action_vi="thử lại", state="PENDING"), 409),
    (ResultNotReadyError(job_id="ab", status="PROCESSING"), 409),
    (UploadTooLargeError(name="a", limit="1 MB"), 413),
    (FileTooLargeError(name="a", size_mb=3000, limit_mb=2000), 413),
    (AudioTooLongError(name="a", hours=13, limit_hours=12), 413),
    (NoAudioStreamError(name="a"), 415),
    (TruncatedAudioError(name="a"), 415),
    (UnsupportedLanguageError(language="fr", supported="en"), 422),
    (UnknownModelError(name="x"), 422),
    (ModelNotInstalledError(name="x"), 422),
    (UnknownExportFormatError(format="doc", available="txt"), 422),
    (CorruptModelError(path="m"), 503),
    (FfmpegMissingError(tool="ffprobe"), 503),
    (DatabaseLockedError(path="db", seconds=5), 503),
    (DatabaseUnavailableError(path="db"), 503),
    (UploadStorageError("disk full"), 507),
    (TransientError("x"), 503),
    (PermanentError("x"), 400),
    (SttdeskError("x"), 500),
])
def test_status_for(error: SttdeskError, status: int) -> None:
    assert status_for(error) == status
    body = error_payload(error)["error"]
    assert body["code"] == error.code and body["message_en"] and body["message_vi"]


def test_scrubber_hides_the_servers_folders(tmp_path: Path) -> None:
    scrub = PathScrubber([(tmp_path / "data", "<data>"), (tmp_path / "data" / "models", "<models>")])
    assert scrub(f"cannot open {tmp_path}/data/models/x.bin or {tmp_path}/data/sttdesk.db") == \
        "cannot open <models>/x.bin or <data>/sttdesk.db"


def test_unexpected_failures_answer_500_without_details(idle_core: Core) -> None:
    app = create_app(idle_core, token=None, require_token=False)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError(f"secret detail at {idle_core.paths.data_dir}")

    @app.get("/api/v1/locked")
    def locked() -> None:
        raise DatabaseLockedError(path=str(idle_core.paths.data_dir / "sttdesk.db"), seconds=5)

    with TestClient(app, base_url=LOCAL_BASE_URL, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom")
        assert response.status_code == 500
        assert error_of(response)["code"] == "internal_error"
        assert "secret" not in response.text
        busy = client.get("/api/v1/locked")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        error = error_of(busy)
        assert error["transient"] is True
        assert str(idle_core.paths.data_dir) not in busy.text and "<data>/sttdesk.db" in error["message_en"]
