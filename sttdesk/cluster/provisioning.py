"""Model provisioning, the coordinator's side: serve model files to agents in pieces.

An agent that lacks a model the waiting chunks need asks for it with
MODEL_REQUEST from the size of its partial file; :class:`ModelUploads` answers
with MODEL_PIECEs and counts every piece as *in flight* until the agent's next
MODEL_REQUEST acknowledges it (its offset moved past the piece). Two limits
keep the upload from swamping everything else:

* per agent, at most ``window`` pieces in flight, so the agent's socket never
  holds more than a few pieces ahead of its heartbeats and results;
* for the whole coordinator, at most ``max_in_flight`` pieces, handed out
  round-robin between transfers, so three agents fetching at once share the
  upload instead of multiplying it.

A request whose offset does not move forward (the agent resumed after a broken
link, or refused a damaged piece) restarts the transfer from that offset; the
pieces sent before it no longer count. A request carrying an error ends the
transfer, and that agent is not offered that model again for a while.

Pieces are read from disk (and hashed) by a reader thread, never by the
coordinator's socket thread: it only queues reads and sends what the reader
hands back through an inproc socket, so heartbeats keep flowing while a 150 MB
file goes out.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from .. import protocol as wire

log = logging.getLogger(__name__)

#: Bytes per MODEL_PIECE: small enough to keep a heartbeat's wait behind one short on a
#: slow link, large enough that the per-piece overhead is noise.
PIECE_BYTES = 256 * 1024
#: Pieces in flight to one agent.
PIECES_PER_AGENT = 4
#: Pieces in flight from this coordinator, all agents together.
MAX_PIECES_IN_FLIGHT = 8
#: Seconds an agent that gave a model up is not offered it again.
REFUSED_SECONDS = 300.0
#: Seconds a model file lookup (``ModelSource``) is remembered.
SOURCE_CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A model file this coordinator can send: what it is and where it lies."""

    name: str
    sha256: str
    size: int
    path: Path


#: The file of model ``name`` with exactly ``sha256``, or None if this machine has none.
ModelSource = Callable[[str, str], "ModelFile | None"]


@dataclass(frozen=True, slots=True)
class UploadStatus:
    """One transfer, for front ends and benchmarks."""

    endpoint: str
    name: str
    sha256: str
    #: Bytes the agent has acknowledged.
    acknowledged: int
    size: int


@dataclass(slots=True, eq=False)
class _Upload:
    endpoint: str
    model: ModelFile
    #: Bytes the agent said it has.
    acked: int
    #: The next byte to read and send.
    next_offset: int
    #: End offsets of the pieces read or sent and not yet acknowledged, oldest first.
    in_flight: deque[int] = field(default_factory=deque)
    #: Bumped on every restart: reads queued before it are dropped when they come back.
    generation: int = 0
    started: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.endpoint, self.model.sha256)


@dataclass(frozen=True, slots=True)
class _Read:
    endpoint: str
    sha256: str
    generation: int
    model: ModelFile
    offset: int
    length: int


class ModelUploads:
    """The transfers of model files to agents; every method runs on the coordinator's thread."""

    def __init__(
        self,
        source: ModelSource,
        *,
        context: zmq.Context,
        piece_bytes: int = PIECE_BYTES,
        window: int = PIECES_PER_AGENT,
        max_in_flight: int = MAX_PIECES_IN_FLIGHT,
        refused_seconds: float = REFUSED_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[str, dict[str, object]], None] | None = None,
    ) -> None:
        if piece_bytes < 1 or window < 1 or max_in_flight < 1:
            raise ValueError("piece size, window and in-flight limit must be at least 1")
        if piece_bytes > wire.MAX_PAYLOAD_BYTES:
            raise ValueError("a piece cannot be larger than the protocol's payload limit")
        self._source = source
        self._context = context
        self._piece_bytes = piece_bytes
        self._window = window
        self._max_in_flight = max_in_flight
        self._refused_seconds = refused_seconds
        self._clock = clock
        self._on_event = on_event or (lambda kind, data: None)
        self._uploads: dict[tuple[str, str], _Upload] = {}
        #: Round-robin order of the transfers (keys), for handing out the shared budget.
        self._order: deque[tuple[str, str]] = deque()
        #: (endpoint, sha256) -> until when that agent is not offered that model.
        self._refused: dict[tuple[str, str], float] = {}
        self._source_cache: dict[tuple[str, str], tuple[float, ModelFile | None]] = {}
        self._address = f"inproc://coordinator-model-reader-{id(self):x}"
        self._reads: queue.SimpleQueue[_Read | None] = queue.SimpleQueue()
        self._pieces: zmq.Socket | None = None
        self._reader: threading.Thread | None = None
        #: Most pieces ever in flight at once, all agents together (for tests and benchmarks).
        self.peak_in_flight = 0
        #: Bytes handed to agent sockets so far.
        self.bytes_sent = 0

    # --- lifetime ---------------------------------------------------------------

    def start(self) -> zmq.Socket:
        """Start the reader thread; returns the socket to poll for pieces (see :meth:`collect`)."""
        self._pieces = self._context.socket(zmq.PULL)
        self._pieces.setsockopt(zmq.LINGER, 0)
        self._pieces.bind(self._address)
        self._reader = threading.Thread(target=self._read_pieces, name="model-reader", daemon=True)
        self._reader.start()
        return self._pieces

    def stop(self, timeout: float = 5.0) -> None:
        self._reads.put(None)
        if self._reader is not None:
            self._reader.join(timeout)
            self._reader = None
        if self._pieces is not None:
            self._pieces.close(0)
            self._pieces = None
        self._uploads.clear()
        self._order.clear()

    # --- what agents are offered ----------------------------------------------------

    def servable(self, name: str, sha256: str) -> ModelFile | None:
        """The file of this model if this coordinator can send it (looked up at most every few seconds)."""
        key = (name, sha256)
        now = self._clock()
        cached = self._source_cache.get(key)
        if cached is not None and now - cached[0] < SOURCE_CACHE_SECONDS:
            return cached[1]
        try:
            model = self._source(name, sha256)
        except Exception:
            log.exception("cannot look up model %s", name)
            model = None
        if model is not None and (model.name != name or model.sha256 != sha256):
            model = None
        self._source_cache[key] = (now, model)
        return model

    def may_offer(self, endpoint: str, name: str, sha256: str) -> bool:
        """Whether to tell this agent the model is wanted: servable, and not refused by it lately."""
        until = self._refused.get((endpoint, sha256))
        if until is not None:
            if until > self._clock():
                return False
            del self._refused[(endpoint, sha256)]
        return self.servable(name, sha256) is not None

    def transferring(self, endpoint: str) -> bool:
        """Whether a model is on its way to this agent."""
        return any(u.endpoint == endpoint for u in self._uploads.values())

    def status(self) -> list[UploadStatus]:
        return [UploadStatus(endpoint=u.endpoint, name=u.model.name, sha256=u.model.sha256,
                             acknowledged=u.acked, size=u.model.size) for u in self._uploads.values()]

    # --- requests from agents -----------------------------------------------------

    def request(self, endpoint: str, agent: str, message: wire.ModelRequest) -> None:
        """Handle an agent's MODEL_REQUEST (start, acknowledgement, resume or giving up)."""
        key = (endpoint, message.sha256)
        upload = self._uploads.get(key)
        if message.error is not None:
            self._refused[key] = self._clock() + self._refused_seconds
            if upload is not None:
                self._end(upload)
            log.warning("agent %s gave up model %s [%s]: %s", agent, message.name, message.error.code,
                        message.error.message_en or message.error.detail)
            self._on_event("model_provision_failed", {"endpoint": endpoint, "model": message.name,
                                                      "code": message.error.code})
            return
        if upload is None:
            model = self.servable(message.name, message.sha256)
            if model is None:
                log.warning("agent %s asked for model %s (%s), which this computer does not have",
                            agent, message.name, message.sha256[:12])
                return
            if message.offset > model.size:
                log.warning("agent %s asked for model %s from byte %d, past its end", agent, message.name,
                            message.offset)
                return
            upload = _Upload(endpoint=endpoint, model=model, acked=message.offset, next_offset=message.offset,
                             started=self._clock())
            self._uploads[key] = upload
            self._order.append(key)
            log.info("sending model %s (%d bytes) to agent %s from byte %d", model.name, model.size, agent,
                     message.offset)
            self._on_event("model_provision_started", {"endpoint": endpoint, "model": model.name,
                                                       "offset": message.offset, "size": model.size})
        elif upload.acked < message.offset <= upload.next_offset:
            upload.acked = message.offset
            while upload.in_flight and upload.in_flight[0] <= message.offset:
                upload.in_flight.popleft()
        else:
            # No progress (a resume, a refused piece) or an offset we never sent: start over there.
            if message.offset > upload.model.size:
                self._end(upload)
                return
            log.info("agent %s asks for model %s again from byte %d", agent, message.name, message.offset)
            upload.acked = upload.next_offset = message.offset
            upload.in_flight.clear()
            upload.generation += 1
        if upload.acked >= upload.model.size:
            seconds = max(1e-6, self._clock() - upload.started)
            log.info("model %s sent to agent %s (%.1f MB/s); the agent checks and installs it",
                     upload.model.name, agent, upload.model.size / seconds / 1e6)
            self._on_event("model_provision_sent", {"endpoint": endpoint, "model": upload.model.name})
            self._end(upload)

    def drop_agent(self, endpoint: str) -> None:
        """The agent is gone (lost, removed, said BYE): its transfers end; it resumes when back."""
        for upload in [u for u in self._uploads.values() if u.endpoint == endpoint]:
            self._end(upload)

    def restart(self, endpoint: str, sha256: str) -> None:
        """A piece could not be queued for sending: go back to what the agent acknowledged."""
        upload = self._uploads.get((endpoint, sha256))
        if upload is not None:
            upload.next_offset = upload.acked
            upload.in_flight.clear()
            upload.generation += 1

    def _end(self, upload: _Upload) -> None:
        self._uploads.pop(upload.key, None)
        try:
            self._order.remove(upload.key)
        except ValueError:
            pass

    # --- pieces ---------------------------------------------------------------------

    def in_flight(self) -> int:
        return sum(len(u.in_flight) for u in self._uploads.values())

    def pump(self) -> None:
        """Queue reads for as many pieces as the limits allow, one transfer after another."""
        budget = self._max_in_flight - self.in_flight()
        idle_turns = 0
        while budget > 0 and self._order and idle_turns < len(self._order):
            key = self._order[0]
            self._order.rotate(-1)
            upload = self._uploads[key]
            if len(upload.in_flight) >= self._window or upload.next_offset >= upload.model.size:
                idle_turns += 1
                continue
            idle_turns = 0
            length = min(self._piece_bytes, upload.model.size - upload.next_offset)
            self._reads.put(_Read(endpoint=upload.endpoint, sha256=upload.model.sha256,
                                  generation=upload.generation, model=upload.model,
                                  offset=upload.next_offset, length=length))
            upload.next_offset += length
            upload.in_flight.append(upload.next_offset)
            budget -= 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight())

    def collect(self) -> list[tuple[str, str, list[bytes]]]:
        """Pieces the reader has ready, as (endpoint, sha256, frames) to send; stale ones are dropped."""
        ready: list[tuple[str, str, list[bytes]]] = []
        assert self._pieces is not None
        while True:
            try:
                frames = self._pieces.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return ready
            endpoint, sha256, generation = frames[0].decode(), frames[1].decode(), int(frames[2])
            upload = self._uploads.get((endpoint, sha256))
            if upload is None or upload.generation != generation:
                continue
            if len(frames) == 3:  # the reader could not read the file
                log.error("model %s cannot be read any more: its transfer to %s ends", upload.model.name, endpoint)
                self._source_cache.pop((upload.model.name, sha256), None)
                self._end(upload)
                continue
            ready.append((endpoint, sha256, frames[3:]))
            self.bytes_sent += len(frames[-1])

    def _read_pieces(self) -> None:
        out = self._context.socket(zmq.PUSH)
        out.setsockopt(zmq.LINGER, 0)
        out.connect(self._address)
        handles: dict[Path, object] = {}
        try:
            while True:
                read = self._reads.get()
                if read is None:
                    return
                head = [read.endpoint.encode(), read.sha256.encode(), str(read.generation).encode()]
                try:
                    data = self._read(handles, read)
                except OSError as exc:
                    log.error("cannot read model file %s: %s", read.model.path, exc)
                    out.send_multipart(head)
                    continue
                piece = wire.ModelPiece(
                    name=read.model.name, sha256=read.sha256, offset=read.offset, total_size=read.model.size,
                    final=read.offset + len(data) == read.model.size,
                    piece_sha256=hashlib.sha256(data).hexdigest(), payload=data,
                )
                out.send_multipart([*head, *wire.encode(piece)])
        finally:
            for handle in handles.values():
                handle.close()  # type: ignore[attr-defined]
            out.close(0)

    @staticmethod
    def _read(handles: dict[Path, object], read: _Read) -> bytes:
        handle = handles.get(read.model.path)
        if handle is None:
            handle = handles[read.model.path] = read.model.path.open("rb")
        handle.seek(read.offset)  # type: ignore[attr-defined]
        data = handle.read(read.length)  # type: ignore[attr-defined]
        if len(data) != read.length:
            raise OSError(f"the file ends at byte {read.offset + len(data)}, expected {read.offset + read.length}")
        return data
