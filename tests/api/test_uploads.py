"""Uploads: file names, the streaming multipart reader, size limits, clean-up, memory while streaming."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest

from sttdesk.api import ApiServer
from sttdesk.api.errors import MalformedUploadError, UploadTooLargeError
from sttdesk.api.uploads import (
    MAX_FILE_NAME_BYTES,
    MultipartUploadReader,
    UploadArea,
    human_size,
    sanitize_filename,
)
from sttdesk.app import Core

from .helpers import error_of, multipart_body, upload, upload_folders, wait_for_status

BOUNDARY = "sttdesk-test-boundary"


@pytest.mark.parametrize(("given", "stored"), [
    ("talk.mp3", "talk.mp3"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\lan\\Desktop\\họp tuần.m4a", "họp tuần.m4a"),
    ("..", "upload"),
    ("", "upload"),
    (None, "upload"),
    (".bashrc", "bashrc"),
    ("a\x00b\nc\u202e.wav", "abc.wav"),
    ('what?<"now">.wav', "what___now__.wav"),
    ("Ho\u0300a.mp3", "Hòa.mp3"),  # decomposed accents are stored composed (NFC)
    ("   .  ", "upload"),
])
def test_sanitize_filename(given: str | None, stored: str) -> None:
    assert sanitize_filename(given) == stored


@pytest.mark.parametrize(("size", "text"), [(512, "512 bytes"), (100_000, "100 kB"), (2_147_483_648, "2.1 GB"),
                                            (5_500_000, "5.5 MB")])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_sanitize_filename_bounds_long_names_keeping_the_extension() -> None:
    name = sanitize_filename("ữ" * 300 + ".flac")
    assert name.endswith(".flac")
    assert len(name.encode()) <= MAX_FILE_NAME_BYTES
    assert name[:-5] == "ữ" * ((MAX_FILE_NAME_BYTES - 5) // len("ữ".encode()))


def _reader(folder: Path, *, limit: int = 10_000_000) -> MultipartUploadReader:
    return MultipartUploadReader(BOUNDARY.encode(), folder, file_field="file", text_fields=("language", "model"),
                                 max_file_bytes=limit)


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_reader_writes_the_file_exactly_whatever_the_piece_size(tmp_path: Path, piece: int) -> None:
    # Content that looks like the start of a boundary must survive untouched.
    content = (b"\r\n--sttdesk-test-boundar" + bytes(range(256))) * 40 + b"\r\n--"
    body, _ = multipart_body([("language", None, b"vi"), ("file", "Bài 1.wav", content)], boundary=BOUNDARY)
    body = body.replace(b"B\xc3\xa0i", "Bài".encode())  # raw UTF-8 name, as clients send it
    reader = _reader(tmp_path)
    for start in range(0, len(body), piece):
        reader.feed(body[start:start + piece])
    received = reader.finish()
    assert received.filename == "Bài 1.wav"
    assert received.path == tmp_path / "Bài 1.wav"
    assert received.path.read_bytes() == content
    assert received.size_bytes == len(content)
    assert received.fields == {"language": "vi"}


def test_reader_stops_at_the_size_limit(tmp_path: Path) -> None:
    body, _ = multipart_body([("file", "big.wav", b"x" * 5000)], boundary=BOUNDARY)
    reader = _reader(tmp_path, limit=4096)
    with pytest.raises(UploadTooLargeError) as raised:
        for start in range(0, len(body), 1000):
            reader.feed(body[start:start + 1000])
    reader.close()
    assert "big.wav" in raised.value.user_message("en")
    assert (tmp_path / "big.wav").stat().st_size <= 4096


def test_reader_refuses_garbage_and_too_many_parts(tmp_path: Path) -> None:
    reader = _reader(tmp_path / "a")
    (tmp_path / "a").mkdir()
    with pytest.raises(MalformedUploadError):
        reader.feed(b"this is not multipart at all\r\n\r\n")
        reader.finish()
    parts = [("language", None, b"en")] + [("model", None, b"m")] * 20
    body, _ = multipart_body(parts, boundary=BOUNDARY)
    (tmp_path / "b").mkdir()
    reader = _reader(tmp_path / "b")
    with pytest.raises(Exception) as raised:
        reader.feed(body)
    assert getattr(raised.value, "code", "") in ("unexpected_field", "malformed_upload")


def test_oversized_upload_is_refused_with_413_and_nothing_is_kept(idle_core: Core, client_for, en_audio: Path
                                                                  ) -> None:
    client = client_for(idle_core, max_upload_bytes=100_000)
    clip = en_audio / "103-1240-0000.flac"  # 255 kB
    response = upload(client, clip)
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "file_too_large"
    assert "103-1240-0000.flac" in error["message_en"] and "100 kB" in error["message_en"]
    assert upload_folders(idle_core) == []
    assert idle_core.service.count() == 0


def test_oversized_chunked_upload_is_cut_off_while_streaming(idle_core: Core, client_for) -> None:
    client = client_for(idle_core, max_upload_bytes=200_000)
    body, content_type = multipart_body([("file", "long.wav", b"\0" * 1_000_000)])
    sent = []

    def pieces():  # no Content-Length: the limit can only be enforced on the bytes themselves
        for start in range(0, len(body), 65536):
            sent.append(start)
            yield body[start:start + 65536]

    response = client.post("/api/v1/jobs", content=pieces(), headers={"Content-Type": content_type})
    assert response.status_code == 413
    assert error_of(response)["code"] == "file_too_large"
    assert upload_folders(idle_core) == []


def test_declared_length_over_the_limit_is_refused_before_reading(idle_core: Core, client_for) -> None:
    client = client_for(idle_core, max_upload_bytes=1000)
    body, content_type = multipart_body([("file", "huge.wav", b"\0" * 3_000_000)])
    response = client.post("/api/v1/jobs", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 413
    assert upload_folders(idle_core) == []


def test_sweep_removes_old_uploads_no_job_uses_and_keeps_the_rest(tmp_path: Path) -> None:
    area = UploadArea(tmp_path / "uploads")
    used, orphan, fresh = area.new_folder(), area.new_folder(), area.new_folder()
    (used / "talk.wav").write_bytes(b"x")
    (orphan / "old.wav").write_bytes(b"x")
    foreign = tmp_path / "uploads" / "keep-me"
    foreign.mkdir()
    old = time.time() - 7200
    for folder in (used, orphan, foreign):
        os.utime(folder, (old, old))
    removed = area.sweep([("abc123", str(used / "talk.wav")), ("def456", "/elsewhere/x.wav")])
    assert removed == 1
    assert used.is_dir() and fresh.is_dir() and foreign.is_dir() and not orphan.exists()
    area.release("abc123")
    assert not used.exists()
    area.release("def456")  # not an upload: nothing to remove, no error


def _silent_wav(path: Path, data_bytes: int) -> None:
    """A 16 kHz mono 16-bit WAV of silence, written sparse (no disk, no time)."""
    header = (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", data_bytes))
    with open(path, "wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + data_bytes)


@pytest.mark.slow
def test_a_large_upload_streams_to_disk_without_growing_memory(running_core: Core, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    size = 192 * 1024 * 1024  # 1.7 h of 16 kHz speech-format silence
    source = tmp_path / "silence.wav"
    _silent_wav(source, size)
    with ApiServer(running_core, port=0) as server:
        tracemalloc.start()
        try:
            result = subprocess.run(
                [curl, "-sS", "-F", f"file=@{source}", "-F", "language=en", f"{server.url}/api/v1/jobs"],
                capture_output=True, text=True, timeout=300, check=True)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        accepted = json.loads(result.stdout)
        job_id = accepted["job_id"]
        assert accepted["status"] == "PENDING"
        # Python memory of the whole process (server, parser, job service) stayed tiny next to the file.
        assert peak < size / 8, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB upload"
        stored = running_core.store.find_job(job_id)
        assert Path(stored.source_path).stat().st_size == source.stat().st_size
        assert Path(stored.source_path).is_relative_to(running_core.paths.data_dir / "uploads")
        import httpx

        with httpx.Client(base_url=server.url, timeout=30) as client:
            job = wait_for_status(client, job_id, timeout=120)
            assert job["status"] == "COMPLETED"
            assert job["progress"]["chunks_total"] == 0  # all silence: nothing sent to an engine
            assert client.get(f"/api/v1/jobs/{job_id}/result").text.strip() == ""
            assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204
        assert not Path(stored.source_path).exists()
