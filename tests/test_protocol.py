"""The wire protocol: every message round-trips, every malformed input is a ProtocolError."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import fields, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sttdesk import protocol as wire
from sttdesk.domain.errors import SttdeskError
from sttdesk.domain.transcript import RecognitionResult, Segment, Word
from sttdesk.engine.errors import EngineTimeoutError
from sttdesk.protocol import (
    MAX_HEADER_BYTES,
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
    MalformedMessageError,
    MessageKind,
    MessageTooLargeError,
    ProtocolError,
    ProtocolVersionError,
    UnknownMessageKindError,
    decode,
    encode,
)

SHA = "0123456789abcdef" * 4
PCM = b"\x01\x00\xff\xff" * 8000  # 0.5 s of 16 kHz s16le


def _result() -> RecognitionResult:
    words = (Word(0.0, 0.4, "And", 0.91), Word(0.4, 0.9, "so,", 0.8))
    return RecognitionResult(
        segments=(Segment(0.0, 0.9, "And so,", words, no_speech_prob=0.01), Segment(1.0, 1.5, "yes.")),
        language="en",
        language_probability=0.97,
        audio_seconds=1.5,
        timings={"transcribe": 0.25, "total": 0.3},
    )


SAMPLES: list[Any] = [
    wire.Hello(coordinator_id="c0ffee", coordinator_name="anna@desk-3", protocol=PROTOCOL_VERSION),
    wire.Ready(
        agent_id="a1", agent_name="spare-pc", version="0.1.0", slots=2, threads=1,
        models=(wire.ModelInfo(name="base-q8_0", sha256=SHA, size=81_768_585),),
        cpu="Intel(R) Core(TM) i5-8500, 6 cores", host="spare-pc.local", session="5e55", protocol=1,
    ),
    wire.Work(
        lease_id="L1", job_id="J1", chunk_id=17, attempt=1,
        model=wire.ModelRef(name="base-q8_0", sha256=SHA), options={"language": "vi", "beam_size": 5},
        deadline_seconds=300.0, sample_rate=16000, audio_format="pcm_s16le", audio_seconds=0.5, payload=PCM,
    ),
    wire.Result(
        lease_id="L1", job_id="J1", chunk_id=17, attempt=2, result=_result(),
        agent_seconds=2.5, engine_seconds=1.75,
    ),
    wire.Failure(
        lease_id="L1", job_id="J1", chunk_id=17, attempt=3,
        error=wire.ErrorInfo.from_error(EngineTimeoutError("stuck", seconds=300)),
    ),
    wire.Cancel(lease_id="L1"),
    wire.Released(lease_ids=("L1", "L2")),
    wire.Heartbeat(busy=1, slots=2),
    wire.Heartbeat(busy=0, slots=2, wanted_models=(wire.ModelRef(name="base-q8_0", sha256=SHA),),
                   models=(wire.ModelInfo(name="base-q8_0", sha256=SHA, size=2048),)),
    wire.Bye(reason="shutting down"),
    wire.ModelRequest(name="base-q8_0", sha256=SHA, offset=1024),
    wire.ModelRequest(name="base-q8_0", sha256=SHA, offset=0,
                      error=wire.ErrorInfo.from_error(EngineTimeoutError("stuck", seconds=3))),
    wire.ModelPiece(name="base-q8_0", sha256=SHA, offset=0, total_size=4, final=False, piece_sha256=SHA,
                    payload=b"mm"),
    wire.ModelPiece(name="base-q8_0", sha256=SHA, offset=1024, total_size=2048, final=True, payload=b"m" * 1024),
    wire.Error(code="malformed_message", detail="WORK.lease_id is missing"),
    wire.PairRequest(coordinator_id="c0ffee", coordinator_name="anna@desk-3"),
    wire.PairChallenge(agent_id="a1", agent_name="spare-pc", paired=False, expires_seconds=300.0, attempts_left=3),
    wire.PairExchange(spake="41" * 33, confirm="9f" * 32, attempts_left=2),
    wire.PairConfirm(confirm="0a" * 32),
    wire.PairResult(paired=False, agent_id="a1", agent_name="spare-pc",
                    error=wire.ErrorInfo.from_error(EngineTimeoutError("stuck", seconds=300))),
]


def test_the_samples_cover_every_kind() -> None:
    assert {type(m).KIND for m in SAMPLES} == set(MessageKind)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).KIND.value)
def test_every_message_round_trips(message: Any) -> None:
    frames = encode(message)
    assert all(isinstance(f, bytes) for f in frames)
    header = json.loads(frames[0])
    assert header["v"] == PROTOCOL_VERSION
    assert header["kind"] == type(message).KIND.value
    assert len(frames) == (2 if wire.has_payload(type(message).KIND) else 1)
    assert decode(frames) == message


def test_decode_accepts_any_bytes_like_frame() -> None:
    work = SAMPLES[2]
    header, payload = encode(work)
    assert decode([bytearray(header), memoryview(payload)]) == work
    assert decode((header, payload)) == work


def test_unknown_header_fields_are_ignored_for_forward_compatibility() -> None:
    header = json.loads(encode(wire.Cancel(lease_id="L9"))[0])
    header["added_in_a_later_release"] = {"x": 1}
    assert decode([json.dumps(header).encode()]) == wire.Cancel(lease_id="L9")


def test_failure_carries_the_error_as_the_domain_describes_it() -> None:
    error = EngineTimeoutError("stuck", seconds=300)
    info = decode(encode(SAMPLES[4])).error
    assert info.to_dict() == error.to_dict()
    remote = info.to_error()
    assert isinstance(remote, SttdeskError)
    assert (remote.code, remote.transient) == ("engine_timeout", True)
    assert "300" in remote.user_message("vi") and remote.user_message("vi") != remote.user_message("en")


def test_result_keeps_words_times_and_language() -> None:
    result = decode(encode(SAMPLES[3])).result
    assert isinstance(result, RecognitionResult)
    assert result.text == "And so, yes."
    assert result.segments[0].words[1] == Word(0.4, 0.9, "so,", 0.8)
    assert result.language_probability == pytest.approx(0.97)


# --- malformed input ------------------------------------------------------------


def _header(kind: str = "CANCEL", **fields: Any) -> bytes:
    data = {"v": PROTOCOL_VERSION, "kind": kind}
    data.update(fields)
    return json.dumps(data).encode()


def _sample_header(kind: MessageKind) -> dict[str, Any]:
    message = next(m for m in SAMPLES if type(m).KIND is kind)
    return json.loads(encode(message)[0])


def _frames_with(kind: MessageKind, **changes: Any) -> list[bytes]:
    message = next(m for m in SAMPLES if type(m).KIND is kind)
    frames = encode(message)
    header = json.loads(frames[0])
    header.update(changes)
    return [json.dumps(header).encode(), *frames[1:]]


MALFORMED: dict[str, tuple[Any, type[ProtocolError]]] = {
    "frames not a list": (b'{"v":1}', MalformedMessageError),
    "no frames": ([], MalformedMessageError),
    "three frames": ([_header(), b"", b""], MessageTooLargeError),
    "frame is an int": ([5], MalformedMessageError),
    "frame is text": (['{"v":1,"kind":"CANCEL","lease_id":"x"}'], MalformedMessageError),
    "not utf-8": ([b"\xff\xfe{}"], MalformedMessageError),
    "not json": ([b"hello agent"], MalformedMessageError),
    "truncated json": ([_header(lease_id="L1")[:-3]], MalformedMessageError),
    "json array": ([b"[1, 2, 3]"], MalformedMessageError),
    "json string": ([b'"WORK"'], MalformedMessageError),
    "no version": ([b'{"kind": "CANCEL", "lease_id": "L"}'], MalformedMessageError),
    "version is text": ([b'{"v": "1", "kind": "CANCEL", "lease_id": "L"}'], MalformedMessageError),
    "version is bool": ([b'{"v": true, "kind": "CANCEL", "lease_id": "L"}'], MalformedMessageError),
    "newer version": ([b'{"v": 2, "kind": "CANCEL", "lease_id": "L"}'], ProtocolVersionError),
    "older version": ([b'{"v": 0, "kind": "HELLO"}'], ProtocolVersionError),
    "no kind": ([b'{"v": 1, "lease_id": "L"}'], MalformedMessageError),
    "kind is a number": ([b'{"v": 1, "kind": 3}'], MalformedMessageError),
    "unknown kind": ([_header("SHUTDOWN_EVERYTHING")], UnknownMessageKindError),
    "lower-case kind": ([_header("cancel", lease_id="L")], UnknownMessageKindError),
    "header over the limit": ([_header(lease_id="x" * MAX_HEADER_BYTES)], MessageTooLargeError),
    "payload over the limit": (
        [_frames_with(MessageKind.WORK)[0], b"\0" * (MAX_PAYLOAD_BYTES + 2)],
        MessageTooLargeError,
    ),
    "duplicate key": ([b'{"v": 1, "kind": "CANCEL", "lease_id": "a", "lease_id": "b"}'], MalformedMessageError),
    "NaN": ([b'{"v": 1, "kind": "HEARTBEAT", "busy": NaN, "slots": 1}'], MalformedMessageError),
    "Infinity": ([b'{"v": 1, "kind": "HEARTBEAT", "busy": 0, "slots": Infinity}'], MalformedMessageError),
    "float overflow": ([_frames_with(MessageKind.WORK, deadline_seconds="@")[0].replace(b'"@"', b"1e999"), PCM],
                       MalformedMessageError),
    "huge integer": ([b'{"v": 1, "kind": "HEARTBEAT", "busy": ' + b"9" * 5000 + b', "slots": 1}'],
                     MalformedMessageError),
    "deep nesting": ([b'{"v": 1, "kind": "CANCEL", "lease_id": ' + b"[" * 30000 + b"]" * 30000 + b"}"],
                     MalformedMessageError),
    "lease id is a number": ([_header(lease_id=7)], MalformedMessageError),
    "empty lease id": ([_header(lease_id="")], MalformedMessageError),
    "payload on a header-only kind": ([_header(lease_id="L"), b"audio"], MalformedMessageError),
    "work without payload": ([_frames_with(MessageKind.WORK)[0]], MalformedMessageError),
    "work with empty audio": ([_frames_with(MessageKind.WORK)[0], b""], MalformedMessageError),
    "work with half a sample": ([_frames_with(MessageKind.WORK)[0], b"\0\0\0"], MalformedMessageError),
    "chunk id as text": (_frames_with(MessageKind.WORK, chunk_id="17"), MalformedMessageError),
    "negative chunk id": (_frames_with(MessageKind.RESULT, chunk_id=-1), MalformedMessageError),
    "attempt as text": (_frames_with(MessageKind.WORK, attempt="1"), MalformedMessageError),
    "attempt as float": (_frames_with(MessageKind.WORK, attempt=1.5), MalformedMessageError),
    "attempt as bool": (_frames_with(MessageKind.WORK, attempt=True), MalformedMessageError),
    "attempt zero": (_frames_with(MessageKind.WORK, attempt=0), MalformedMessageError),
    "negative deadline": (_frames_with(MessageKind.WORK, deadline_seconds=-5), MalformedMessageError),
    "zero deadline": (_frames_with(MessageKind.WORK, deadline_seconds=0), MalformedMessageError),
    "negative audio length": (_frames_with(MessageKind.WORK, audio_seconds=-0.5), MalformedMessageError),
    "zero sample rate": (_frames_with(MessageKind.WORK, sample_rate=0), MalformedMessageError),
    "model is a string": (_frames_with(MessageKind.WORK, model="base"), MalformedMessageError),
    "model without hash": (_frames_with(MessageKind.WORK, model={"name": "base"}), MalformedMessageError),
    "model hash not hex": (_frames_with(MessageKind.WORK, model={"name": "b", "sha256": "z" * 64}),
                           MalformedMessageError),
    "model hash upper-case": (_frames_with(MessageKind.WORK, model={"name": "b", "sha256": SHA.upper()}),
                              MalformedMessageError),
    "options is a list": (_frames_with(MessageKind.WORK, options=["beam"]), MalformedMessageError),
    "negative busy": ([_header("HEARTBEAT", busy=-1, slots=2)], MalformedMessageError),
    "slots missing": ([_header("HEARTBEAT", busy=0)], MalformedMessageError),
    "zero slots in ready": (_frames_with(MessageKind.READY, slots=0), MalformedMessageError),
    "models not a list": (_frames_with(MessageKind.READY, models={"name": "x"}), MalformedMessageError),
    "model entry negative size": (
        _frames_with(MessageKind.READY, models=[{"name": "x", "sha256": SHA, "size": -1}]), MalformedMessageError),
    "no lease ids": ([_header("RELEASED", lease_ids=[])], MalformedMessageError),
    "empty lease id in list": ([_header("RELEASED", lease_ids=["L1", ""])], MalformedMessageError),
    "lease ids not strings": ([_header("RELEASED", lease_ids=[1, 2])], MalformedMessageError),
    "result not an object": (_frames_with(MessageKind.RESULT, result="hello"), MalformedMessageError),
    "result segment without times": (
        _frames_with(MessageKind.RESULT, result={"segments": [{"text": "hi"}], "language": "en"}),
        MalformedMessageError),
    "result word time as text": (
        _frames_with(MessageKind.RESULT, result={"segments": [
            {"start": 0, "end": 1, "text": "hi", "words": [{"start": "0", "end": 1, "text": "hi"}]}]}),
        MalformedMessageError),
    "result timings not numbers": (
        _frames_with(MessageKind.RESULT, result={"segments": [], "timings": {"total": "fast"}}),
        MalformedMessageError),
    "negative engine time": (_frames_with(MessageKind.RESULT, engine_seconds=-1.0), MalformedMessageError),
    "error without code": (_frames_with(MessageKind.FAILURE, error={"transient": True, "detail": "",
                                                                     "message_en": "", "message_vi": ""}),
                           MalformedMessageError),
    "transient not a bool": (_frames_with(MessageKind.FAILURE, error={
        "code": "x", "transient": 1, "detail": "", "message_en": "", "message_vi": ""}), MalformedMessageError),
    "model piece past its end": (
        [_frames_with(MessageKind.MODEL_PIECE)[0], b"m" * 2000], MalformedMessageError),
    "final piece short of the end": (
        [_frames_with(MessageKind.MODEL_PIECE)[0], b"m" * 10], MalformedMessageError),
    "empty middle piece": (
        [_frames_with(MessageKind.MODEL_PIECE, final=False)[0], b""], MalformedMessageError),
    "negative offset": (_frames_with(MessageKind.MODEL_REQUEST, offset=-1), MalformedMessageError),
    "piece hash not a sha256": (
        [_frames_with(MessageKind.MODEL_PIECE, piece_sha256="abc")[0], b"m" * 1024], MalformedMessageError),
    "wanted model without hash": (
        _frames_with(MessageKind.HEARTBEAT, wanted_models=[{"name": "base"}]), MalformedMessageError),
    "announced models not a list": (_frames_with(MessageKind.HEARTBEAT, models="base"), MalformedMessageError),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_input_is_a_protocol_error(name: str) -> None:
    frames, expected = MALFORMED[name]
    with pytest.raises(expected) as caught:
        decode(frames)
    error = caught.value
    assert isinstance(error, ProtocolError)
    assert error.code == expected.code
    assert error.user_message("en") and error.user_message("vi")
    assert error.user_message("en") != error.user_message("vi")


@pytest.mark.parametrize("kind", list(MessageKind), ids=lambda k: k.value)
def test_every_required_field_is_required(kind: MessageKind) -> None:
    header = _sample_header(kind)
    cls = wire.MESSAGE_TYPES[kind]
    payload = [encode(next(m for m in SAMPLES if type(m).KIND is kind))[1]] if wire.has_payload(kind) else []
    required = [
        f.name for f in fields(cls)
        if f.default.__class__.__name__ == "_MISSING_TYPE"
        and f.default_factory.__class__.__name__ == "_MISSING_TYPE"
        and not f.metadata.get("payload")
    ]
    assert required, "every kind has required fields"
    for name in required:
        damaged = {k: v for k, v in header.items() if k != name}
        with pytest.raises(MalformedMessageError, match=name):
            decode([json.dumps(damaged).encode(), *payload])


def test_version_error_names_both_versions_so_a_peer_can_ask_for_an_upgrade() -> None:
    with pytest.raises(ProtocolVersionError) as caught:
        decode([b'{"v": 7, "kind": "HELLO", "coordinator_id": "c"}'])
    assert caught.value.code == "protocol_version"
    assert "7" in caught.value.user_message("en") and "7" in caught.value.user_message("vi")
    assert str(PROTOCOL_VERSION) in caught.value.user_message("en")
    reply = wire.Error.from_error(caught.value)
    assert decode(encode(reply)).code == "protocol_version"


def test_unknown_kind_is_reported_by_name() -> None:
    with pytest.raises(UnknownMessageKindError) as caught:
        decode([_header("REBOOT")])
    assert caught.value.kind == "REBOOT"
    assert "REBOOT" in caught.value.user_message("vi")


# --- encoding checks what it sends ------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        replace(SAMPLES[2], attempt=0),
        replace(SAMPLES[2], audio_seconds=math.nan),
        replace(SAMPLES[2], deadline_seconds=math.inf),
        replace(SAMPLES[2], lease_id=""),
        replace(SAMPLES[2], payload=b""),
        replace(SAMPLES[2], model=wire.ModelRef(name="base", sha256="")),
        replace(SAMPLES[2], options={"prompt": "x" * MAX_HEADER_BYTES}),
        replace(SAMPLES[7], busy=-1),
        wire.Released(lease_ids=()),
    ],
    ids=["attempt 0", "NaN length", "infinite deadline", "no lease id", "no audio", "no model hash",
         "header too big", "negative busy", "nothing released"],
)
def test_encode_refuses_messages_that_break_the_rules(bad: Any) -> None:
    with pytest.raises(ProtocolError):
        encode(bad)


def test_encode_refuses_objects_that_are_not_messages() -> None:
    with pytest.raises(MalformedMessageError):
        encode(wire.ModelRef(name="base", sha256=SHA))  # type: ignore[arg-type]


def test_the_protocol_module_does_not_import_zmq() -> None:
    code = "import sys, sttdesk.protocol; assert 'zmq' not in sys.modules, 'zmq imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- fuzzing: decode never raises anything but ProtocolError -----------------------


def _decode_or_protocol_error(frames: Any) -> None:
    # The checks themselves, without decode()'s backstop that turns any other exception
    # into a ProtocolError: a gap in them must fail here, not hide.
    try:
        message = wire._decode(frames)
    except ProtocolError:
        return
    # Whatever decodes must be a real message that encodes again.
    assert type(message) in wire.MESSAGE_TYPES.values()
    encode(message)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    sorted({f.name for cls in wire.MESSAGE_TYPES.values() for f in fields(cls)} | {"v", "kind", "x"})
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=4))
def test_fuzz_random_frames(frames: list[bytes]) -> None:
    _decode_or_protocol_error(frames)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from([k.value for k in MessageKind] + ["NOPE"]),
    version=st.sampled_from([PROTOCOL_VERSION, PROTOCOL_VERSION, 0, 2, "1", None]),
    body=st.dictionaries(field_names, json_values, max_size=8),
    payload=st.none() | st.binary(max_size=64),
)
def test_fuzz_plausible_headers(kind: str, version: Any, body: dict[str, Any], payload: bytes | None) -> None:
    header = dict(body, v=version, kind=kind)
    frames = [json.dumps(header).encode()] + ([] if payload is None else [payload])
    _decode_or_protocol_error(frames)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    data=st.data(),
)
def test_fuzz_damaged_real_messages(sample: Any, data: st.DataObject) -> None:
    frames = [bytearray(f) for f in encode(sample)]
    header = frames[0]
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(header) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            header[position] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del header[position:]
            if not header:
                break
        else:
            header[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    if data.draw(st.booleans()) and len(frames) == 2:
        frames[1] = frames[1][: data.draw(st.integers(0, len(frames[1])))]
    _decode_or_protocol_error([bytes(f) for f in frames])


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(), st.text(), st.none(), st.lists(st.integers()), st.dictionaries(st.text(), st.text())))
def test_fuzz_values_that_are_not_frames(value: Any) -> None:
    _decode_or_protocol_error(value)


@pytest.mark.parametrize("header", [
    b'{"v":1,"kind":"PAIR_EXCHANGE","spake":""}',
    b'{"v":1,"kind":"PAIR_EXCHANGE","spake":"4G"}',
    b'{"v":1,"kind":"PAIR_EXCHANGE","spake":"ABCD"}',
    b'{"v":1,"kind":"PAIR_CONFIRM","confirm":"abc"}',
    b'{"v":1,"kind":"PAIR_CONFIRM","confirm":"' + b"00" * 257 + b'"}',
])
def test_pairing_fields_must_be_short_lowercase_hex(header: bytes) -> None:
    with pytest.raises(wire.MalformedMessageError):
        decode([header])
