"""Model provisioning between a real coordinator and real agent processes over real ZeroMQ.

The coordinator serves the real Whisper base q8_0 file (81 MB); agents start
with an empty model store and fetch it when a job's chunks need it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sttdesk.cluster.leasing import ModelRef
from sttdesk.cluster.provisioning import ModelFile
from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.engine.store import InstalledModel, ModelStore
from sttdesk.store import JobStore
from tests.engine.conftest import base_q8_model  # noqa: F401 - the fixture
from tests.engine.tiny_models import small_filesystem

from .harness import (
    AgentProcess,
    CoordinatorRig,
    add_job,
    start_agent,
    start_coordinator,
    wait_for,
    write_pcm,
)
from .relay import Relay

#: Bound for a whole provisioning (81 MB over loopback on a busy 2-core machine).
PROVISION_TIMEOUT = 180.0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture
def served(base_q8_model: InstalledModel) -> ModelFile:  # noqa: F811
    return ModelFile(name=base_q8_model.name, sha256=base_q8_model.sha256, size=base_q8_model.size,
                     path=Path(base_q8_model.path))


@pytest.fixture
def rig_factory(tmp_path: Path, served: ModelFile) -> Iterator:
    rigs: list[CoordinatorRig] = []
    stores: list[JobStore] = []
    agents: list[AgentProcess] = []
    relays: list[Relay] = []

    def make(**upload_options: object) -> tuple[CoordinatorRig, Path]:
        store = JobStore(tmp_path / "jobs.db")
        stores.append(store)
        pcm = write_pcm(tmp_path / "audio.pcm", 40.0)

        def model_files(name: str, sha256: str) -> ModelFile | None:
            return served if (name, sha256) == (served.name, served.sha256) else None

        rig = start_coordinator(store, pcm, models={served.name: ModelRef(served.name, served.sha256)},
                                model_files=model_files, upload_options=upload_options or None)
        rigs.append(rig)
        return rig, pcm

    make.agents = agents  # type: ignore[attr-defined]
    make.relays = relays  # type: ignore[attr-defined]
    yield make
    for rig in rigs:
        rig.stop()
    for agent in agents:
        agent.kill()
    for relay in relays:
        relay.close()
    for store in stores:
        store.close()


def _installed(models_dir: Path, served: ModelFile) -> bool:
    manifest = models_dir / "manifest.json"
    if not manifest.is_file():
        return False
    entry = json.loads(manifest.read_text()).get("models", {}).get(served.name)
    return bool(entry) and entry.get("sha256") == served.sha256


def _events(rig: CoordinatorRig, kind: str) -> list[dict]:
    return [data for k, data in list(rig.events) if k == kind]


def test_agent_fetches_the_missing_model_then_transcribes_with_it(tmp_path: Path, rig_factory, served: ModelFile) -> None:
    rig, _pcm = rig_factory()
    models_dir = tmp_path / "agent-models"
    agent = start_agent(tmp_path, "fresh-pc", engine="whisper", models_dir=models_dir)
    rig_factory.agents.append(agent)
    job_id = add_job(rig.store, _pcm, 1, length=3.0, model=served.name)
    rig.coordinator.add_agent(agent.endpoint)

    wait_for(lambda: rig.store.get_job(job_id).state is JobState.COMPLETED, "the job to complete",
             timeout=PROVISION_TIMEOUT)

    # The agent's store holds the very same bytes, checked, and nothing half-written is left.
    store = ModelStore(models_dir)
    installed = store.get(served.name)
    assert installed.sha256 == served.sha256
    assert _sha256(installed.path) == served.sha256
    assert not list((models_dir / ".provisioning").glob("*.part"))
    # The chunk waited for the model without spending a lease or a retry on it.
    (chunk,) = rig.store.chunks_of(job_id)
    assert chunk.state is ChunkState.DONE
    assert chunk.attempt == 1 and chunk.failures == 0
    assert chunk.done_agent_id == agent.agent_id
    assert "installed" in agent.log()
    assert _events(rig, "model_provision_sent")


def test_a_broken_link_resumes_the_transfer_from_the_partial_file(tmp_path: Path, rig_factory,
                                                                   served: ModelFile) -> None:
    rig, pcm = rig_factory()
    models_dir = tmp_path / "agent-models"
    agent = start_agent(tmp_path, "far-pc", "--fake-store", models_dir=models_dir)
    rig_factory.agents.append(agent)
    host, port = agent.endpoint.removeprefix("tcp://").rsplit(":", 1)
    # 20 MB/s: the 81 MB file takes seconds, so the cut lands mid-transfer.
    relay = Relay((host, int(port)), rate=20e6)
    rig_factory.relays.append(relay)
    job_id = add_job(rig.store, pcm, 2, length=3.0, model=served.name)
    rig.coordinator.add_agent(relay.endpoint, server_key=agent.key)  # the key of the agent behind the relay

    partial_dir = models_dir / ".provisioning"

    def partial_size() -> int:
        return sum(p.stat().st_size for p in partial_dir.glob("*.part")) if partial_dir.is_dir() else 0

    wait_for(lambda: partial_size() > 10_000_000, "10 MB to arrive", timeout=PROVISION_TIMEOUT)
    relay.cut()
    # Both sides notice the silence: the coordinator loses the agent, the agent drops it.
    wait_for(lambda: _events(rig, "agent_lost"), "the coordinator to lose the agent")
    paused = wait_for(lambda: re.search(r"left at byte (\d+)", agent.log()), "the agent to pause the transfer")
    kept = int(paused.group(1))
    assert 10_000_000 <= kept < served.size
    assert partial_size() == kept  # the partial file stays for the resume
    relay.restore()

    wait_for(lambda: rig.store.get_job(job_id).state is JobState.COMPLETED, "the job to complete",
             timeout=PROVISION_TIMEOUT)
    # The second transfer started where the partial file ended, not from byte 0.
    starts = [e["offset"] for e in _events(rig, "model_provision_started")]
    assert starts[0] == 0
    assert kept in starts[1:], starts
    assert f"resuming at byte {kept}" in agent.log()
    assert _installed(models_dir, served)
    assert _sha256(models_dir / f"ggml-{served.name}.bin") == served.sha256
    assert all(c.failures == 0 for c in rig.store.chunks_of(job_id))


def test_three_agents_fetch_at_once_within_the_coordinator_wide_limit(tmp_path: Path, rig_factory,
                                                                      served: ModelFile) -> None:
    rig, pcm = rig_factory(max_in_flight=6, window=3)
    dirs = [tmp_path / f"models-{i}" for i in range(3)]
    agents = [start_agent(tmp_path, f"pc-{i}", "--fake-store", models_dir=d) for i, d in enumerate(dirs)]
    rig_factory.agents.extend(agents)
    job_id = add_job(rig.store, pcm, 9, length=3.0, model=served.name)
    for agent in agents:
        rig.coordinator.add_agent(agent.endpoint)

    wait_for(lambda: all(_installed(d, served) for d in dirs), "every agent to install the model",
             timeout=PROVISION_TIMEOUT)
    wait_for(lambda: rig.store.get_job(job_id).state is JobState.COMPLETED, "the job to complete")

    for folder in dirs:
        assert _sha256(folder / f"ggml-{served.name}.bin") == served.sha256
    assert len(_events(rig, "model_provision_sent")) == 3
    # Never more pieces in flight than the coordinator allows, all three transfers together.
    assert 3 < rig.coordinator.peak_pieces_in_flight <= 6
    # Heartbeats kept flowing: nobody was lost, no chunk spent a retry.
    assert not _events(rig, "agent_lost")
    assert all(c.failures == 0 and c.attempt == 1 for c in rig.store.chunks_of(job_id))
    done_by = {c.done_agent_id for c in rig.store.chunks_of(job_id)}
    assert done_by <= {a.agent_id for a in agents}


def test_a_full_disk_gives_a_typed_error_removes_the_partial_file_and_stops_the_upload(
        tmp_path: Path, rig_factory, served: ModelFile) -> None:
    rig, pcm = rig_factory()
    with small_filesystem(tmp_path / "small-disk", "4m") as models_dir:
        agent = start_agent(tmp_path, "full-pc", "--fake-store", models_dir=models_dir)
        rig_factory.agents.append(agent)
        job_id = add_job(rig.store, pcm, 1, length=3.0, model=served.name)
        rig.coordinator.add_agent(agent.endpoint)

        (failure,) = wait_for(lambda: _events(rig, "model_provision_failed"), "the agent to give up")
        assert failure["code"] == "disk_full"
        log_text = wait_for(lambda: "[disk_full]" in agent.log() and agent.log(), "the typed error in the log")
        assert "Not enough disk space" in log_text
        assert not list((models_dir / ".provisioning").glob("*.part"))
        wait_for(lambda: not rig.coordinator.model_uploads(), "the upload to end")
        # Not offered again: the agent asked once only, the chunk still waits, unspent.
        # Heartbeats go on naming the model; neither side starts the transfer again.
        time.sleep(3.0)
        assert agent.log().count("fetching it from the coordinator") == 1
        assert len(_events(rig, "model_provision_started")) == 1
        (chunk,) = rig.store.chunks_of(job_id)
        assert chunk.state is ChunkState.PENDING and chunk.failures == 0
        agent.kill()
