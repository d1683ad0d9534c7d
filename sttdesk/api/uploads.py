"""Uploaded recordings: streamed from the request body straight into the data folder.

A multipart body is parsed piece by piece as it arrives (python-multipart's
streaming parser); the ``file`` part is written to
``<data>/uploads/<random hex>/<sanitised name>`` as it comes, so an upload never
sits in memory whole, and the size limit is enforced while it streams. The
client's file name is cleaned to one harmless path component and only ever
used inside a folder the server named itself. A refused or broken upload
leaves nothing behind.

Each upload keeps its folder until its job is deleted: the job service reads
the source again when a job that failed before it was cut into chunks is
retried, or when the server restarts before the job was prepared.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from .errors import (
    MalformedUploadError,
    MissingFileError,
    NotMultipartError,
    UnexpectedFieldError,
    UploadStorageError,
    UploadTooLargeError,
)

log = logging.getLogger(__name__)

#: Folder of the data folder holding uploads.
UPLOADS_DIR_NAME = "uploads"
#: Name given to a file whose client sent no usable name.
DEFAULT_FILE_NAME = "upload"
#: Longest stored file name in UTF-8 bytes (most file systems allow 255).
MAX_FILE_NAME_BYTES = 200
#: Longest extension kept from the client's name.
MAX_EXTENSION_CHARS = 16
#: Largest value of a text field (language, model, callback URL).
MAX_FIELD_BYTES = 4096
#: Most parts a form may have; a legitimate form has at most four.
MAX_PARTS = 16
#: Room for the text fields and part headers beyond the file itself.
FORM_OVERHEAD_BYTES = 1024 * 1024
#: Body bytes gathered before handing them to the parser thread: bounds memory and thread hops.
FEED_BATCH_BYTES = 256 * 1024
#: Folders that no job names are removed once this old (seconds): a fresh one may be an upload in flight.
ORPHAN_GRACE_SECONDS = 3600.0
#: Only folders with names like ours are ever removed.
_FOLDER_NAME = re.compile(r"^[0-9a-f]{32}$")
#: Characters Windows and some shares refuse in names; replaced so a copied file still opens everywhere.
_AWKWARD_CHARS = re.compile(r'[<>:"|?*\\/]')


def human_size(size: int) -> str:
    """A byte count for people: "200 kB", "2.1 GB"."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" or value >= 10 else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def sanitize_filename(name: str | None) -> str:
    """A client's file name made into one harmless path component (never empty, never hidden)."""
    if not name:
        return DEFAULT_FILE_NAME
    text = unicodedata.normalize("NFC", name)
    # Browsers of old sent the whole client path: keep its last component only.
    text = re.split(r"[\\/]", text)[-1]
    # Control and format characters (newlines, bidi overrides, NUL) have no place in a name.
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _AWKWARD_CHARS.sub("_", text).strip().strip(".").strip()
    if not text:
        return DEFAULT_FILE_NAME
    suffix = PurePosixPath(text).suffix
    if len(suffix) > MAX_EXTENSION_CHARS or suffix == text:
        suffix = ""
    stem = text[: len(text) - len(suffix)] if suffix else text
    room = MAX_FILE_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:room].decode(errors="ignore").rstrip(". ") or DEFAULT_FILE_NAME
    return stem + suffix


@dataclass(slots=True)
class ReceivedUpload:
    """A file received from a client, stored in its own folder, with the form's text fields."""

    #: The stored file.
    path: Path
    #: Its folder, removed with it.
    folder: Path
    #: The cleaned file name (what the job shows).
    filename: str
    size_bytes: int
    #: Text fields of the form, by name.
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        """Remove the stored file and its folder."""
        shutil.rmtree(self.folder, ignore_errors=True)


class UploadArea:
    """The uploads folder: makes a folder per upload and removes the ones no job needs."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._by_job: dict[str, Path] = {}
        self._lock = threading.Lock()

    def new_folder(self) -> Path:
        """A fresh, empty folder only its owner may enter."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            folder = self.root / secrets.token_hex(16)
            folder.mkdir(mode=0o700)
        except OSError as exc:
            raise UploadStorageError(exc.strerror or str(exc)) from exc
        return folder

    def folder_of(self, path: str | Path) -> Path | None:
        """The upload folder holding ``path``, if ``path`` is an upload."""
        try:
            relative = Path(path).resolve().relative_to(self.root)
        except (ValueError, OSError):
            return None
        if len(relative.parts) != 2 or not _FOLDER_NAME.match(relative.parts[0]):
            return None
        return self.root / relative.parts[0]

    def register(self, job_id: str, source_path: str | Path) -> None:
        """Remember that ``job_id`` reads its source from an upload (ignored for other paths)."""
        folder = self.folder_of(source_path)
        if folder is not None:
            with self._lock:
                self._by_job[job_id] = folder

    def release(self, job_id: str) -> None:
        """The job is gone: remove its upload, if it had one."""
        with self._lock:
            folder = self._by_job.pop(job_id, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
            log.debug("removed the upload of deleted job %s", job_id)

    def sweep(self, sources: Iterable[tuple[str, str]], *, now: float | None = None,
              grace_seconds: float = ORPHAN_GRACE_SECONDS) -> int:
        """Register every job's upload, then remove old upload folders no job names; returns how many.

        ``sources`` are (job id, source path) of every job in the store.
        """
        for job_id, path in sources:
            self.register(job_id, path)
        with self._lock:
            kept = set(self._by_job.values())
        if not self.root.is_dir():
            return 0
        now = time.time() if now is None else now
        removed = 0
        for folder in self.root.iterdir():
            if not folder.is_dir() or not _FOLDER_NAME.match(folder.name) or folder in kept:
                continue
            try:
                age = now - folder.stat().st_mtime
            except OSError:
                continue
            if age >= grace_seconds:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        if removed:
            log.info("removed %d upload folder(s) that no job uses", removed)
        return removed


#: Called with (field name, value) as each text field completes; raises to refuse the upload early.
FieldCheck = Callable[[str, str], None]
#: Called with (cleaned file name, declared Content-Type) when the file part starts, before a byte is stored.
FileCheck = Callable[[str, str], None]


class MultipartUploadReader:
    """Parses one multipart/form-data body: text fields in memory, the file part onto disk.

    Feed it the body with :meth:`feed` (blocking file writes happen there: call
    it from a worker thread), then :meth:`finish`. Any error leaves the folder
    for the caller to discard.
    """

    def __init__(
        self,
        boundary: bytes,
        folder: Path,
        *,
        file_field: str,
        text_fields: Iterable[str],
        max_file_bytes: int,
        check_field: FieldCheck | None = None,
        check_file: FileCheck | None = None,
    ) -> None:
        self._folder = folder
        self._file_field = file_field
        self._text_fields = frozenset(text_fields)
        self._max_file_bytes = max_file_bytes
        self._check_field = check_field or (lambda name, value: None)
        self._check_file = check_file or (lambda name, content_type: None)
        self._fields: dict[str, str] = {}
        self._parts = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._part_name: str | None = None
        self._field_value = bytearray()
        self._file: IO[bytes] | None = None
        self._file_path: Path | None = None
        self._file_name = DEFAULT_FILE_NAME
        self._file_bytes = 0
        self._file_done = False
        self._ended = False
        try:
            self._parser = MultipartParser(boundary, callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            })
        except FormParserError as exc:
            raise MalformedUploadError(str(exc)) from exc

    @property
    def allowed(self) -> str:
        return ", ".join([self._file_field, *sorted(self._text_fields)])

    def feed(self, data: bytes) -> None:
        """Parse the next piece of the body."""
        if self._ended:
            return  # bytes after the closing boundary are an epilogue: ignored
        try:
            self._parser.write(data)
        except FormParserError as exc:
            raise MalformedUploadError(str(exc)) from exc

    def finish(self) -> ReceivedUpload:
        """Check the body was whole and had a file; returns what was received."""
        self._close_file()
        if not self._ended:
            raise MalformedUploadError("the body ended before the form's closing boundary")
        if self._file_path is None or not self._file_done:
            raise MissingFileError()
        return ReceivedUpload(path=self._file_path, folder=self._folder, filename=self._file_name,
                              size_bytes=self._file_bytes, fields=dict(self._fields))

    def close(self) -> None:
        """Close the file if a failure left it open."""
        self._close_file()

    # --- parser callbacks -------------------------------------------------------------

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise MalformedUploadError(f"the form has more than {MAX_PARTS} parts")
        self._headers = {}
        self._header_name.clear()
        self._header_value.clear()
        self._part_name = None
        self._field_value.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").strip().lower()] = bytes(self._header_value).strip()
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition", b""))
        if disposition != b"form-data" or b"name" not in params:
            raise MalformedUploadError("a part has no 'Content-Disposition: form-data; name=...' header")
        name = params[b"name"].decode("utf-8", errors="replace")
        if name == self._file_field:
            if self._file_path is not None:
                raise UnexpectedFieldError(field=name, allowed=self.allowed)
            raw_name = params.get(b"filename")
            # Clients send UTF-8 file names as raw bytes (RFC 7578 §4.2).
            self._file_name = sanitize_filename(raw_name.decode("utf-8", errors="replace") if raw_name else None)
            self._check_file(self._file_name, self._headers.get("content-type", b"").decode("latin-1"))
            self._file_path = self._folder / self._file_name
            try:
                self._file = open(self._file_path, "xb")  # noqa: SIM115 - closed in _part_end or close()
            except OSError as exc:
                raise UploadStorageError(exc.strerror or str(exc)) from exc
        elif name not in self._text_fields or name in self._fields:
            raise UnexpectedFieldError(field=name[:100], allowed=self.allowed)
        self._part_name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self._max_file_bytes:
                raise UploadTooLargeError(name=self._file_name, limit=human_size(self._max_file_bytes))
            try:
                self._file.write(data[start:end])
            except OSError as exc:
                raise UploadStorageError(exc.strerror or str(exc)) from exc
        else:
            self._field_value += data[start:end]
            if len(self._field_value) > MAX_FIELD_BYTES:
                raise MalformedUploadError(f"the field '{self._part_name}' is longer than {MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._part_name is None:
            return
        if self._part_name == self._file_field:
            self._close_file()
            self._file_done = True
            return
        try:
            value = self._field_value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedUploadError(f"the field '{self._part_name}' is not UTF-8 text") from exc
        self._fields[self._part_name] = value
        self._check_field(self._part_name, value)

    def _end(self) -> None:
        self._ended = True

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                raise UploadStorageError(exc.strerror or str(exc)) from exc
            finally:
                self._file = None


def multipart_boundary(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data Content-Type; NotMultipartError for anything else."""
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise NotMultipartError(content_type=(content_type or "none")[:100])
    return boundary


async def receive_upload(
    request: Request,
    area: UploadArea,
    *,
    max_file_bytes: int,
    file_field: str = "file",
    text_fields: Iterable[str] = (),
    check_field: FieldCheck | None = None,
    check_file: FileCheck | None = None,
) -> ReceivedUpload:
    """Stream the multipart body of ``request`` into a new upload folder; returns the upload.

    Raises (and leaves nothing on disk): NotMultipartError, UploadTooLargeError
    (from Content-Length at once, or while streaming), MalformedUploadError,
    MissingFileError, UnexpectedFieldError, UploadStorageError, or whatever
    ``check_field`` and ``check_file`` raise.
    """
    boundary = multipart_boundary(request.headers.get("content-type"))
    declared = _content_length(request)
    if declared is not None and declared > max_file_bytes + FORM_OVERHEAD_BYTES:
        # Refuse before reading a byte: clients sending "Expect: 100-continue" never send the body.
        raise UploadTooLargeError(name=DEFAULT_FILE_NAME, limit=human_size(max_file_bytes))
    folder = await anyio.to_thread.run_sync(area.new_folder)
    reader: MultipartUploadReader | None = None
    try:
        reader = MultipartUploadReader(boundary, folder, file_field=file_field, text_fields=text_fields,
                                       max_file_bytes=max_file_bytes, check_field=check_field,
                                       check_file=check_file)
        batch: list[bytes] = []
        pending = 0
        async for piece in request.stream():
            if not piece:
                continue
            batch.append(piece)
            pending += len(piece)
            if pending >= FEED_BATCH_BYTES:
                await anyio.to_thread.run_sync(reader.feed, b"".join(batch))
                batch.clear()
                pending = 0
        if batch:
            await anyio.to_thread.run_sync(reader.feed, b"".join(batch))
        upload = await anyio.to_thread.run_sync(reader.finish)
    except ClientDisconnect as exc:
        _discard(reader, folder)
        raise MalformedUploadError("the client closed the connection before the upload ended") from exc
    except BaseException:
        _discard(reader, folder)
        raise
    log.info("received upload %s (%d bytes) into %s", upload.filename, upload.size_bytes, folder.name)
    return upload


def _discard(reader: MultipartUploadReader | None, folder: Path) -> None:
    if reader is not None:
        try:
            reader.close()
        except Exception:  # the folder goes anyway
            log.debug("closing a failed upload raised", exc_info=True)
    shutil.rmtree(folder, ignore_errors=True)


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        raise MalformedUploadError(f"Content-Length '{value[:40]}' is not a number") from None
    return length if length >= 0 else None

