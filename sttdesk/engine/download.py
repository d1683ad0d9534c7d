"""Download one file over HTTP(S): resumable, checksummed, cancellable, with progress.

Bytes go to ``<dest>.part``; a small ``<dest>.part.json`` beside it remembers
which URL (and server version: ETag / Last-Modified) they came from, so a later
call resumes with an HTTP ``Range`` request instead of starting over. A server
that ignores the range (200 instead of 206) or whose file changed restarts the
download cleanly. Only a complete file whose checksum matches is renamed to
``dest`` (after fsync), so ``dest`` is never half-written.

Uses :mod:`urllib.request` (standard library), which honours the usual proxy
environment variables and follows redirects with the ``Range`` header kept.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import logging
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import (
    ChecksumMismatchError,
    DiskFullError,
    DownloadCancelledError,
    DownloadError,
    NetworkError,
)

log = logging.getLogger(__name__)

#: Seconds to wait for a connection or for the next bytes before giving up on a request.
DEFAULT_TIMEOUT_S = 30.0
#: Bytes read and written per step (also how often progress is reported).
DEFAULT_CHUNK_BYTES = 1 << 20
#: Requests in a row that may fail without bringing any bytes before we give up.
DEFAULT_MAX_ATTEMPTS = 4
#: First pause before retrying a failed request; doubles each time up to the cap.
RETRY_DELAY_S = 1.0
RETRY_DELAY_CAP_S = 16.0
#: Free space kept in reserve beyond the file itself when checking before a download.
DISK_RESERVE_BYTES = 16 << 20
USER_AGENT = "sttdesk-model-downloader/1"

PART_SUFFIX = ".part"
META_SUFFIX = ".part.json"

#: ``progress(done_bytes, total_bytes)``; total is None when the server does not say.
ProgressCallback = Callable[[int, "int | None"], None]


class _EventLike(Protocol):
    def is_set(self) -> bool: ...


#: A :class:`threading.Event` (set = cancel) or a callable returning True to cancel.
CancelToken = _EventLike | Callable[[], bool]


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """A finished, verified download."""

    #: Where the file now is (the ``dest`` given).
    path: Path
    #: Size in bytes.
    size: int
    #: SHA-256 of the file (always computed, for the model store's manifest).
    sha256: str
    #: SHA-1 of the file (always computed: whisper.cpp publishes SHA-1s).
    sha1: str
    #: The URL the file came from.
    url: str
    #: Bytes reused from an earlier, interrupted download (0 for a fresh one).
    resumed_from: int
    #: HTTP requests made, counting retries and resumes.
    requests: int


def part_path(dest: Path) -> Path:
    """Where the bytes of an unfinished download into ``dest`` are kept."""
    return dest.with_name(dest.name + PART_SUFFIX)


def meta_path(dest: Path) -> Path:
    """Where the identity of an unfinished download into ``dest`` is kept."""
    return dest.with_name(dest.name + META_SUFFIX)


def _cancelled(cancel: CancelToken | None) -> bool:
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    return bool(is_set()) if callable(is_set) else bool(cancel())  # type: ignore[operator]


class _Hashes:
    """SHA-256 and SHA-1 of the bytes so far."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.sha1 = hashlib.sha1()

    def update(self, data: bytes | memoryview) -> None:
        self.sha256.update(data)
        self.sha1.update(data)


class _Restart(Exception):
    """The partial file cannot be continued; start from byte 0."""


def _hash_prefix(path: Path, length: int, chunk: int) -> _Hashes:
    hashes = _Hashes()
    with path.open("rb") as handle:
        remaining = length
        while remaining:
            block = handle.read(min(chunk, remaining))
            if not block:
                raise _Restart(f"{path} is shorter than expected")
            hashes.update(block)
            remaining -= len(block)
    return hashes


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _content_range_total(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) of a ``Content-Range: bytes a-b/total`` header."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    first = span.split("-", 1)[0]
    try:
        return int(first), (None if total.strip() == "*" else int(total))
    except ValueError:
        return None, None


class _Download:
    """The state of one :func:`download` call."""

    def __init__(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str | None,
        sha1: str | None,
        expected_size: int | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        timeout: float,
        max_attempts: int,
        chunk_bytes: int,
    ) -> None:
        self.url = url
        self.dest = dest
        self.part = part_path(dest)
        self.meta_file = meta_path(dest)
        self.sha256 = sha256.lower() if sha256 else None
        self.sha1 = sha1.lower() if sha1 else None
        self.expected_size = expected_size
        self.progress = progress
        self.cancel = cancel
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.chunk_bytes = chunk_bytes
        self.done = 0
        self.total: int | None = expected_size
        self.validator: str | None = None
        self.hashes = _Hashes()
        self.requests = 0
        self.resumed_from = 0

    # --- the partial file -------------------------------------------------

    def _load_partial(self) -> None:
        """Pick up an earlier partial download of the same URL, if there is a sane one."""
        try:
            meta = json.loads(self.meta_file.read_text(encoding="utf-8"))
            size = self.part.stat().st_size
        except (OSError, ValueError):
            self._discard_partial()
            return
        if not isinstance(meta, dict) or meta.get("url") != self.url:
            log.info("discarding a partial download of another URL in %s", self.part)
            self._discard_partial()
            return
        total = meta.get("total")
        if self.expected_size is not None and total not in (None, self.expected_size):
            self._discard_partial()
            return
        if isinstance(total, int) and size > total:
            self._discard_partial()
            return
        try:
            self.hashes = _hash_prefix(self.part, size, self.chunk_bytes)
        except (OSError, _Restart):
            self._discard_partial()
            return
        self.done = self.resumed_from = size
        self.total = total if isinstance(total, int) else self.expected_size
        self.validator = meta.get("validator") if isinstance(meta.get("validator"), str) else None
        log.info("resuming %s at byte %d", self.url, size)

    def _discard_partial(self) -> None:
        self.part.unlink(missing_ok=True)
        self.meta_file.unlink(missing_ok=True)
        self.done = 0
        self.hashes = _Hashes()
        self.validator = None

    def _save_meta(self) -> None:
        data = {"url": self.url, "total": self.total, "validator": self.validator}
        temp = self.meta_file.with_name(self.meta_file.name + ".tmp")
        temp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temp, self.meta_file)

    # --- HTTP -------------------------------------------------------------

    def _open(self) -> http.client.HTTPResponse:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if self.done:
            headers["Range"] = f"bytes={self.done}-"
            if self.validator:
                # The server answers 200 with the whole new file if it changed.
                headers["If-Range"] = self.validator
        request = urllib.request.Request(self.url, headers=headers)
        self.requests += 1
        return urllib.request.urlopen(request, timeout=self.timeout)  # http(s) only: run() checks the scheme

    def _start_response(self, response: http.client.HTTPResponse) -> None:
        """Reconcile the response with the bytes we have; may restart from 0."""
        status = response.status
        length = response.headers.get("Content-Length")
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if status == 206:
            first, total = _content_range_total(response.headers.get("Content-Range"))
            if first != self.done:
                raise _Restart(f"server resumed at byte {first}, not {self.done}")
            if total is not None and self.total is not None and total != self.total:
                raise _Restart(f"file on the server is now {total} bytes, not {self.total}")
            self.total = total if total is not None else self.total
        else:
            if self.done:
                # 200 to a range request: the server ignores ranges or the file changed.
                log.info("server sent the whole file again; restarting %s", self.url)
                self.part.unlink(missing_ok=True)
                self.done = 0
                self.hashes = _Hashes()
            self.total = int(length) if length and length.isdigit() else self.expected_size
        if self.expected_size is not None and self.total is not None and self.total != self.expected_size:
            raise DownloadError(
                f"{self.url} is {self.total} bytes, but {self.expected_size} were expected; "
                "the file on the server is not the one the catalog describes"
            )
        self.validator = validator
        self._save_meta()
        self._check_space()

    def _check_space(self) -> None:
        if self.total is None:
            return
        needed = self.total - self.done
        free = shutil.disk_usage(self.part.parent).free
        if free < needed + DISK_RESERVE_BYTES:
            raise DiskFullError(
                f"{needed} more bytes are needed for {self.dest.name}, {free} are free",
                path=str(self.part.parent),
            )

    def _receive(self, response: http.client.HTTPResponse) -> None:
        """Append the body to the partial file; network errors propagate as OSError/HTTPException."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        fd = os.open(self.part, flags, 0o644)
        try:
            os.ftruncate(fd, self.done)  # drop anything past what was hashed
            self._report()
            while True:
                if _cancelled(self.cancel):
                    raise DownloadCancelledError(f"cancelled at byte {self.done}", url=self.url)
                block = response.read(self.chunk_bytes)
                if not block:
                    break
                try:
                    _write_all(fd, block)
                except OSError as exc:
                    self._write_failed(fd, exc)
                    raise  # not reached: _write_failed always raises
                self.hashes.update(block)
                self.done += len(block)
                self._report()
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.total is not None and self.done < self.total:
            raise http.client.IncompleteRead(b"", self.total - self.done)

    def _write_failed(self, fd: int, exc: OSError) -> None:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            # Keep exactly the bytes already hashed (the meta file beside them was
            # written before the body), so a later call can resume.
            try:
                os.ftruncate(fd, self.done)
            except OSError:
                self._discard_partial()
            raise DiskFullError(
                f"the disk filled up after {self.done} bytes of {self.dest.name}",
                path=str(self.part.parent),
            ) from exc
        raise DownloadError(f"cannot write {self.part}: {exc}") from exc

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)

    # --- the whole thing ---------------------------------------------------

    def run(self) -> DownloadResult:
        if not self.url.lower().startswith(("http://", "https://")):
            raise DownloadError(f"only http and https URLs can be downloaded, not '{self.url}'")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._load_partial()
        failures = 0
        delay = RETRY_DELAY_S
        while True:
            if _cancelled(self.cancel):
                raise DownloadCancelledError(f"cancelled at byte {self.done}", url=self.url)
            if self.total is not None and self.done == self.total and self.done:
                break  # an earlier call fetched everything but stopped before the rename
            before = self.done
            try:
                with self._open() as response:
                    self._start_response(response)
                    self._receive(response)
                break
            except _Restart as exc:
                log.info("restarting download of %s: %s", self.url, exc)
                self._discard_partial()
                failures += 1
                error: Exception = exc
            except urllib.error.HTTPError as exc:
                error = self._http_error(exc)
                failures += 1
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                # OSError covers refused/reset connections and socket timeouts.
                error = exc
                failures = 0 if self.done > before else failures + 1
            if failures >= self.max_attempts:
                raise NetworkError(
                    f"gave up after {self.requests} requests ({_describe(error)})", url=self.url
                ) from error
            log.warning("download of %s interrupted at byte %d (%s); retrying", self.url, self.done, _describe(error))
            if self.done == before:
                time.sleep(delay)
                delay = min(delay * 2, RETRY_DELAY_CAP_S)
        return self._finish()

    def _http_error(self, exc: urllib.error.HTTPError) -> Exception:
        """Turn an HTTP error status into a final error, or return it for a retry."""
        status = exc.code
        exc.close()
        if status == 416 and self.done:
            # Our range starts at or past the end: what we have is suspect, start over.
            self._discard_partial()
            return exc
        if status in (408, 429) or status >= 500:
            return exc
        reason = "not found" if status in (404, 410) else (exc.reason or "refused")
        raise DownloadError(f"{self.url} answered HTTP {status} ({reason})") from exc

    def _finish(self) -> DownloadResult:
        size = self.done
        if self.expected_size is not None and size != self.expected_size:
            self._discard_partial()
            raise DownloadError(f"{self.url} gave {size} bytes, {self.expected_size} were expected")
        actual256 = self.hashes.sha256.hexdigest()
        actual1 = self.hashes.sha1.hexdigest()
        if self.sha256 and actual256 != self.sha256:
            self._discard_partial()
            raise ChecksumMismatchError(
                "sha256 differs", path=self.url, expected=self.sha256, actual=actual256
            )
        if self.sha1 and actual1 != self.sha1:
            self._discard_partial()
            raise ChecksumMismatchError("sha1 differs", path=self.url, expected=self.sha1, actual=actual1)
        if not (self.sha256 or self.sha1):
            log.warning("no checksum is known for %s; it was downloaded without verification", self.url)
        os.replace(self.part, self.dest)
        _fsync_dir(self.dest.parent)
        self.meta_file.unlink(missing_ok=True)
        log.info("downloaded %s (%d bytes, %d requests)", self.dest, size, self.requests)
        return DownloadResult(
            path=self.dest,
            size=size,
            sha256=actual256,
            sha1=actual1,
            url=self.url,
            resumed_from=self.resumed_from,
            requests=self.requests,
        )


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        reason: Any = error.reason
        return str(reason.strerror if isinstance(reason, OSError) and reason.strerror else reason)
    if isinstance(error, http.client.IncompleteRead):
        return "connection closed before the end of the file"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(error) or type(error).__name__


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    sha1: str | None = None,
    expected_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming an earlier partial download of the same URL.

    The file is verified against ``sha256`` (preferred) or ``sha1`` and
    ``expected_size`` when given; with no checksum at all it is accepted with a
    logged warning. Interrupted transfers are resumed with ``Range`` requests
    within this call (up to ``max_attempts`` requests in a row that bring no
    bytes) and across calls.

    Raises :class:`DownloadError` (HTTP 404 and other refusals, size mismatch),
    :class:`NetworkError` (cannot connect, connection keeps dropping; transient),
    :class:`ChecksumMismatchError` (bytes differ; the partial file is deleted),
    :class:`DiskFullError` (not enough room; the bytes so far are kept for a
    resume) or :class:`DownloadCancelledError` (``cancel`` fired; kept too).
    """
    return _Download(
        url,
        Path(dest),
        sha256=sha256,
        sha1=sha1,
        expected_size=expected_size,
        progress=progress,
        cancel=cancel,
        timeout=timeout,
        max_attempts=max_attempts,
        chunk_bytes=chunk_bytes,
    ).run()


def discard_partial(dest: Path) -> None:
    """Forget an unfinished download into ``dest`` (its bytes and its identity)."""
    part_path(dest).unlink(missing_ok=True)
    meta_path(dest).unlink(missing_ok=True)
