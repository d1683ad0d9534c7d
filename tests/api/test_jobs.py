"""The job endpoints over a real core (SQLite store, coordinator, a fake-engine agent process)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
import srt
import webvtt

from sttdesk.app import Core

from .helpers import error_of, multipart_body, upload, upload_folders, wait_for_status

CLIP = "103-1240-0000.flac"


def test_upload_answers_202_at_once_then_completes_with_all_formats(running_core: Core, client_for, en_audio: Path
                                                                   ) -> None:
    client = client_for(running_core)
    response = upload(client, en_audio / CLIP, name="Bài nói.flac", language="en")
    assert response.status_code == 202, response.text
    body = response.json()
    job_id = body["job_id"]
    assert body["status"] == "PENDING"
    assert body["links"]["self"] == f"/api/v1/jobs/{job_id}"
    assert response.headers["location"] == body["links"]["self"]

    job = wait_for_status(client, job_id)
    assert job["status"] == "COMPLETED", job
    assert job["name"] == "Bài nói.flac"
    assert job["language"] == "en"
    assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] >= 1
    assert job["duration_seconds"] == pytest.approx(14.1, abs=0.2)
    assert job["timings"]["finished_at"] >= job["timings"]["created_at"]
    assert job["error"] is None and job["retries"] == 0
    assert "path" not in job and str(running_core.paths.data_dir) not in json.dumps(job)

    results = {}
    for fmt in ("txt", "json", "srt", "vtt"):
        result = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": fmt})
        assert result.status_code == 200, result.text
        disposition = result.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"Bài nói.{fmt}"
        assert 'filename="Bai noi.' in disposition  # the ASCII fallback keeps the letters
        results[fmt] = result
    assert results["txt"].headers["content-type"].startswith("text/plain")
    assert results["json"].headers["content-type"].startswith("application/json")
    assert results["srt"].headers["content-type"].startswith("application/x-subrip")
    assert results["vtt"].headers["content-type"].startswith("text/vtt")

    text = results["txt"].text.strip()
    assert text  # the fake engine's words
    document = results["json"].json()
    assert document["schema"] == "sttdesk.transcript/1"
    assert document["complete"] is True
    assert " ".join(document["text"].split()) == " ".join(text.split())
    cues = list(srt.parse(results["srt"].text))
    assert cues and cues[-1].end.total_seconds() <= 14.2
    captions = webvtt.from_string(results["vtt"].text)
    assert len(captions) == len(cues)
    assert " ".join(c.text for c in captions).split() == " ".join(c.content for c in cues).split()


def test_a_file_named_like_audio_that_is_not_becomes_a_failed_job_with_its_error(running_core: Core, client_for,
                                                                                 tmp_path: Path) -> None:
    # ffprobe's verdict comes after the 202 (it takes longer than an answer may): the job fails with it
    client = client_for(running_core)
    bogus = tmp_path / "minutes.mp3"
    bogus.write_bytes(b"these are meeting minutes, not a recording\n" * 200)
    response = upload(client, bogus, language="en")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    job = wait_for_status(client, job_id)
    assert job["status"] == "FAILED"
    error = job["error"]
    assert error["code"] == "undecodable_audio"
    assert "minutes.mp3" in error["message_en"] and "minutes.mp3" in error["message_vi"]
    assert error["message_en"] != error["message_vi"]
    assert str(running_core.paths.data_dir) not in json.dumps(job)
    result = client.get(f"/api/v1/jobs/{job_id}/result")
    assert result.status_code == 409 and error_of(result)["code"] == "result_not_ready"
    folders = upload_folders(running_core)
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204
    assert len(upload_folders(running_core)) == len(folders) - 1


def test_a_video_without_sound_becomes_a_failed_job(running_core: Core, client_for, tmp_path: Path) -> None:
    import subprocess

    video = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-an", "-y", str(video)],
                   check=True)
    client = client_for(running_core)
    response = upload(client, video)
    assert response.status_code == 202, response.text
    job = wait_for_status(client, response.json()["job_id"])
    assert job["status"] == "FAILED" and job["error"]["code"] == "no_audio_stream"


@pytest.mark.parametrize(("name", "content", "content_type", "code"), [
    ("notes.txt", b"meeting notes\n" * 100, None, "unsupported_file_type"),
    ("report.pdf", b"%PDF-1.4 not a recording", None, "unsupported_file_type"),
    ("talk.mp3", b"ID3 not really", "text/plain", "unsupported_file_type"),
    ("recording", b"RIFF no extension", "application/octet-stream", "unsupported_file_type"),
    ("empty.wav", b"", None, "empty_file"),
], ids=["text", "pdf", "declared-text", "no-extension", "empty"])
def test_what_cannot_be_a_recording_is_refused_with_415_at_once(running_core: Core, client_for, tmp_path: Path,
                                                                name: str, content: bytes, content_type: str | None,
                                                                code: str) -> None:
    client = client_for(running_core)
    before, jobs = upload_folders(running_core), running_core.service.count()
    file = (name, content, content_type) if content_type else (name, content)
    response = client.post("/api/v1/jobs", files={"file": file}, data={"language": "en"})
    assert response.status_code == 415, response.text
    error = error_of(response)
    assert error["code"] == code
    assert name in error["message_en"] and name in error["message_vi"]
    assert upload_folders(running_core) == before and running_core.service.count() == jobs


def test_a_name_without_extension_declared_as_audio_is_accepted(idle_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(idle_core)
    response = client.post("/api/v1/jobs", files={"file": ("recording", (en_audio / CLIP).read_bytes(), "audio/flac")})
    assert response.status_code == 202, response.text
    assert client.get(f"/api/v1/jobs/{response.json()['job_id']}").json()["name"] == "recording"


def test_a_body_that_is_not_multipart_is_refused_with_415(running_core: Core, client_for) -> None:
    response = client_for(running_core).post("/api/v1/jobs", content=b'{"file": "x"}',
                                             headers={"Content-Type": "application/json"})
    assert response.status_code == 415
    assert error_of(response)["code"] == "not_multipart"


@pytest.mark.parametrize("field_first", [True, False], ids=["language-before-file", "language-after-file"])
def test_unknown_language_is_refused_with_422(running_core: Core, client_for, en_audio: Path,
                                              field_first: bool) -> None:
    client = client_for(running_core)
    before = upload_folders(running_core)
    parts = [("file", CLIP, (en_audio / CLIP).read_bytes())]
    field = ("language", None, b"fr")
    body, content_type = multipart_body([field, *parts] if field_first else [*parts, field])
    response = client.post("/api/v1/jobs", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unsupported_language"
    assert "'fr'" in error["message_en"]
    assert upload_folders(running_core) == before


def test_unknown_model_is_refused_with_422(running_core: Core, client_for, en_audio: Path) -> None:
    response = upload(client_for(running_core), en_audio / CLIP, language="en", model="large-v9")
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "model_unavailable"
    assert "large-v9" in error["message_en"]


@pytest.mark.parametrize("url", ["ftp://example.org/hook", "not a url", "http://user:pw@example.org/", "http:///x"])
def test_bad_callback_url_is_refused_with_422(running_core: Core, client_for, en_audio: Path, url: str) -> None:
    response = upload(client_for(running_core), en_audio / CLIP, callback_url=url)
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_callback_url"


def test_form_without_file_or_with_unknown_fields_is_refused_with_422(running_core: Core, client_for) -> None:
    client = client_for(running_core)
    body, content_type = multipart_body([("language", None, b"en")])
    response = client.post("/api/v1/jobs", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422
    assert error_of(response)["code"] == "missing_file"

    body, content_type = multipart_body([("lang", None, b"en"), ("file", "a.wav", b"RIFF")])
    response = client.post("/api/v1/jobs", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unexpected_field" and "'lang'" in error["message_en"]

    body, content_type = multipart_body([("file", "a.wav", b"RIFF"), ("file", "b.wav", b"RIFF")])
    response = client.post("/api/v1/jobs", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422
    assert error_of(response)["code"] == "unexpected_field"


def test_a_body_cut_before_its_closing_boundary_is_refused_with_400(running_core: Core, client_for) -> None:
    before = upload_folders(running_core)
    body, content_type = multipart_body([("file", "a.wav", b"RIFF" * 1000)])
    response = client_for(running_core).post("/api/v1/jobs", content=body[:-40],
                                             headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_upload"
    assert upload_folders(running_core) == before


def test_result_before_completion_is_409_with_the_status_and_partial_gives_what_is_done(
        idle_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(idle_core)
    job_id = upload(client, en_audio / CLIP, language="en").json()["job_id"]
    response = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "json"})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "result_not_ready"
    assert error["status"] == "PENDING" and "PENDING" in error["message_en"]

    partial = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "json", "partial": "true"})
    assert partial.status_code == 200
    assert partial.json()["complete"] is False
    assert partial.headers["x-sttdesk-job-status"] == "PENDING"
    assert ".partial.json" in partial.headers["content-disposition"]


def test_unknown_result_format_is_422(idle_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(idle_core)
    job_id = upload(client, en_audio / CLIP).json()["job_id"]
    response = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "docx"})
    assert response.status_code == 422
    assert error_of(response)["code"] == "unknown_export_format"


def test_unknown_and_malformed_job_ids(idle_core: Core, client_for) -> None:
    client = client_for(idle_core)
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/retry"), ("GET", "/result")):
        missing = client.request(method, f"/api/v1/jobs/0123456789ab{path}")
        assert missing.status_code == 404, (method, path)
        assert error_of(missing)["code"] == "job_not_found"
        malformed = client.request(method, f"/api/v1/jobs/..%2F..%2Fsttdesk.db{path}")
        assert malformed.status_code in (404, 422), (method, path)
        assert error_of(malformed)["code"] in ("invalid_job_id", "not_found")
        named = client.request(method, f"/api/v1/jobs/not-hex{path}")
        assert named.status_code == 422
        assert error_of(named)["code"] == "invalid_job_id"


def test_unknown_route_and_wrong_method(idle_core: Core, client_for) -> None:
    client = client_for(idle_core)
    response = client.get("/api/v1/transcripts")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    response = client.put("/api/v1/jobs")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


def test_list_is_paginated_and_filtered_by_status(idle_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(idle_core)
    ids = [upload(client, en_audio / name).json()["job_id"]
           for name in ("103-1240-0000.flac", "1081-125237-0000.flac", "163-121908-0000.flac")]
    idle_core.service.cancel(ids[0])

    first = client.get("/api/v1/jobs", params={"limit": 2}).json()
    assert first["total"] == 3 and len(first["jobs"]) == 2 and first["links"]["prev"] is None
    second = client.get(first["links"]["next"]).json()
    assert len(second["jobs"]) == 1 and second["links"]["next"] is None
    assert second["links"]["prev"] is not None
    assert {j["job_id"] for j in first["jobs"] + second["jobs"]} == set(ids)

    pending = client.get("/api/v1/jobs", params={"status": "pending"}).json()
    assert {j["job_id"] for j in pending["jobs"]} == set(ids[1:]) and pending["total"] == 2
    both = client.get("/api/v1/jobs", params=[("status", "PENDING"), ("status", "CANCELLED")]).json()
    assert both["total"] == 3
    comma = client.get("/api/v1/jobs", params={"status": "CANCELLED,COMPLETED"}).json()
    assert [j["job_id"] for j in comma["jobs"]] == [ids[0]]

    bad = client.get("/api/v1/jobs", params={"status": "DONE"})
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_status"
    too_many = client.get("/api/v1/jobs", params={"limit": 100000})
    assert too_many.status_code == 422 and error_of(too_many)["code"] == "invalid_request"
    negative = client.get("/api/v1/jobs", params={"offset": -1})
    assert negative.status_code == 422


def test_delete_cancels_and_removes_the_job_and_its_upload(idle_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(idle_core)
    job_id = upload(client, en_audio / CLIP).json()["job_id"]
    assert len(upload_folders(idle_core)) == 1
    response = client.delete(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 204
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert upload_folders(idle_core) == []
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 404


def test_upload_is_removed_when_another_front_end_deletes_the_job(idle_core: Core, client_for, en_audio: Path
                                                                  ) -> None:
    import time

    client = client_for(idle_core)
    job_id = upload(client, en_audio / CLIP).json()["job_id"]
    idle_core.service.delete(job_id)  # as the CLI or the GUI would
    deadline = time.monotonic() + 10
    while upload_folders(idle_core) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upload_folders(idle_core) == []


def test_retry_of_a_job_that_has_not_failed_is_409(idle_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(idle_core)
    job_id = upload(client, en_audio / CLIP).json()["job_id"]
    response = client.post(f"/api/v1/jobs/{job_id}/retry")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "job_state" and error["status"] == "PENDING"


def test_health_needs_an_agent_and_the_database(idle_core: Core, running_core: Core, client_for) -> None:
    idle = client_for(idle_core).get("/api/v1/health")
    assert idle.status_code == 503
    assert idle.json()["status"] == "not_ready"
    assert idle.json()["database"]["ok"] is True and idle.json()["agents"] == {"ok": False, "ready": 0, "total": 0}
    ready = client_for(running_core).get("/api/v1/health")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready" and ready.json()["agents"]["ready"] >= 1


def test_openapi_schema_documents_every_endpoint(idle_core: Core, client_for) -> None:
    client = client_for(idle_core)
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) >= {"/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/retry",
                          "/api/v1/jobs/{job_id}/result", "/api/v1/health", "/api/v1/metrics"}
    upload_form = paths["/api/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(upload_form["properties"]) == {"file", "language", "model", "callback_url"}
    assert "202" in paths["/api/v1/jobs"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_results_carry_the_users_corrections(running_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(running_core)
    job_id = upload(client, en_audio / CLIP, language="en").json()["job_id"]
    assert wait_for_status(client, job_id)["status"] == "COMPLETED"
    first = running_core.service.transcript(job_id, edits=False).segments[0]
    # a correction made in the desktop app (or any front end) through the core
    running_core.service.edit_segment(job_id, segment_index=0, segment_start=first.start,
                                      text="Corrected in the desktop app.")
    srt_text = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "srt"}).text
    cues = [cue for cue in srt.parse(srt_text) if cue.start.total_seconds() < first.end]
    # long segments are cut into several cues; the words keep the segment's span
    assert " ".join(cue.content for cue in cues).split() == "Corrected in the desktop app.".split()
    assert cues[0].start.total_seconds() == pytest.approx(first.start, abs=0.001)
    document = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "json"}).json()
    assert document["segments"][0]["text"] == "Corrected in the desktop app."
    txt = client.get(f"/api/v1/jobs/{job_id}/result", params={"format": "txt"}).text
    assert "Corrected in the desktop app." in txt and first.text.strip() not in txt
