"""Downloads against a real HTTP server on loopback: resume, checksums, errors, disk full."""

from __future__ import annotations

import errno
import hashlib
import http.server
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sttdesk.engine import download as dl
from sttdesk.engine.download import download, meta_path, part_path
from sttdesk.engine.errors import (
    ChecksumMismatchError,
    DiskFullError,
    DownloadCancelledError,
    DownloadError,
    NetworkError,
)

PAYLOAD = os.urandom(300_000)
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
SHA1 = hashlib.sha1(PAYLOAD).hexdigest()
CHUNK = 16_384


@dataclass
class Served:
    """How the test server answers for one path."""

    data: bytes
    #: Honour Range requests (206); False answers 200 with the whole file every time.
    ranges: bool = True
    #: Close the connection after this absolute byte offset, this many times.
    cut_at: int | None = None
    cuts: int = 0
    #: Send a Content-Length header.
    length: bool = True
    #: Answer this HTTP status instead of the file.
    status: int | None = None
    #: Once the cuts are used up, answer this status (a server that went away).
    then_status: int | None = None
    etag: str = '"v1"'


@dataclass
class Request:
    path: str
    range: str | None
    if_range: str | None


@dataclass
class ServerState:
    files: dict[str, Served] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, and a body without a length ends at close.
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        state: ServerState = self.server.state  # type: ignore[attr-defined]
        state.requests.append(Request(self.path, self.headers.get("Range"), self.headers.get("If-Range")))
        served = state.files.get(self.path)
        if served is None or served.status is not None:
            self.send_error(served.status if served else 404)
            return
        if served.cut_at is not None and served.cuts == 0 and served.then_status:
            self.send_error(served.then_status)
            return
        data, start = served.data, 0
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        use_range = served.ranges and wanted and (if_range is None or if_range == served.etag)
        if use_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if served.length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", served.etag)
        self.end_headers()
        if served.cut_at is not None and served.cuts > 0 and start < served.cut_at:
            served.cuts -= 1
            self.wfile.write(body[: served.cut_at - start])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = ServerState()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.state  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_downloads_and_verifies_with_progress(server, tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD)
    seen: list[tuple[int, int | None]] = []
    dest = tmp_path / "m.bin"
    result = download(f"{base}/m.bin", dest, sha256=SHA256, expected_size=len(PAYLOAD),
                      progress=lambda d, t: seen.append((d, t)), chunk_bytes=CHUNK)
    assert dest.read_bytes() == PAYLOAD
    assert (result.size, result.sha256, result.sha1, result.resumed_from) == (len(PAYLOAD), SHA256, SHA1, 0)
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 5
    assert not part_path(dest).exists() and not meta_path(dest).exists()


def test_sha1_from_the_catalog_is_checked(server, tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD)
    result = download(f"{base}/m.bin", tmp_path / "m.bin", sha1=SHA1)
    assert result.sha1 == SHA1


def test_cut_connection_resumes_within_the_call(server, tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD, cut_at=120_000, cuts=1)
    result = download(f"{base}/m.bin", tmp_path / "m.bin", sha256=SHA256, chunk_bytes=CHUNK)
    assert (tmp_path / "m.bin").read_bytes() == PAYLOAD
    assert result.requests == 2
    assert state.requests[0].range is None
    # The second request continued from where the first connection broke, with the ETag guard.
    assert state.requests[1].range == "bytes=120000-"
    assert state.requests[1].if_range == '"v1"'


def test_partial_file_is_resumed_by_a_later_call(server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(dl, "RETRY_DELAY_S", 0.01)
    base, state = server
    # The connection drops at 100 kB and the server then goes away: the call gives up
    # but keeps the bytes.
    state.files["/m.bin"] = Served(PAYLOAD, cut_at=100_000, cuts=1, then_status=503)
    dest = tmp_path / "m.bin"
    with pytest.raises(NetworkError) as caught:
        download(f"{base}/m.bin", dest, sha256=SHA256, max_attempts=2, chunk_bytes=CHUNK)
    assert caught.value.transient
    assert part_path(dest).stat().st_size == 100_000
    assert json.loads(meta_path(dest).read_text())["url"] == f"{base}/m.bin"
    # The server recovers; the next call asks only for the rest.
    state.files["/m.bin"].then_status = None
    state.requests.clear()
    result = download(f"{base}/m.bin", dest, sha256=SHA256)
    assert result.resumed_from == 100_000
    assert [r.range for r in state.requests] == ["bytes=100000-"]
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(server, tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD, ranges=False, cut_at=150_000, cuts=1)
    result = download(f"{base}/m.bin", tmp_path / "m.bin", sha256=SHA256, chunk_bytes=CHUNK)
    assert (tmp_path / "m.bin").read_bytes() == PAYLOAD
    assert state.requests[1].range == "bytes=150000-"  # asked to resume, got 200 and the whole file
    assert result.resumed_from == 0 and result.requests == 2


def test_partial_of_a_changed_file_restarts(server, tmp_path: Path) -> None:
    base, state = server
    dest = tmp_path / "m.bin"
    state.files["/m.bin"] = Served(os.urandom(len(PAYLOAD)), cut_at=50_000, cuts=1, then_status=503)
    with pytest.raises(NetworkError):
        download(f"{base}/m.bin", dest, max_attempts=1)
    # The server now has another version: If-Range makes it send the whole new file.
    state.files["/m.bin"] = Served(PAYLOAD, etag='"v2"')
    result = download(f"{base}/m.bin", dest, sha256=SHA256)
    assert dest.read_bytes() == PAYLOAD and result.resumed_from == 50_000
    assert state.requests[-1].if_range == '"v1"'


def test_partial_of_another_url_is_discarded(server, tmp_path: Path) -> None:
    base, state = server
    dest = tmp_path / "m.bin"
    part_path(dest).write_bytes(b"x" * 1000)
    meta_path(dest).write_text(json.dumps({"url": f"{base}/other.bin", "total": 5000, "validator": None}))
    state.files["/m.bin"] = Served(PAYLOAD)
    result = download(f"{base}/m.bin", dest, sha256=SHA256)
    assert result.resumed_from == 0 and dest.read_bytes() == PAYLOAD
    assert state.requests[0].range is None


def test_completed_part_from_a_killed_call_is_just_verified(server, tmp_path: Path) -> None:
    base, state = server
    dest = tmp_path / "m.bin"
    part_path(dest).write_bytes(PAYLOAD)
    meta_path(dest).write_text(json.dumps({"url": f"{base}/m.bin", "total": len(PAYLOAD), "validator": '"v1"'}))
    result = download(f"{base}/m.bin", dest, sha256=SHA256)
    assert result.requests == 0 and dest.read_bytes() == PAYLOAD
    assert state.requests == []


def test_404_is_a_clear_permanent_error(server, tmp_path: Path) -> None:
    base = server[0]
    with pytest.raises(DownloadError) as caught:
        download(f"{base}/nothing.bin", tmp_path / "n.bin")
    error = caught.value
    assert not isinstance(error, NetworkError) and not error.transient
    assert "404" in str(error) and f"{base}/nothing.bin" in str(error)
    assert "Tải xuống thất bại" in error.user_message("vi")
    assert not part_path(tmp_path / "n.bin").exists()


def test_server_errors_are_retried_then_reported_as_transient(server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(dl, "RETRY_DELAY_S", 0.01)
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD, status=503)
    with pytest.raises(NetworkError) as caught:
        download(f"{base}/m.bin", tmp_path / "m.bin", max_attempts=3)
    assert "HTTP 503" in str(caught.value)
    assert len(state.requests) == 3


def test_wrong_bytes_fail_the_checksum_and_are_deleted(server, tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = Served(bytes(reversed(PAYLOAD)))
    dest = tmp_path / "m.bin"
    with pytest.raises(ChecksumMismatchError) as caught:
        download(f"{base}/m.bin", dest, sha1=SHA1)
    assert caught.value.fields["expected"] == SHA1
    assert caught.value.fields["actual"] == hashlib.sha1(bytes(reversed(PAYLOAD))).hexdigest()
    assert not dest.exists() and not part_path(dest).exists()


def test_size_different_from_the_catalog_is_refused_before_downloading(server, tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD)
    with pytest.raises(DownloadError, match="300000 bytes, but 1234 were expected"):
        download(f"{base}/m.bin", tmp_path / "m.bin", expected_size=1234)


def test_missing_checksum_is_accepted_with_a_warning(server, tmp_path: Path, caplog) -> None:
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD)
    with caplog.at_level("WARNING", logger="sttdesk.engine.download"):
        download(f"{base}/m.bin", tmp_path / "m.bin")
    assert (tmp_path / "m.bin").read_bytes() == PAYLOAD
    assert "no checksum" in caplog.text


def test_closed_port_is_a_network_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(dl, "RETRY_DELAY_S", 0.01)
    with socket.socket() as probe:  # a port nobody listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError) as caught:
        download(f"http://127.0.0.1:{port}/m.bin", tmp_path / "m.bin", max_attempts=2)
    error = caught.value
    assert error.transient and error.code == "network_unreachable"
    assert f"127.0.0.1:{port}" in error.user_message("en") and "Kiểm tra mạng" in error.user_message("vi")


def test_non_http_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="only http and https"):
        download("file:///etc/passwd", tmp_path / "x")


def test_cancel_keeps_the_bytes_for_a_resume(server, tmp_path: Path) -> None:
    base, state = server
    state.files["/m.bin"] = Served(PAYLOAD)
    stop = threading.Event()

    def progress(done: int, total: int | None) -> None:
        if done >= 64_000:
            stop.set()

    dest = tmp_path / "m.bin"
    with pytest.raises(DownloadCancelledError):
        download(f"{base}/m.bin", dest, progress=progress, cancel=stop, chunk_bytes=CHUNK)
    kept = part_path(dest).stat().st_size
    assert 64_000 <= kept < len(PAYLOAD) and not dest.exists()
    result = download(f"{base}/m.bin", dest, sha256=SHA256, cancel=lambda: False)
    assert result.resumed_from == kept and dest.read_bytes() == PAYLOAD


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs, so writes fail with ENOSPC like on a full disk."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_too_small_is_reported_before_downloading(server, tiny_disk: Path) -> None:
    base, state = server
    state.files["/big.bin"] = Served(os.urandom(2 << 20))
    with pytest.raises(DiskFullError) as caught:
        download(f"{base}/big.bin", tiny_disk / "big.bin")
    assert caught.value.transient and str(tiny_disk) in caught.value.user_message("en")
    assert not (tiny_disk / "big.bin").exists()


def test_disk_filling_up_mid_download_is_disk_full_and_keeps_a_sane_partial(server, tiny_disk: Path) -> None:
    base, state = server
    big = os.urandom(2 << 20)
    # No Content-Length: the size is unknown up front, so the disk fills up while writing.
    state.files["/big.bin"] = Served(big, length=False)
    dest = tiny_disk / "big.bin"
    with pytest.raises(DiskFullError) as caught:
        download(f"{base}/big.bin", dest, chunk_bytes=CHUNK)
    assert isinstance(caught.value.__cause__, OSError) and caught.value.__cause__.errno == errno.ENOSPC
    kept = part_path(dest).read_bytes()
    assert 0 < len(kept) < len(big) and kept == big[: len(kept)]  # exactly a prefix: resumable
    assert not dest.exists()
