"""The wire between coordinators and agents: message kinds, framing, version, limits, timing.

Every message is one or two ZeroMQ frames:

* frame 0, the *header*: a UTF-8 JSON object ``{"v": PROTOCOL_VERSION, "kind": "...", <fields>}``;
* frame 1, the *payload*, only for the kinds that carry bytes (``WORK``: the chunk's audio,
  ``MODEL_PIECE``: a piece of a model file).

Nothing is ever pickled. This module knows nothing of sockets: it turns message objects into
lists of frames and back, and :func:`decode` turns *any* input into either a message or a
:class:`ProtocolError` (never another exception), so a peer sending garbage cannot crash anyone.

Topology: each agent binds one ROUTER socket; each coordinator connects one DEALER socket per
agent. The ROUTER sees ``[routing id, header, payload?]`` (no empty delimiter frame). A
coordinator should set its DEALER's ZMQ ``ROUTING_ID`` to its ``coordinator_id`` bytes: the agent
turns ROUTER_HANDOVER on, so after a network blip the reconnected DEALER takes its old place
and replies to leases already handed out still reach it.

The conversation (C = coordinator, A = agent):

* C→A ``HELLO``; A→C ``READY`` (also sent, unasked, when a coordinator the agent does not know
  sends a HEARTBEAT or WORK: an agent that restarted announces itself again). A READY whose
  ``session`` differs from the last one seen means the agent restarted and every lease it held
  is gone; a coordinator that gets an unasked READY answers with HELLO, so the agent can move
  the leases of an earlier connection with the same ``coordinator_id`` to the new one.
* C→A ``WORK`` (a lease on one chunk, audio as payload); A→C ``RESULT`` or ``FAILURE``.
* C→A ``CANCEL``: the agent drops the lease (queued) or discards its result (running).
* A→C ``RELEASED``: leases handed back unused (clean shutdown); no attempt was spent on them.
* both ways ``HEARTBEAT`` every :data:`HEARTBEAT_INTERVAL`; any message counts as a sign of
  life; a peer silent for :data:`HEARTBEAT_LIVENESS` intervals is dead.
* both ways ``BYE`` when leaving cleanly; ``ERROR`` answers a message that was rejected.
* model provisioning: the coordinator's HEARTBEAT names the models its waiting chunks need
  (``wanted_models``); an agent that lacks one sends ``MODEL_REQUEST`` from the size of its
  partial file, the coordinator answers with ``MODEL_PIECE``s (a few in flight at a time),
  each written piece is acknowledged by a ``MODEL_REQUEST`` for the next offset, and the
  agent announces the verified, installed model in its HEARTBEAT's ``models``.
* pairing (:mod:`sttdesk.security.pairing`): C→A ``PAIR_REQUEST``, A→C ``PAIR_CHALLENGE``
  (the agent shows a code), C→A ``PAIR_EXCHANGE`` (SPAKE2 with the code), A→C ``PAIR_EXCHANGE``
  (its SPAKE2 answer and confirmation), C→A ``PAIR_CONFIRM``, A→C ``PAIR_RESULT``. A coordinator
  whose CURVE key the agent does not trust gets these and, for anything else, only an ``ERROR``
  with the code ``not_paired``.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar, Union

from .domain.errors import PermanentError, SttdeskError
from .domain.transcript import RecognitionResult

#: Bumped on every change an older peer could not understand. Adding an optional field
#: (one with a default) is not such a change: decoders ignore header fields they do not know.
PROTOCOL_VERSION = 1

#: TCP port a LAN agent listens on unless told otherwise.
DEFAULT_AGENT_PORT = 7878

#: Seconds between heartbeats, both ways (the ZeroMQ Guide's Paranoid Pirate value).
HEARTBEAT_INTERVAL = 1.0
#: Heartbeat intervals a peer may miss before it is considered dead.
HEARTBEAT_LIVENESS = 3
#: Seconds of silence after which a peer is dead.
PEER_EXPIRY_SECONDS = HEARTBEAT_INTERVAL * HEARTBEAT_LIVENESS

#: Coordinator-side reconnect delay in seconds (ZMQ ``RECONNECT_IVL``, which wants ms),
#: doubling after each failed attempt up to :data:`RECONNECT_INTERVAL_MAX` (``RECONNECT_IVL_MAX``).
RECONNECT_INTERVAL = 1.0
RECONNECT_INTERVAL_MAX = 32.0

#: Largest header frame accepted, in bytes.
MAX_HEADER_BYTES = 64 * 1024
#: Largest payload frame accepted, in bytes (a 45 s chunk of 16 kHz s16le PCM is 1.4 MiB).
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024
#: Most frames one message may have: header and payload.
MAX_FRAMES = 2

#: The only audio the agents take today: 16 kHz mono signed 16-bit little-endian PCM.
SAMPLE_RATE = 16000
AUDIO_FORMAT_PCM_S16LE = "pcm_s16le"
PCM_S16LE_SAMPLE_BYTES = 2

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
#: Hex fields (pairing messages) are short: a SPAKE2 message is 33 bytes, an HMAC 32.
_HEX_RE = re.compile(r"(?:[0-9a-f]{2}){0,256}")


# --- errors -------------------------------------------------------------------


class ProtocolError(PermanentError):
    """A message that breaks the wire protocol; the message is rejected, the peer stays."""

    code = "protocol_error"
    message_en = "An invalid network message was rejected: {detail}"
    message_vi = "Đã từ chối một tin nhắn mạng không hợp lệ: {detail}"

    def __init__(self, detail: str = "", *, kind: str | None = None, **fields: Any) -> None:
        super().__init__(detail, **fields)
        #: The message kind, when the header was readable far enough to tell.
        self.kind = kind


class MalformedMessageError(ProtocolError):
    """Frames that are not a well-formed message: not JSON, fields missing or of the wrong type."""

    code = "malformed_message"
    message_en = "A malformed network message was rejected: {detail}"
    message_vi = "Đã từ chối một tin nhắn mạng sai định dạng: {detail}"


class ProtocolVersionError(ProtocolError):
    """The peer speaks another protocol version: one side needs an upgrade."""

    code = "protocol_version"
    message_en = (
        "The other computer speaks sttdesk protocol version {got}, this one speaks version "
        "{expected}. Install the same sttdesk version on both."
    )
    message_vi = (
        "Máy bên kia dùng giao thức sttdesk phiên bản {got}, máy này dùng phiên bản {expected}. "
        "Hãy cài cùng một phiên bản sttdesk trên cả hai máy."
    )


class MessageTooLargeError(ProtocolError):
    """A frame, or the number of frames, is over the protocol's limits."""

    code = "message_too_large"
    message_en = "A network message was too large ({detail})."
    message_vi = "Một tin nhắn mạng quá lớn ({detail})."


class UnknownMessageKindError(ProtocolError):
    """The header names a message kind this version does not know."""

    code = "unknown_message_kind"
    message_en = "Unknown network message type '{kind_name}'."
    message_vi = "Loại tin nhắn mạng không xác định: '{kind_name}'."


class RemoteError(SttdeskError):
    """An error that happened on the other side of the wire, rebuilt from its description."""

    def __init__(self, info: ErrorInfo) -> None:
        self.info = info
        # Instance attributes shadow the class defaults, so retry policies and front ends
        # see the remote error's own code and transiency.
        self.code = info.code  # type: ignore[misc]
        self.transient = info.transient  # type: ignore[misc]
        super().__init__(info.detail)

    def user_message(self, language: str = "en") -> str:
        return self.info.message_vi if language == "vi" else self.info.message_en


# --- message kinds and field helpers -----------------------------------------------


class MessageKind(str, Enum):
    """The ``kind`` of a message, as written in its header."""

    HELLO = "HELLO"
    READY = "READY"
    WORK = "WORK"
    RESULT = "RESULT"
    FAILURE = "FAILURE"
    CANCEL = "CANCEL"
    RELEASED = "RELEASED"
    HEARTBEAT = "HEARTBEAT"
    BYE = "BYE"
    MODEL_REQUEST = "MODEL_REQUEST"
    MODEL_PIECE = "MODEL_PIECE"
    ERROR = "ERROR"
    PAIR_REQUEST = "PAIR_REQUEST"
    PAIR_CHALLENGE = "PAIR_CHALLENGE"
    PAIR_EXCHANGE = "PAIR_EXCHANGE"
    PAIR_CONFIRM = "PAIR_CONFIRM"
    PAIR_RESULT = "PAIR_RESULT"


def _nonempty(**kwargs: Any) -> Any:
    """A field that must not be empty (ids, names, lists of ids)."""
    return field(metadata={"nonempty": True}, **kwargs)


def _positive(**kwargs: Any) -> Any:
    """A number that must be greater than zero."""
    return field(metadata={"positive": True}, **kwargs)


def _sha256(**kwargs: Any) -> Any:
    """A lowercase hex sha256 digest."""
    return field(metadata={"sha256": True}, **kwargs)


def _hex(*, nonempty: bool = False, **kwargs: Any) -> Any:
    """Lowercase hex digits, at most 256 bytes' worth (SPAKE2 messages, confirmations)."""
    return field(metadata={"hex": True, "nonempty": nonempty}, **kwargs)


def _payload() -> Any:
    """The binary frame; never part of the JSON header."""
    return field(repr=False, metadata={"payload": True})


class _Record:
    """Mixin of the small records nested in message headers."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON object the wire carries."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


# --- records nested in messages -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo(_Record):
    """A model an agent has installed, as announced in READY."""

    name: str = _nonempty()
    sha256: str = _sha256()
    #: File size in bytes.
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRef(_Record):
    """The model a chunk must be transcribed with: name and exact file hash."""

    name: str = _nonempty()
    sha256: str = _sha256()


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo(_Record):
    """An error's description on the wire (the shape of :meth:`SttdeskError.to_dict`)."""

    code: str = _nonempty()
    transient: bool
    detail: str
    message_en: str
    message_vi: str

    @classmethod
    def from_error(cls, error: SttdeskError) -> ErrorInfo:
        data = error.to_dict()
        return cls(
            code=str(data["code"]),
            transient=bool(data["transient"]),
            detail=str(data["detail"]),
            message_en=str(data["message_en"]),
            message_vi=str(data["message_vi"]),
        )

    def to_error(self) -> RemoteError:
        """An exception carrying this error's code, transiency and messages."""
        return RemoteError(self)


# --- messages ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """C→A: a coordinator introduces itself; the agent answers READY."""

    KIND: ClassVar[MessageKind] = MessageKind.HELLO
    #: Stable id of the coordinator (also its DEALER routing id, ideally).
    coordinator_id: str = _nonempty()
    #: Human name (the desktop's user and host), for the agent's log.
    coordinator_name: str
    #: The protocol version the coordinator speaks.
    protocol: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """A→C: what the agent is and can do."""

    KIND: ClassVar[MessageKind] = MessageKind.READY
    agent_id: str = _nonempty()
    agent_name: str
    protocol: int = PROTOCOL_VERSION
    #: The sttdesk version the agent runs.
    version: str
    #: Chunks the agent runs at once.
    slots: int = _positive()
    #: CPU threads each slot's engine uses.
    threads: int = _positive()
    models: tuple[ModelInfo, ...]
    #: CPU description ("Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz, 6 cores").
    cpu: str
    #: Host name of the agent's machine.
    host: str
    #: Random id of this run of the agent process: a new value means it restarted and
    #: holds none of the leases it was given before.
    session: str = _nonempty()


@dataclass(frozen=True, slots=True, kw_only=True)
class Work:
    """C→A: a lease on one chunk; the payload is the chunk's audio."""

    KIND: ClassVar[MessageKind] = MessageKind.WORK
    lease_id: str = _nonempty()
    job_id: str = _nonempty()
    #: The coordinator's id of the chunk (its store's row id).
    chunk_id: int
    #: 1 for the first try of this chunk, 2 for the first retry...
    attempt: int = _positive()
    model: ModelRef
    #: Decoding options (``DecodeOptions.to_dict()``); opaque to the wire.
    options: dict[str, Any]
    #: Seconds from sending until the lease expires; the agent gives up after that.
    deadline_seconds: float = _positive()
    sample_rate: int = _positive(default=SAMPLE_RATE)
    audio_format: str = _nonempty(default=AUDIO_FORMAT_PCM_S16LE)
    #: Length of the audio in seconds.
    audio_seconds: float
    #: The chunk's audio, in ``audio_format``.
    payload: bytes = _payload()


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """A→C: the transcript of a leased chunk (times relative to the chunk)."""

    KIND: ClassVar[MessageKind] = MessageKind.RESULT
    lease_id: str = _nonempty()
    job_id: str = _nonempty()
    #: The coordinator's id of the chunk (its store's row id).
    chunk_id: int
    attempt: int = _positive()
    result: RecognitionResult
    #: Wall time on the agent from the WORK's arrival to the reply, queueing included.
    agent_seconds: float
    #: Time spent inside the engine's transcribe call.
    engine_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A→C: a leased chunk could not be transcribed."""

    KIND: ClassVar[MessageKind] = MessageKind.FAILURE
    lease_id: str = _nonempty()
    job_id: str = _nonempty()
    #: The coordinator's id of the chunk (its store's row id).
    chunk_id: int
    attempt: int = _positive()
    error: ErrorInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    """C→A: forget this lease; its result is no longer wanted."""

    KIND: ClassVar[MessageKind] = MessageKind.CANCEL
    lease_id: str = _nonempty()


@dataclass(frozen=True, slots=True, kw_only=True)
class Released:
    """A→C: leases handed back unused (the agent is shutting down)."""

    KIND: ClassVar[MessageKind] = MessageKind.RELEASED
    lease_ids: tuple[str, ...] = _nonempty()


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """Both ways: still here. From an agent, how many of its slots are working."""

    KIND: ClassVar[MessageKind] = MessageKind.HEARTBEAT
    busy: int
    slots: int
    #: C→A: models that chunks waiting at this coordinator need and the agent did not
    #: announce; an agent that can store models asks for them with MODEL_REQUEST.
    wanted_models: tuple[ModelRef, ...] = ()
    #: A→C: the models the agent has now (None: unchanged since READY), so a model
    #: installed while it runs (provisioned, say) is announced without a new READY.
    models: tuple[ModelInfo, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Bye:
    """Both ways: leaving cleanly; forget me."""

    KIND: ClassVar[MessageKind] = MessageKind.BYE
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRequest:
    """A→C: send me this model, starting at byte ``offset`` (resuming a partial file).

    The agent sends one for every piece it has written, with its new ``offset``: that
    is the acknowledgement the coordinator's flow control counts pieces in flight by.
    An offset that does not move forward asks for the bytes from there again (a
    resume after a broken link, or a piece that was rejected).
    """

    KIND: ClassVar[MessageKind] = MessageKind.MODEL_REQUEST
    name: str = _nonempty()
    sha256: str = _sha256()
    offset: int
    #: Set when the agent gives the model up (disk full, checksum wrong again and
    #: again): the coordinator stops sending it.
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPiece:
    """C→A: bytes ``offset`` .. ``offset + len(data)`` of a model file of ``total_size`` bytes."""

    KIND: ClassVar[MessageKind] = MessageKind.MODEL_PIECE
    name: str = _nonempty()
    sha256: str = _sha256()
    offset: int
    total_size: int = _positive()
    #: True on the piece that ends the file.
    final: bool
    #: sha256 of this piece's bytes, so a damaged piece is refused at once instead of
    #: spoiling the whole file (which is checked against ``sha256`` at the end anyway).
    piece_sha256: str | None = _sha256(default=None)
    #: The file's bytes from ``offset`` on.
    payload: bytes = _payload()


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """Both ways: the answer to a message that was rejected (malformed, wrong version...)."""

    KIND: ClassVar[MessageKind] = MessageKind.ERROR
    code: str = _nonempty()
    detail: str

    @classmethod
    def from_error(cls, error: SttdeskError) -> Error:
        return cls(code=error.code, detail=error.detail or error.user_message("en"))


@dataclass(frozen=True, slots=True, kw_only=True)
class PairRequest:
    """C→A: please show a pairing code for my CURVE key (the key is the link's own)."""

    KIND: ClassVar[MessageKind] = MessageKind.PAIR_REQUEST
    coordinator_id: str = _nonempty()
    #: Shown beside the code, so the admin knows who asks.
    coordinator_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PairChallenge:
    """A→C: a code is shown on the agent (or, with ``paired``, the coordinator is trusted already)."""

    KIND: ClassVar[MessageKind] = MessageKind.PAIR_CHALLENGE
    agent_id: str = _nonempty()
    agent_name: str
    #: The agent already trusts this coordinator's key: no code is needed.
    paired: bool
    #: Seconds the code stays valid (0 when ``paired``).
    expires_seconds: float
    attempts_left: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PairExchange:
    """Both ways: a SPAKE2 message made with the code; from the agent also its confirmation."""

    KIND: ClassVar[MessageKind] = MessageKind.PAIR_EXCHANGE
    #: The SPAKE2 message, hex.
    spake: str = _hex(nonempty=True)
    #: A→C: HMAC proving the agent reached the same key (hex); empty from the coordinator.
    confirm: str = _hex(default="")
    #: A→C: tries this code has left after this one.
    attempts_left: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PairConfirm:
    """C→A: HMAC proving the coordinator reached the same key (hex); empty when the agent's did not match."""

    KIND: ClassVar[MessageKind] = MessageKind.PAIR_CONFIRM
    confirm: str = _hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class PairResult:
    """A→C: how pairing ended; on success the agent now trusts the coordinator's key."""

    KIND: ClassVar[MessageKind] = MessageKind.PAIR_RESULT
    paired: bool
    agent_id: str = _nonempty()
    agent_name: str
    #: Why it failed (wrong code, expired, rate limited); None on success.
    error: ErrorInfo | None = None


Message = (
    Hello | Ready | Work | Result | Failure | Cancel | Released | Heartbeat | Bye | ModelRequest | ModelPiece | Error
    | PairRequest | PairChallenge | PairExchange | PairConfirm | PairResult
)

MESSAGE_TYPES: dict[MessageKind, type] = {
    cls.KIND: cls
    for cls in (
        Hello, Ready, Work, Result, Failure, Cancel, Released, Heartbeat, Bye,
        ModelRequest, ModelPiece, Error, PairRequest, PairChallenge, PairExchange, PairConfirm, PairResult,
    )
}


#: The name of each message type's payload field, or None for header-only kinds.
_PAYLOAD_FIELDS: dict[type, str | None] = {
    cls: next((f.name for f in fields(cls) if f.metadata.get("payload")), None)
    for cls in MESSAGE_TYPES.values()
}


def has_payload(kind: MessageKind) -> bool:
    """Whether messages of ``kind`` carry a binary payload frame."""
    return _PAYLOAD_FIELDS[MESSAGE_TYPES[kind]] is not None


def pcm_seconds(audio: bytes, sample_rate: int = SAMPLE_RATE) -> float:
    """Length in seconds of mono s16le PCM bytes."""
    return len(audio) / (PCM_S16LE_SAMPLE_BYTES * sample_rate)


# --- encoding ---------------------------------------------------------------------


def encode(message: Message) -> list[bytes]:
    """The frames of ``message``; raises ProtocolError if it breaks the protocol's rules."""
    cls = type(message)
    kind = getattr(cls, "KIND", None)
    if MESSAGE_TYPES.get(kind) is not cls:  # type: ignore[arg-type]
        raise MalformedMessageError(f"not a protocol message: {cls.__name__}")
    header: dict[str, Any] = {"v": PROTOCOL_VERSION, "kind": kind.value}
    payload: bytes | None = None
    for f in fields(cls):
        value = getattr(message, f.name)
        if f.metadata.get("payload"):
            payload = value
        else:
            header[f.name] = _to_json(value)
    # Check what we send by the rules we receive with, so a bad message fails here, at its
    # source, instead of being rejected by the peer.
    _parse_fields(cls, header, kind.value)
    if payload is not None:
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise MalformedMessageError(f"{kind.value}: the payload must be bytes", kind=kind.value)
        _check_payload(cls, message, bytes(payload), kind.value)
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise MessageTooLargeError(
            f"header of {len(header_bytes)} bytes, limit {MAX_HEADER_BYTES}", kind=kind.value
        )
    if payload is None:
        return [header_bytes]
    return [header_bytes, bytes(payload)]


def _to_json(value: Any) -> Any:
    if isinstance(value, RecognitionResult):
        return value.to_dict()
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    return value


# --- decoding ---------------------------------------------------------------------


def decode(frames: Any) -> Message:
    """The message in ``frames`` (a list of bytes-like frames, routing id removed).

    Raises :class:`ProtocolError` (or a subclass) for anything that is not a valid message of
    this protocol version, and never any other exception, whatever the input.
    """
    try:
        return _decode(frames)
    except ProtocolError:
        raise
    except Exception as exc:
        # Every check in _decode raises ProtocolError deliberately (the fuzz tests call it
        # directly to prove that); this backstop keeps the promise should one miss an input.
        raise MalformedMessageError(f"undecodable message ({type(exc).__name__}: {exc})") from exc


def _decode(frames: Any) -> Message:
    if not isinstance(frames, (list, tuple)):
        raise MalformedMessageError(f"frames must be a list, not {type(frames).__name__}")
    if not frames:
        raise MalformedMessageError("no frames")
    if len(frames) > MAX_FRAMES:
        raise MessageTooLargeError(f"{len(frames)} frames, limit {MAX_FRAMES}")
    views = []
    for frame in frames:
        try:
            views.append(memoryview(frame))
        except TypeError:
            raise MalformedMessageError(f"a frame must be bytes, not {type(frame).__name__}") from None
    header_view = views[0]
    if header_view.nbytes > MAX_HEADER_BYTES:
        raise MessageTooLargeError(f"header of {header_view.nbytes} bytes, limit {MAX_HEADER_BYTES}")
    if len(views) > 1 and views[1].nbytes > MAX_PAYLOAD_BYTES:
        raise MessageTooLargeError(f"payload of {views[1].nbytes} bytes, limit {MAX_PAYLOAD_BYTES}")

    header = _parse_header(header_view.tobytes())
    version = header.get("v")
    if type(version) is not int:
        raise MalformedMessageError("the header has no integer protocol version 'v'")
    if version != PROTOCOL_VERSION:
        raise ProtocolVersionError(
            f"got version {version}, expected {PROTOCOL_VERSION}", got=version, expected=PROTOCOL_VERSION
        )
    kind_name = header.get("kind")
    if not isinstance(kind_name, str):
        raise MalformedMessageError("the header has no string 'kind'")
    try:
        kind = MessageKind(kind_name)
    except ValueError:
        raise UnknownMessageKindError(
            f"unknown kind {kind_name[:40]!r}", kind=kind_name[:40], kind_name=kind_name[:40]
        ) from None
    cls = MESSAGE_TYPES[kind]
    payload_field = _PAYLOAD_FIELDS[cls]
    if payload_field is None and len(views) > 1:
        raise MalformedMessageError(f"{kind.value} carries no payload, got a second frame", kind=kind.value)
    if payload_field is not None and len(views) < 2:
        raise MalformedMessageError(f"{kind.value} needs a payload frame", kind=kind.value)

    values = _parse_fields(cls, header, kind.value)
    if payload_field is not None:
        values[payload_field] = views[1].tobytes()
    message = cls(**values)
    if payload_field is not None:
        _check_payload(cls, message, values[payload_field], kind.value)
    return message


def _reject_constant(name: str) -> Any:
    raise MalformedMessageError(f"{name} is not a number the protocol allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedMessageError(f"number {text[:20]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedMessageError(f"duplicate key {key[:40]!r} in the header")
        result[key] = value
    return result


def _parse_header(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessageError("the header is not UTF-8 text") from None
    try:
        header = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers too long to convert.
        raise MalformedMessageError(f"the header is not JSON ({str(exc)[:80]})") from None
    if not isinstance(header, dict):
        raise MalformedMessageError("the header is not a JSON object")
    return header


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = hints
    return hints


def _parse_fields(cls: type, data: dict[str, Any], kind: str, prefix: str | None = None) -> dict[str, Any]:
    """The constructor arguments of ``cls`` read from the JSON object ``data``, checked.

    ``kind`` is the message kind (for the error); ``prefix`` names the object in error texts.
    """
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.metadata.get("payload"):
            continue
        where = f"{prefix or kind}.{f.name}"
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise MalformedMessageError(f"{where} is missing", kind=kind)
            # An optional field left out: the dataclass default applies.
            continue
        values[f.name] = _parse_value(hints[f.name], data[f.name], f.metadata, where, kind)
    return values


def _parse_value(tp: Any, value: Any, meta: Any, where: str, kind: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return _parse_value(inner, value, meta, where, kind)
    if tp is str:
        if not isinstance(value, str):
            raise MalformedMessageError(f"{where} must be a string", kind=kind)
        if meta.get("nonempty") and not value:
            raise MalformedMessageError(f"{where} must not be empty", kind=kind)
        if meta.get("sha256") and not _SHA256_RE.fullmatch(value):
            raise MalformedMessageError(f"{where} must be a lowercase hex sha256", kind=kind)
        if meta.get("hex") and not _HEX_RE.fullmatch(value):
            raise MalformedMessageError(f"{where} must be lowercase hex digits", kind=kind)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise MalformedMessageError(f"{where} must be true or false", kind=kind)
        return value
    if tp is int:
        # bool is an int to Python but not to the protocol.
        if type(value) is not int:
            raise MalformedMessageError(f"{where} must be an integer", kind=kind)
        return _check_number(value, meta, where, kind)
    if tp is float:
        if type(value) not in (int, float):
            raise MalformedMessageError(f"{where} must be a number", kind=kind)
        if not math.isfinite(value):
            raise MalformedMessageError(f"{where} must be finite", kind=kind)
        return _check_number(float(value), meta, where, kind)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise MalformedMessageError(f"{where} must be a list", kind=kind)
        if meta.get("nonempty") and not value:
            raise MalformedMessageError(f"{where} must not be empty", kind=kind)
        item_meta = {"nonempty": True} if meta.get("nonempty") else {}
        return tuple(
            _parse_value(item_type, item, item_meta, f"{where}[{i}]", kind) for i, item in enumerate(value)
        )
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise MalformedMessageError(f"{where} must be an object", kind=kind)
        return dict(value)
    if tp is RecognitionResult:
        return _parse_recognition_result(value, where, kind)
    if isinstance(tp, type) and tp in (ModelInfo, ModelRef, ErrorInfo):
        if not isinstance(value, dict):
            raise MalformedMessageError(f"{where} must be an object", kind=kind)
        return tp(**_parse_fields(tp, value, kind, where))
    raise MalformedMessageError(f"{where}: no rule for type {tp!r}", kind=kind)


def _check_number(value: Any, meta: Any, where: str, kind: str) -> Any:
    # No count, size, offset or duration on this wire is negative.
    if value < 0:
        raise MalformedMessageError(f"{where} must not be negative", kind=kind)
    if meta.get("positive") and value <= 0:
        raise MalformedMessageError(f"{where} must be greater than zero", kind=kind)
    return value


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _parse_recognition_result(value: Any, where: str, kind: str) -> RecognitionResult:
    """Check the JSON shape of ``RecognitionResult.to_dict()`` strictly, then build it."""

    def bad(what: str) -> MalformedMessageError:
        return MalformedMessageError(f"{where}: {what}", kind=kind)

    def number(obj: dict[str, Any], key: str, *, optional: bool = False, nullable: bool = False) -> None:
        if key not in obj:
            if optional:
                return
            raise bad(f"'{key}' is missing")
        if obj[key] is None and nullable:
            return
        if not _is_number(obj[key]):
            raise bad(f"'{key}' must be a finite number")

    def timed_text(obj: Any, what: str) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise bad(f"each {what} must be an object")
        number(obj, "start")
        number(obj, "end")
        if not isinstance(obj.get("text"), str):
            raise bad(f"each {what} needs a string 'text'")
        return obj

    if not isinstance(value, dict):
        raise bad("must be an object")
    segments = value.get("segments", [])
    if not isinstance(segments, list):
        raise bad("'segments' must be a list")
    for segment in segments:
        timed_text(segment, "segment")
        number(segment, "no_speech_prob", optional=True, nullable=True)
        words = segment.get("words", [])
        if not isinstance(words, list):
            raise bad("a segment's 'words' must be a list")
        for word in words:
            timed_text(word, "word")
            number(word, "probability", optional=True)
    if not isinstance(value.get("language", ""), str):
        raise bad("'language' must be a string")
    number(value, "language_probability", optional=True, nullable=True)
    number(value, "audio_seconds", optional=True)
    timings = value.get("timings", {})
    if not isinstance(timings, dict) or not all(_is_number(v) for v in timings.values()):
        raise bad("'timings' must map names to numbers")
    return RecognitionResult.from_dict(value)


def _check_payload(cls: type, message: Any, payload: bytes, kind: str) -> None:
    """Rules that tie a message's payload to its header fields."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageTooLargeError(f"payload of {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}", kind=kind)
    if cls is Work:
        if not payload:
            raise MalformedMessageError("WORK carries no audio", kind=kind)
        if message.audio_format == AUDIO_FORMAT_PCM_S16LE and len(payload) % PCM_S16LE_SAMPLE_BYTES:
            raise MalformedMessageError("WORK audio is not a whole number of 16-bit samples", kind=kind)
    elif cls is ModelPiece:
        end = message.offset + len(payload)
        if end > message.total_size:
            raise MalformedMessageError(
                f"MODEL_PIECE ends at byte {end}, past the file's {message.total_size} bytes", kind=kind
            )
        if message.final and end != message.total_size:
            raise MalformedMessageError("the final MODEL_PIECE does not end the file", kind=kind)
        if not message.final and not payload:
            raise MalformedMessageError("an empty MODEL_PIECE that is not the final one", kind=kind)
