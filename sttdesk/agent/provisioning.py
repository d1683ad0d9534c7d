"""Model provisioning, the agent's side: fetch a model a coordinator needs, piece by piece.

A coordinator names, in its HEARTBEAT, the models its waiting chunks need
(``wanted_models``). For each one this agent lacks, the fetcher asks that
coordinator for the file with MODEL_REQUEST from the size of its partial file
(so a broken transfer resumes where it stopped), appends each MODEL_PIECE that
continues the file, and acknowledges it with a MODEL_REQUEST for the next
offset; the coordinator keeps only a few pieces in flight on that
acknowledgement. A piece whose own sha256 is wrong is refused and asked for
again. When the file is whole its sha256 must be the one the coordinator
named; only then is it imported into the model store (which checks the hash
once more on its own copy and installs atomically), so the agent never runs a
file that was not verified. A mismatching file is discarded with its reason
logged and fetched again, a few times at most.

Disk writes, hashing and the import happen on the fetcher's own thread: the
runtime's socket thread only hands it messages (a queue) and routes what it
sends back (an inproc PUSH socket the fetcher's thread owns), so heartbeats and
results keep flowing while a 150 MB file arrives.

Giving up (disk full, the checksum wrong again and again, pieces damaged again
and again) removes the partial file, tells the coordinator with a
MODEL_REQUEST carrying the error (it stops sending), and the model is not asked
for again for a while.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import zmq

from ..domain.errors import SttdeskError
from ..engine.errors import ChecksumMismatchError, DiskFullError
from ..protocol import ErrorInfo, ModelPiece, ModelRef, ModelRequest, encode
from .errors import ModelTransferError

log = logging.getLogger(__name__)

#: Folder under the models folder where partial files wait (kept across restarts).
PARTIAL_DIR = ".provisioning"
#: Seconds without a piece after which the fetcher asks again from its offset (a resume).
STALL_SECONDS = 10.0
#: Whole files with the wrong sha256 tolerated before the model is given up.
MAX_CHECKSUM_FAILURES = 3
#: Damaged pieces tolerated in one transfer before the model is given up.
MAX_DAMAGED_PIECES = 16
#: Seconds a given-up model is not asked for again.
GIVE_UP_SECONDS = 300.0
#: Longest the fetcher's thread sleeps between checks for stalled transfers.
TICK_SECONDS = 1.0
#: Bytes hashed per read when resuming from a partial file.
HASH_BLOCK_BYTES = 1 << 20

#: First frame of what the fetcher hands the runtime: a message to send ...
OUT_SEND = b"send"
#: ... or "the installed models changed" (announce them).
OUT_MODELS = b"models"


class ModelInstaller:
    """Where fetched files go: a model store folder, and the catalog that lists it."""

    def __init__(self, models_dir: Path, *, rescan: Callable[[], object]) -> None:
        from ..engine.store import ModelStore

        self.store = ModelStore(models_dir)
        self._rescan = rescan

    @property
    def partial_dir(self) -> Path:
        return self.store.root / PARTIAL_DIR

    def has(self, ref: ModelRef) -> bool:
        """Whether the store holds exactly this model (name and sha256)."""
        try:
            installed = self.store.get(ref.name)
        except SttdeskError:
            return False
        return installed.sha256 == ref.sha256

    def install(self, path: Path, ref: ModelRef) -> None:
        """Move a verified file into the store (which hashes its copy again) and rescan."""
        self.store.import_file(path, ref.name, move=True, replace=True, expected_sha256=ref.sha256)
        self._rescan()

    def rescan(self) -> None:
        """Read the store's list again (the catalog announces what it finds)."""
        self._rescan()


@dataclass(slots=True, eq=False)
class _Download:
    """One model on its way in."""

    ref: ModelRef
    #: The coordinator serving it (its routing id); None while that coordinator is gone.
    peer: bytes | None
    path: Path
    handle: IO[bytes] | None = None
    hasher: Any = field(default_factory=hashlib.sha256)
    #: Bytes of the file written so far (the partial file's size).
    have: int = 0
    #: The whole file's size, from the first piece.
    total: int | None = None
    #: When a piece last arrived (or the transfer was last asked for).
    last_activity: float = 0.0
    checksum_failures: int = 0
    damaged_pieces: int = 0
    started: float = 0.0
    #: Bytes received in this run of the agent (for the log's rate).
    received: int = 0


class ModelFetcher:
    """Fetches models from coordinators into the agent's store; see the module docstring."""

    def __init__(
        self,
        installer: ModelInstaller,
        *,
        context: zmq.Context,
        outbox: str,
        stall_seconds: float = STALL_SECONDS,
        max_checksum_failures: int = MAX_CHECKSUM_FAILURES,
        max_damaged_pieces: int = MAX_DAMAGED_PIECES,
        give_up_seconds: float = GIVE_UP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._installer = installer
        self._context = context
        self._outbox_address = outbox
        self._stall = stall_seconds
        self._max_checksum_failures = max_checksum_failures
        self._max_damaged = max_damaged_pieces
        self._give_up_seconds = give_up_seconds
        self._clock = clock
        self._inbox: queue.Queue[tuple[str, tuple[Any, ...]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="model-fetcher", daemon=True)
        # Only the fetcher's thread touches these.
        self._downloads: dict[str, _Download] = {}
        self._given_up: dict[str, float] = {}
        self._out: zmq.Socket | None = None

    # --- called from the runtime's thread (they only queue) -------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the thread after what it is doing; partial files stay for the next run."""
        self._inbox.put(None)

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wanted(self, peer: bytes, refs: Iterable[ModelRef]) -> None:
        """Coordinator ``peer`` has chunks waiting for these models."""
        refs = tuple(refs)
        if refs:
            self._inbox.put(("wanted", (peer, refs)))

    def piece(self, peer: bytes, message: ModelPiece) -> None:
        """A piece of a model file arrived from ``peer``."""
        self._inbox.put(("piece", (peer, message)))

    def peer_gone(self, peer: bytes) -> None:
        """``peer`` was dropped: its transfers wait until a coordinator offers the model again."""
        self._inbox.put(("gone", (peer,)))

    # --- the fetcher's thread --------------------------------------------------------

    def _run(self) -> None:
        self._out = self._context.socket(zmq.PUSH)
        self._out.setsockopt(zmq.LINGER, 0)
        self._out.connect(self._outbox_address)
        try:
            while True:
                try:
                    item = self._inbox.get(timeout=TICK_SECONDS)
                except queue.Empty:
                    item = ("tick", ())
                if item is None:
                    break
                kind, args = item
                try:
                    if kind == "wanted":
                        self._on_wanted(*args)
                    elif kind == "piece":
                        self._on_piece(*args)
                    elif kind == "gone":
                        self._on_gone(*args)
                    self._resume_stalled()
                except Exception:
                    # A fault with one file must not end provisioning for every other.
                    log.exception("model fetcher failed on %s", kind)
        finally:
            for download in self._downloads.values():
                self._close(download)
            self._out.close(0)

    def _send(self, peer: bytes, message: ModelRequest) -> None:
        assert self._out is not None
        # Blocking is right: the runtime drains this pipe every loop turn.
        self._out.send_multipart([OUT_SEND, peer, *encode(message)])

    def _request(self, download: _Download) -> None:
        if download.peer is None:
            return
        download.last_activity = self._clock()
        self._send(download.peer, ModelRequest(name=download.ref.name, sha256=download.ref.sha256,
                                               offset=download.have))

    def _on_wanted(self, peer: bytes, refs: tuple[ModelRef, ...]) -> None:
        now = self._clock()
        for ref in refs:
            download = self._downloads.get(ref.sha256)
            if download is not None:
                if download.peer is None or (download.peer != peer and now - download.last_activity > self._stall):
                    # Its coordinator left (or went quiet): carry on with this one.
                    download.peer = peer
                    log.info("model %s: resuming at byte %d", ref.name, download.have)
                    self._request(download)
                continue
            if self._given_up.get(ref.sha256, 0.0) > now:
                continue
            if self._installer.has(ref):
                # In the store but not announced (put there by another process): announce it.
                self._installer.rescan()
                assert self._out is not None
                self._out.send_multipart([OUT_MODELS])
                continue
            self._begin(peer, ref)

    def _begin(self, peer: bytes, ref: ModelRef) -> None:
        from ..engine.store import validate_name

        try:
            validate_name(ref.name)
        except SttdeskError:
            log.warning("a coordinator wants a model with an unusable name %r: ignored", ref.name[:80])
            return
        folder = self._installer.partial_dir
        path = folder / f"{ref.name}-{ref.sha256[:16]}.part"
        download = _Download(ref=ref, peer=peer, path=path, started=self._clock())
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with path.open("rb") as handle:
                    while block := handle.read(HASH_BLOCK_BYTES):
                        download.hasher.update(block)
                        download.have += len(block)
            download.handle = path.open("ab")
        except OSError as exc:
            self._give_up(download, _os_error(exc, folder, ref))
            return
        self._downloads[ref.sha256] = download
        if download.have:
            log.info("model %s (%s): resuming a partial file at byte %d", ref.name, ref.sha256[:12], download.have)
        else:
            log.info("model %s (%s): fetching it from the coordinator", ref.name, ref.sha256[:12])
        self._request(download)

    def _on_gone(self, peer: bytes) -> None:
        for download in self._downloads.values():
            if download.peer == peer:
                download.peer = None
                log.info("model %s: its coordinator left at byte %d; waiting for it or another",
                         download.ref.name, download.have)

    def _resume_stalled(self) -> None:
        now = self._clock()
        for download in list(self._downloads.values()):
            if download.peer is not None and now - download.last_activity > self._stall:
                log.warning("model %s: no piece for %.0f s; asking again from byte %d",
                            download.ref.name, now - download.last_activity, download.have)
                self._request(download)

    def _on_piece(self, peer: bytes, piece: ModelPiece) -> None:
        download = self._downloads.get(piece.sha256)
        if download is None or download.ref.name != piece.name:
            log.debug("a piece of model %s that is not being fetched: dropped", piece.name)
            return
        if download.peer != peer:
            log.debug("a piece of model %s from another coordinator: dropped", piece.name)
            return
        if piece.offset != download.have:
            # A piece from before a resume, or a duplicate: the transfer goes on from ``have``.
            log.debug("model %s: piece at byte %d dropped (have %d)", piece.name, piece.offset, download.have)
            return
        download.last_activity = self._clock()
        if piece.piece_sha256 is not None and hashlib.sha256(piece.payload).hexdigest() != piece.piece_sha256:
            download.damaged_pieces += 1
            log.warning("model %s: the piece at byte %d arrived damaged (%d so far): refused, asking again",
                        piece.name, piece.offset, download.damaged_pieces)
            if download.damaged_pieces > self._max_damaged:
                self._give_up(download, ModelTransferError(
                    f"{download.damaged_pieces} pieces arrived damaged", name=piece.name))
                return
            self._request(download)
            return
        if download.total is None:
            download.total = piece.total_size
            free = _free_bytes(download.path.parent)
            # The store copies nothing when it moves the file in, but hashes it: the file only.
            if free is not None and free < piece.total_size - download.have:
                self._give_up(download, DiskFullError(
                    f"{piece.total_size - download.have} bytes needed, {free} free",
                    path=str(download.path.parent)))
                return
        elif piece.total_size != download.total:
            log.warning("model %s: the coordinator now says %d bytes, not %d: starting over",
                        piece.name, piece.total_size, download.total)
            self._restart(download)
            return
        assert download.handle is not None
        try:
            download.handle.write(piece.payload)
        except OSError as exc:
            self._give_up(download, _os_error(exc, download.path.parent, download.ref))
            return
        download.hasher.update(piece.payload)
        download.have += len(piece.payload)
        download.received += len(piece.payload)
        if download.have < download.total:
            self._request(download)  # the acknowledgement the coordinator's window moves on
            return
        self._request(download)  # "I have it all": the coordinator ends the transfer
        self._finish(download)

    def _finish(self, download: _Download) -> None:
        ref = download.ref
        try:
            self._close(download, sync=True)
        except OSError as exc:
            self._give_up(download, _os_error(exc, download.path.parent, ref))
            return
        digest = download.hasher.hexdigest()
        if digest != ref.sha256:
            download.checksum_failures += 1
            log.error("model %s: the received file hashes to %s, not %s: discarded (%d of %d tries)",
                      ref.name, digest[:12], ref.sha256[:12], download.checksum_failures,
                      self._max_checksum_failures)
            if download.checksum_failures >= self._max_checksum_failures:
                self._give_up(download, ChecksumMismatchError(
                    "the file received does not match its checksum", path=ref.name,
                    expected=ref.sha256, actual=digest))
                return
            self._restart(download)
            return
        seconds = max(1e-6, self._clock() - download.started)
        try:
            self._installer.install(download.path, ref)
        except SttdeskError as exc:
            log.error("model %s: received but not installed: %s", ref.name, exc.user_message("en"))
            self._give_up(download, exc)
            return
        except OSError as exc:
            self._give_up(download, _os_error(exc, download.path.parent, ref))
            return
        del self._downloads[ref.sha256]
        download.path.unlink(missing_ok=True)
        log.info("model %s (%s) installed: %d bytes received in %.1f s (%.1f MB/s)", ref.name,
                 ref.sha256[:12], download.received, seconds, download.received / seconds / 1e6)
        assert self._out is not None
        self._out.send_multipart([OUT_MODELS])

    def _restart(self, download: _Download) -> None:
        """Throw the partial file away and ask for the model from its first byte."""
        self._close(download)
        download.path.unlink(missing_ok=True)
        download.hasher = hashlib.sha256()
        download.have = 0
        download.total = None
        try:
            download.handle = download.path.open("ab")
        except OSError as exc:
            self._give_up(download, _os_error(exc, download.path.parent, download.ref))
            return
        self._request(download)

    def _give_up(self, download: _Download, error: SttdeskError) -> None:
        ref = download.ref
        log.error("model %s (%s) given up [%s]: %s; not asked for again for %.0f s", ref.name, ref.sha256[:12],
                  error.code, error.user_message("en"), self._give_up_seconds)
        self._close(download)
        download.path.unlink(missing_ok=True)
        self._downloads.pop(ref.sha256, None)
        self._given_up[ref.sha256] = self._clock() + self._give_up_seconds
        if download.peer is not None:
            self._send(download.peer, ModelRequest(name=ref.name, sha256=ref.sha256, offset=download.have,
                                                   error=ErrorInfo.from_error(error)))

    @staticmethod
    def _close(download: _Download, *, sync: bool = False) -> None:
        handle, download.handle = download.handle, None
        if handle is None:
            return
        try:
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            try:
                handle.close()
            except OSError:
                if sync:
                    raise


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _os_error(exc: OSError, folder: Path, ref: ModelRef) -> SttdeskError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(str(exc.strerror or exc), path=str(folder))
    return ModelTransferError(f"cannot write {folder}: {exc.strerror or exc}", name=ref.name)
