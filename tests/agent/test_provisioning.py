"""A real agent process fetching a model from a scripted coordinator that can damage what it sends."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sttdesk import protocol as wire
from sttdesk.engine.store import InstalledModel
from tests.engine.conftest import base_q8_model  # noqa: F401 - the fixture

from .harness import AgentProcess, ScriptedCoordinator

PIECE = 1 << 20


def _start(agent_factory: Callable[..., AgentProcess], models_dir: Path) -> AgentProcess:
    return agent_factory("--engine", "fake", "--fake-store", "--models-dir", str(models_dir))


def _piece(name: str, sha256: str, data: bytes, offset: int, *, piece_sha: bool = True,
           payload: bytes | None = None) -> wire.ModelPiece:
    chunk = data[offset:offset + PIECE]
    return wire.ModelPiece(name=name, sha256=sha256, offset=offset, total_size=len(data),
                           final=offset + len(chunk) == len(data),
                           piece_sha256=hashlib.sha256(chunk).hexdigest() if piece_sha else None,
                           payload=payload if payload is not None else chunk)


def _serve(coordinator: ScriptedCoordinator, name: str, sha256: str, data: bytes, offset: int) -> wire.ModelRequest:
    """Answer each acknowledgement with the next piece until the agent has the whole file."""
    while True:
        coordinator.send(_piece(name, sha256, data, offset))
        request = coordinator.expect(wire.ModelRequest)
        assert request.error is None, request.error
        offset = request.offset
        if offset >= len(data):
            return request


def test_a_damaged_piece_is_refused_and_the_good_file_installed(
        tmp_path: Path, agent_factory, coordinator_factory, base_q8_model: InstalledModel) -> None:  # noqa: F811
    models_dir = tmp_path / "models"
    agent = _start(agent_factory, models_dir)
    coordinator = coordinator_factory(agent.endpoint)
    ready = coordinator.hello()
    assert base_q8_model.name not in {m.name for m in ready.models}
    data = Path(base_q8_model.path).read_bytes()
    name, sha256 = base_q8_model.name, base_q8_model.sha256

    coordinator.send(wire.Heartbeat(busy=0, slots=0, wanted_models=(wire.ModelRef(name=name, sha256=sha256),)))
    first = coordinator.expect(wire.ModelRequest)
    assert (first.name, first.sha256, first.offset, first.error) == (name, sha256, 0, None)

    # One flipped byte in the first piece: refused, and asked for again from byte 0.
    good = data[:PIECE]
    damaged = bytes([good[0] ^ 0xFF]) + good[1:]
    coordinator.send(_piece(name, sha256, data, 0, payload=damaged))
    again = coordinator.expect(wire.ModelRequest)
    assert again.offset == 0 and again.error is None
    agent_log = agent.wait_for_log("arrived damaged")
    assert "piece at byte 0" in agent_log

    _serve(coordinator, name, sha256, data, 0)
    # The agent announces the installed model in its heartbeat.
    for _ in range(20):
        beat = coordinator.expect(wire.Heartbeat)
        if beat.models and any(m.name == name for m in beat.models):
            break
    else:
        raise AssertionError("the agent never announced the model")
    assert {(m.name, m.sha256, m.size) for m in beat.models} >= {(name, sha256, len(data))}
    manifest = json.loads((models_dir / "manifest.json").read_text())
    assert manifest["models"][name]["sha256"] == sha256
    assert hashlib.sha256((models_dir / f"ggml-{name}.bin").read_bytes()).hexdigest() == sha256
    assert not list((models_dir / ".provisioning").glob("*"))


def test_a_file_with_the_wrong_checksum_is_discarded_and_given_up_after_three_tries(
        tmp_path: Path, agent_factory, coordinator_factory) -> None:
    models_dir = tmp_path / "models"
    agent = _start(agent_factory, models_dir)
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    data = os.urandom(3 * PIECE + 123)
    claimed = hashlib.sha256(b"another file").hexdigest()  # what the coordinator says it is
    coordinator.send(wire.Heartbeat(busy=0, slots=0, wanted_models=(wire.ModelRef(name="odd", sha256=claimed),)))
    assert coordinator.expect(wire.ModelRequest).offset == 0

    for attempt in range(1, 4):
        offset = 0
        while offset < len(data):
            # No per-piece hash: only the whole-file check can catch it.
            coordinator.send(_piece("odd", claimed, data, offset, piece_sha=False))
            ack = coordinator.expect(wire.ModelRequest)
            assert ack.error is None
            offset = ack.offset
        request = coordinator.expect(wire.ModelRequest)  # the verdict on the whole file
        if attempt < 3:
            assert request.error is None and request.offset == 0, request  # discarded, fetched again
    assert request.error is not None and request.error.code == "checksum_mismatch"
    agent_log = agent.wait_for_log("given up [checksum_mismatch]")
    assert agent_log.count("discarded") == 3
    assert not (models_dir / "manifest.json").exists() or "odd" not in (models_dir / "manifest.json").read_text()
    assert not list((models_dir / ".provisioning").glob("*.part"))
    # Still wanted, but given up: the agent does not ask again.
    coordinator.send(wire.Heartbeat(busy=0, slots=0, wanted_models=(wire.ModelRef(name="odd", sha256=claimed),)))
    with pytest.raises(AssertionError):
        coordinator.expect(wire.ModelRequest, timeout=2.0)


def test_pieces_nobody_asked_for_are_dropped(tmp_path: Path, agent_factory, coordinator_factory) -> None:
    models_dir = tmp_path / "models"
    agent = _start(agent_factory, models_dir)
    stranger = coordinator_factory(agent.endpoint, coordinator_id="stranger")
    data = os.urandom(1000)
    sha256 = hashlib.sha256(data).hexdigest()
    # No HELLO, nothing wanted: a piece pushed at the agent goes nowhere.
    stranger.send(_piece("pushed", sha256, data, 0))
    stranger.expect(wire.Ready)  # the agent only announced itself
    agent.wait_for_log("was not asked for")
    assert not (models_dir / ".provisioning").exists()
    assert agent.process.poll() is None


def test_pieces_damaged_again_and_again_end_the_transfer_with_a_typed_error(
        tmp_path: Path, agent_factory, coordinator_factory) -> None:
    models_dir = tmp_path / "models"
    agent = _start(agent_factory, models_dir)
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    data = os.urandom(2 * PIECE)
    sha256 = hashlib.sha256(data).hexdigest()
    coordinator.send(wire.Heartbeat(busy=0, slots=0, wanted_models=(wire.ModelRef(name="noisy", sha256=sha256),)))
    assert coordinator.expect(wire.ModelRequest).offset == 0
    bad = bytes(PIECE)
    request = None
    for _ in range(40):
        coordinator.send(_piece("noisy", sha256, data, 0, payload=bad))
        request = coordinator.expect(wire.ModelRequest)
        if request.error is not None:
            break
        assert request.offset == 0
    assert request is not None and request.error is not None
    assert request.error.code == "model_transfer_failed"
    assert "damaged" in request.error.message_en and request.error.message_vi
    agent.wait_for_log("given up [model_transfer_failed]")
    assert not list((models_dir / ".provisioning").glob("*.part"))
