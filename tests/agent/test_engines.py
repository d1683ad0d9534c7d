"""The fake engine, PCM conversion, the model catalogs and the agent's identity."""

from __future__ import annotations

import hashlib
import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from sttdesk import protocol as wire
from sttdesk.agent.engines import FakeEngineSettings, fake_engine_factory, fake_text
from sttdesk.agent.identity import AGENT_ID_FILE, load_agent_id, make_identity
from sttdesk.agent.models import FixedCatalog, StoreCatalog, fake_model
from sttdesk.agent.slots import pcm_to_float
from sttdesk.domain.errors import SttdeskError
from sttdesk.engine.errors import (
    EngineCrashedError,
    EngineOutOfMemoryError,
    EngineTimeoutError,
)

MODEL = fake_model("fake")


def test_pcm_becomes_float_samples_exactly() -> None:
    pcm = np.array([0, 1, -1, 16384, -32768, 32767], dtype="<i2").tobytes()
    audio = pcm_to_float(pcm)
    assert audio.dtype == np.float32
    assert audio.tolist() == pytest.approx([0.0, 1 / 32768, -1 / 32768, 0.5, -1.0, 32767 / 32768])


def test_the_fake_text_can_be_predicted_from_the_pcm_sent() -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-32768, 32768, size=16000 * 3, dtype=np.int16).astype("<i2").tobytes()
    engine = fake_engine_factory()(MODEL, 1)
    result = engine.transcribe(pcm_to_float(pcm), {"language": "auto"}, timeout=5)
    assert result.text == fake_text(pcm)
    assert result.text.startswith("fake 3.00 seconds ")
    assert result.language == "en"
    words = result.segments[0].words
    assert words[0].start == 0.0 and words[-1].end == pytest.approx(3.0)
    assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(words))


def test_the_fake_engine_fails_the_first_chunks_it_is_told_to() -> None:
    make = fake_engine_factory(FakeEngineSettings(fail_code="engine_oom", fail_count=2))
    engines = [make(MODEL, 1), make(MODEL, 1)]  # two slots share the count
    audio = np.zeros(1600, dtype=np.float32)
    outcomes = []
    for engine in engines * 2:
        try:
            engine.transcribe(audio, {}, timeout=5)
            outcomes.append("ok")
        except EngineOutOfMemoryError as exc:
            assert exc.transient
            outcomes.append(exc.code)
    assert outcomes == ["engine_oom", "engine_oom", "ok", "ok"]


def test_a_chunk_can_ask_the_fake_engine_to_fail() -> None:
    engine = fake_engine_factory()(MODEL, 1)
    with pytest.raises(EngineCrashedError):
        engine.transcribe(np.zeros(160, dtype=np.float32), {"fake": {"fail": "engine_crashed"}}, timeout=5)


def test_the_fake_engine_times_out_when_slower_than_the_deadline() -> None:
    engine = fake_engine_factory(FakeEngineSettings(delay_seconds=30))(MODEL, 1)
    with pytest.raises(EngineTimeoutError):
        engine.transcribe(np.zeros(160, dtype=np.float32), {}, timeout=0.05)


def test_closing_the_fake_engine_interrupts_a_chunk() -> None:
    engine = fake_engine_factory(FakeEngineSettings(delay_seconds=60))(MODEL, 1)
    errors: list[SttdeskError] = []

    def work() -> None:
        try:
            engine.transcribe(np.zeros(160, dtype=np.float32), {}, timeout=120)
        except SttdeskError as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    engine.close()
    thread.join(10)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], EngineCrashedError)


@pytest.mark.parametrize("settings", [{"delay_seconds": -1}, {"speed": -2}, {"fail_code": "explode"},
                                      {"fail_count": -1}])
def test_bad_fake_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FakeEngineSettings(**settings)  # type: ignore[arg-type]


def test_catalogs_match_name_and_hash_together() -> None:
    other = fake_model("base-q8_0", "ab" * 32)
    catalog = FixedCatalog([MODEL, other])
    assert catalog.find(other.ref) == other
    assert catalog.find(wire.ModelRef(name="base-q8_0", sha256=MODEL.sha256)) is None
    assert [m.info().to_dict() for m in catalog.models()] == [
        {"name": "fake", "sha256": MODEL.sha256, "size": 0},
        {"name": "base-q8_0", "sha256": "ab" * 32, "size": 0},
    ]


def test_the_store_catalog_finds_models_installed_while_it_runs(tmp_path: Path) -> None:
    from sttdesk.engine.store import ModelStore
    from tests.engine.test_store import write_model

    catalog = StoreCatalog(tmp_path / "models", rescan_interval=0.0)
    assert catalog.models() == ()
    installed = ModelStore(tmp_path / "models").import_file(write_model(tmp_path / "src" / "ggml-mini.bin"))
    found = catalog.find(wire.ModelRef(name="mini", sha256=installed.sha256))
    assert found is not None and found.path == installed.path and found.size == installed.size
    assert installed.sha256 == hashlib.sha256(installed.path.read_bytes()).hexdigest()
    assert [m.name for m in catalog.models()] == ["mini"]
    assert catalog.find(wire.ModelRef(name="mini", sha256="0" * 64)) is None


def test_a_damaged_model_list_means_no_models_not_a_crash(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "manifest.json").write_text("{ not json")
    catalog = StoreCatalog(folder)
    assert catalog.models() == ()
    assert "cannot read the installed models" in caplog.text


def test_the_agent_id_is_kept_in_the_data_folder(tmp_path: Path) -> None:
    first = load_agent_id(tmp_path / "data")
    assert first == load_agent_id(tmp_path / "data")
    assert (tmp_path / "data" / AGENT_ID_FILE).read_text().strip() == first
    assert load_agent_id(tmp_path / "elsewhere") != first
    identity = make_identity(tmp_path / "data", name="spare-pc")
    again = make_identity(tmp_path / "data", name="spare-pc")
    assert identity.agent_id == again.agent_id == first
    assert identity.session != again.session  # each run is a new session
    assert identity.cpu and identity.host and identity.version


def test_an_unwritable_data_folder_still_gives_an_id(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    agent_id = load_agent_id(blocker / "data")
    assert agent_id and agent_id != load_agent_id(blocker / "data")
    assert "it will change on restart" in caplog.text
