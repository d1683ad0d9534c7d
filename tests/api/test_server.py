"""The API through a real uvicorn server on a loopback port, with real HTTP clients.

The last test runs the real whisper.cpp engine with the installed base model.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sttdesk.api import ApiServer, run_api
from sttdesk.api.errors import ApiBindError
from sttdesk.app import Core
from tests.conftest import read_transcripts
from tests.engine.wer import normalize_english, word_error_rate

from .helpers import make_core, upload, upload_folders, wait_for_agents, wait_for_status

CLIP = "1081-125237-0000.flac"


def test_real_http_upload_poll_and_download(running_core: Core, en_audio: Path) -> None:
    with ApiServer(running_core, port=0) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        response = upload(client, en_audio / CLIP, language="en")
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        assert wait_for_status(client, job_id)["status"] == "COMPLETED"
        for fmt, kind in (("txt", "text/plain"), ("json", "application/json"), ("srt", "application/x-subrip"),
                          ("vtt", "text/vtt")):
            result = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": fmt})
            assert result.status_code == 200 and result.headers["content-type"].startswith(kind)
            assert result.content.strip()
        metrics = client.get("/api/v1/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'sttdesk_jobs{state="COMPLETED"}' in metrics.text
        assert client.get("/docs").status_code == 200
        port = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)


def test_a_busy_port_fails_at_start_with_a_typed_error(idle_core: Core) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ApiBindError) as raised:
            ApiServer(idle_core, port=port).start()
    assert str(port) in raised.value.user_message("en") and str(port) in raised.value.user_message("vi")


def test_run_api_starts_a_server_that_stops_on_request(idle_core: Core, tmp_path: Path) -> None:
    token_file = tmp_path / "secret" / "token"
    server = run_api(idle_core, host="127.0.0.1", port=0, token_path=token_file)
    try:
        assert server.running and token_file.read_text().strip() == server.token
        assert httpx.get(f"{server.url}/api/v1/jobs", timeout=10).status_code == 200
    finally:
        # what `sttdesk serve` does on SIGTERM: stop from another thread than the one that started it
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        stopper.join(30)
    assert not server.running
    server.stop()  # a second stop is harmless


def test_a_job_submitted_before_a_restart_finishes_after_it(tmp_path: Path, models_dir: Path, en_audio: Path
                                                            ) -> None:
    root = tmp_path / "restart"
    with (make_core(root, models_dir, agents=0) as first, ApiServer(first, port=0) as server,
          httpx.Client(base_url=server.url, timeout=30) as client):
        job_id = upload(client, en_audio / CLIP, language="en").json()["job_id"]
        assert client.get(f"/api/v1/jobs/{job_id}").json()["status"] == "PENDING"
    with make_core(root, models_dir, agents=1) as second, ApiServer(second, port=0) as server:
        assert len(upload_folders(second)) == 1  # the source is still needed: it survived the start-up sweep
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert wait_for_status(client, job_id)["status"] == "COMPLETED"
            assert client.get(f"/api/v1/jobs/{job_id}/result").status_code == 200


@pytest.mark.slow
def test_fifty_concurrent_uploads_all_get_ids_and_none_is_lost(running_core: Core, en_audio: Path) -> None:
    clips = sorted(en_audio.glob("*.flac"))[:10]
    before = running_core.service.count()
    with ApiServer(running_core, port=0) as server:
        def send(index: int) -> str:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                response = upload(client, clips[index % len(clips)], name=f"upload-{index:02d}.flac", language="en")
                assert response.status_code == 202, response.text
                return response.json()["job_id"]

        with ThreadPoolExecutor(max_workers=10) as pool:
            ids = list(pool.map(send, range(50)))
        assert len(set(ids)) == 50
        assert running_core.service.count() == before + 50
        with httpx.Client(base_url=server.url, timeout=30) as client:
            names = set()
            for job_id in ids:
                job = wait_for_status(client, job_id, timeout=180)
                assert job["status"] == "COMPLETED", job
                names.add(job["name"])
            assert names == {f"upload-{index:02d}.flac" for index in range(50)}


@pytest.mark.slow
@pytest.mark.model
def test_real_whisper_transcribes_an_upload(tmp_path: Path, real_models_dir: Path, en_audio: Path) -> None:
    if not (real_models_dir / "manifest.json").is_file():
        pytest.skip("no whisper model installed (sttdesk models install-default)")
    clip = "2289-152253-0000.flac"
    reference = read_transcripts(en_audio)[clip]
    with make_core(tmp_path, real_models_dir, agents=1, engine="whisper") as core:
        wait_for_agents(core, timeout=120)
        with ApiServer(core, port=0) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            response = upload(client, en_audio / clip, language="en")
            assert response.status_code == 202
            job_id = response.json()["job_id"]
            job = wait_for_status(client, job_id, timeout=300)
            assert job["status"] == "COMPLETED", job
            text = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "txt"}).text
            document = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "json"}).json()
    assert document["language"] == "en" and document["segments"]
    assert word_error_rate([normalize_english(reference)], [normalize_english(text)]) < 0.15
