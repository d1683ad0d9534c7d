"""The REST API of a real ``sttdesk serve`` process, over real HTTP on loopback.

Real everything: the server is its own process with its own local agent,
which runs whisper.cpp with the installed base-q8_0 model on real speech.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
import srt
import webvtt

from sttdesk.audio.probe import probe
from sttdesk.domain.exporters.json_format import SCHEMA, from_json
from tests.conftest import read_transcripts
from tests.engine.wer import normalize_english, word_error_rate

from .helpers import DEFAULT_MODEL, error_of, multipart_body, upload
from .serve_process import ServeProcess, serve_env

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.timeout(900)]

#: 15 s of speech: a few seconds of whisper.cpp on one thread.
CLIP = "2289-152253-0000.flac"
#: Clips queued ahead of it, so the upload is answered while other work waits.
QUEUED = ("103-1240-0000.flac", "1081-125237-0000.flac", "163-121908-0000.flac")
#: Generous: one whisper.cpp thread on a machine shared with other test runs.
JOB_TIMEOUT = 600.0


@pytest.fixture
def whisper_env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    # one local agent with one thread: the machine is shared
    return serve_env(tmp_path / "home", models_dir, processing__pool_agents="1", processing__pool_threads="1")


def poll(client: httpx.Client, job_id: str, statuses: tuple[str, ...] = ("COMPLETED", "FAILED"),
         timeout: float = JOB_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s: {job}"
        time.sleep(0.5)


def raw_request(url: str, head: str) -> tuple[int, bytes]:
    """Send request headers (no body) on a plain socket; the status and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_upload_202_poll_and_every_format_from_a_real_server(whisper_env: dict[str, str], en_audio: Path) -> None:
    reference = read_transcripts(en_audio)[CLIP]
    seconds = probe(en_audio / CLIP).duration
    with ServeProcess(whisper_env) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        server.wait_ready()
        queued = [upload(client, en_audio / name, language="en").json()["job_id"] for name in QUEUED]
        started = time.perf_counter()
        response = upload(client, en_audio / CLIP, language="en")
        answered = time.perf_counter() - started
        assert response.status_code == 202, response.text
        body = response.json()
        job_id = body["job_id"]
        assert body["status"] == "PENDING" and body["links"]["self"] == f"/api/v1/jobs/{job_id}"
        # answered before any of it was transcribed: the jobs queued before it are not done either
        assert client.get(f"/api/v1/jobs/{queued[0]}").json()["status"] in ("PENDING", "PROCESSING")

        job = poll(client, job_id)
        assert job["status"] == "COMPLETED", job
        assert job["model"] == DEFAULT_MODEL and job["duration_seconds"] == pytest.approx(seconds, abs=0.05)
        results = {fmt: client.get(f"/api/v1/jobs/{job_id}/result", params={"format": fmt})
                   for fmt in ("txt", "json", "srt", "vtt")}
        for others in queued:
            assert poll(client, others)["status"] == "COMPLETED"
        assert server.stop() == 0
    print(f"POST /api/v1/jobs answered in {answered * 1000:.0f} ms with {len(queued)} jobs queued")

    assert all(r.status_code == 200 for r in results.values()), {f: r.text for f, r in results.items()}
    text = results["txt"].text
    assert word_error_rate([normalize_english(reference)], [normalize_english(text)]) < 0.15
    document = results["json"].json()
    transcript = from_json(results["json"].text)  # the schema's own strict reader
    assert document["schema"] == SCHEMA and document["complete"] is True and document["language"] == "en"
    assert transcript.segments and all(0 <= s.start < s.end <= seconds + 0.05 for s in transcript.segments)
    assert " ".join(document["text"].split()) == " ".join(text.split())
    cues = list(srt.parse(results["srt"].text))
    assert cues and all(a.end <= b.start for a, b in zip(cues, cues[1:]))
    assert " ".join(c.content for c in cues).split() == " ".join(s.text for s in transcript.segments).split()
    captions = webvtt.from_string(results["vtt"].text)
    assert [c.text for c in captions] == [c.content for c in cues]


def test_every_documented_error_status_from_real_bad_requests(whisper_env: dict[str, str], en_audio: Path,
                                                              tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording\n")
    with ServeProcess(whisper_env) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        pending = upload(client, en_audio / QUEUED[0], language="en").json()["job_id"]
        body, content_type = multipart_body([("file", "a.wav", b"RIFF" * 100)])
        statuses = {
            "bad_language": upload(client, en_audio / CLIP, language="fr"),
            "unknown_model": upload(client, en_audio / CLIP, language="en", model="large-v9"),
            "bad_format": client.get(f"/api/v1/jobs/{pending}/result", params={"format": "docx"}),
            "not_a_recording": upload(client, notes, language="en"),
            "not_multipart": client.post("/api/v1/jobs", json={"file": "x"}),
            "unknown_job": client.get("/api/v1/jobs/0123456789ab"),
            "not_ready": client.get(f"/api/v1/jobs/{pending}/result"),
            "retry_unfailed": client.post(f"/api/v1/jobs/{pending}/retry"),
            "cut_body": client.post("/api/v1/jobs", content=body[:-30], headers={"Content-Type": content_type}),
            "wrong_method": client.put("/api/v1/jobs"),
        }
        too_large, too_large_body = raw_request(server.url, (
            f"POST /api/v1/jobs HTTP/1.1\r\nHost: {server.url.removeprefix('http://')}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 5000000000\r\n"
            "Connection: close\r\n\r\n"))
        assert server.stop() == 0
    expected = {"bad_language": (422, "unsupported_language"), "unknown_model": (422, "model_unavailable"),
                "bad_format": (422, "unknown_export_format"), "not_a_recording": (415, "unsupported_file_type"),
                "not_multipart": (415, "not_multipart"), "unknown_job": (404, "job_not_found"),
                "not_ready": (409, "result_not_ready"), "retry_unfailed": (409, "job_state"),
                "cut_body": (400, "malformed_upload"), "wrong_method": (405, "method_not_allowed")}
    assert {name: (r.status_code, error_of(r)["code"]) for name, r in statuses.items()} == expected
    assert too_large == 413 and b'"file_too_large"' in too_large_body


def test_a_server_off_loopback_answers_401_without_the_token(tmp_path: Path, models_dir: Path) -> None:
    import subprocess
    import sys

    env = serve_env(tmp_path / "home", models_dir)
    with ServeProcess(env, "--host", "0.0.0.0", "--agents", "0") as server:
        url = server.url.replace("0.0.0.0", "127.0.0.1")
        refused = httpx.get(f"{url}/api/v1/jobs", timeout=30)
        shown = subprocess.run([sys.executable, "-m", "sttdesk.cli.main", "serve", "--show-token"], env=env,
                               capture_output=True, text=True, timeout=120, check=True)
        token = shown.stdout.strip()
        allowed = httpx.get(f"{url}/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        wrong = httpx.get(f"{url}/api/v1/jobs", headers={"Authorization": "Bearer nope"}, timeout=30)
        assert server.stop() == 0
    assert "token required" in server.output
    assert refused.status_code == 401 and error_of(refused)["code"] == "token_required"
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "token_invalid"
    assert allowed.status_code == 200 and allowed.json()["total"] == 0


def test_a_job_submitted_before_a_kill_is_there_after_the_restart_and_finishes(
    whisper_env: dict[str, str], en_audio: Path
) -> None:
    with ServeProcess(whisper_env) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        response = upload(client, en_audio / CLIP, language="en")
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        server.kill()  # right after the 202: nothing had time to finish
    with ServeProcess(whisper_env) as again, httpx.Client(base_url=again.url, timeout=60) as client:
        assert client.get(f"/api/v1/jobs/{job_id}").status_code == 200
        job = poll(client, job_id)
        assert job["status"] == "COMPLETED", job
        text = client.get(f"/api/v1/jobs/{job_id}/result").text
        assert again.stop() == 0
    reference = read_transcripts(en_audio)[CLIP]
    assert word_error_rate([normalize_english(reference)], [normalize_english(text)]) < 0.15
