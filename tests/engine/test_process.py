"""EngineProcess: a child process per model, typed errors for crashes, hangs and OOM, clean exits.

Most tests run a scripted backend (tests/engine/fake_backends.py) in a real
child process, so every failure is real (a segfault is a segfault) yet fast;
the tests marked ``model`` do the same with whisper.cpp and the base model.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sttdesk.domain.errors import UnsupportedLanguageError
from sttdesk.engine.backend import InvalidAudioError, WhisperCppBackend
from sttdesk.engine.errors import (
    CorruptModelError,
    EngineCrashedError,
    EngineError,
    EngineOutOfMemoryError,
    EngineTimeoutError,
    ModelError,
)
from sttdesk.engine.options import DecodeOptions
from sttdesk.engine.process import (
    FRAME_HEAD,
    FRAME_MAGIC,
    MAX_PAYLOAD_BYTES,
    EngineProcess,
    ProtocolError,
    error_from_wire,
    error_to_wire,
    recv_frame,
    send_frame,
)
from sttdesk.engine.store import InstalledModel

from .audio import read_audio
from .fake_backends import write_fake_model
from .wer import normalize_english

SCRIPTED = "tests.engine.fake_backends:ScriptedBackend"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Generous: a child starts Python and numpy in well under a second, but CI machines are busy.
TIMEOUT = 60.0


def _audio(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, int(16000 * seconds)).astype(np.float32)


def _digest(audio: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(audio.tobytes()).hexdigest()


def _command(prompt: str) -> DecodeOptions:
    return DecodeOptions(language="en", initial_prompt=prompt)


def _gone(pid: int, within: float = 10.0, *, zombie_ok: bool = False) -> bool:
    """True once process ``pid`` no longer exists, waiting up to ``within`` seconds.

    A zombie counts as still there (our child not reaped), unless ``zombie_ok``: an
    orphan's zombie belongs to whoever adopted it.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True
        if zombie_ok and "State:\tZ" in status:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    return write_fake_model(tmp_path / "fake.bin")


@pytest.fixture
def engine(fake_model: Path) -> Iterator[EngineProcess]:
    with EngineProcess(fake_model, backend=SCRIPTED) as process:
        yield process


# --- framing and errors on the wire ----------------------------------------------------


def test_frames_carry_a_header_and_raw_bytes() -> None:
    left, right = socket.socketpair()
    with left, right:
        audio = _audio(0.5)
        send_frame(left, {"op": "transcribe", "samples": audio.size}, audio)
        header, payload = recv_frame(right, time.monotonic() + 5)
        assert header == {"op": "transcribe", "samples": audio.size}
        np.testing.assert_array_equal(np.frombuffer(payload, dtype=np.float32), audio)


def test_bad_magic_and_oversized_frames_are_protocol_errors() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(FRAME_HEAD.pack(b"HTTP", 2, 0) + b"{}")
        with pytest.raises(ProtocolError):
            recv_frame(right, time.monotonic() + 5)
    left, right = socket.socketpair()
    with left, right:
        left.sendall(FRAME_HEAD.pack(FRAME_MAGIC, 2, MAX_PAYLOAD_BYTES + 1) + b"{}")
        with pytest.raises(ProtocolError):
            recv_frame(right, time.monotonic() + 5)


def test_non_object_header_is_a_protocol_error() -> None:
    left, right = socket.socketpair()
    with left, right:
        body = json.dumps([1, 2]).encode()
        left.sendall(struct.pack("!4sIQ", FRAME_MAGIC, len(body), 0) + body)
        with pytest.raises(ProtocolError):
            recv_frame(right, time.monotonic() + 5)


def test_a_closed_peer_is_eof_and_silence_is_a_timeout() -> None:
    left, right = socket.socketpair()
    with right:
        with left, pytest.raises(TimeoutError):
            recv_frame(right, time.monotonic() + 0.1)
        with pytest.raises(EOFError):
            recv_frame(right, time.monotonic() + 5)


@pytest.mark.parametrize(
    "error",
    [
        EngineOutOfMemoryError("std::bad_alloc"),
        CorruptModelError(path="/m/ggml-base.bin", detail="bad magic"),
        UnsupportedLanguageError("English only", language="vi", supported="en"),
        EngineTimeoutError(seconds=12.0),
    ],
)
def test_errors_cross_the_process_boundary_with_their_type_and_message(error: Exception) -> None:
    copy = error_from_wire(json.loads(json.dumps(error_to_wire(error))))
    assert type(copy) is type(error)
    assert copy.user_message("en") == error.user_message("en")
    assert copy.user_message("vi") == error.user_message("vi")
    assert copy.transient == error.transient


def test_unreadable_error_becomes_a_crash() -> None:
    assert isinstance(error_from_wire("boom"), EngineCrashedError)


# --- the child process with the scripted backend ------------------------------------------


def test_audio_reaches_the_child_intact_and_the_model_loads_once(engine: EngineProcess) -> None:
    info = engine.start()
    assert info.model_type == "fake"
    pid = engine.pid
    for seed in range(3):
        audio = _audio(2.0, seed)
        result = engine.transcribe(audio, DecodeOptions(language="vi"), timeout=TIMEOUT)
        assert result.text == _digest(audio)
        assert result.language == "vi"
        assert result.timings["pid"] == pid
        assert "engine" in result.timings and "load" not in result.timings
    assert engine.starts == 1


def test_first_call_starts_the_child_and_reports_the_load(fake_model: Path) -> None:
    with EngineProcess(fake_model, backend=SCRIPTED) as engine:
        assert engine.pid is None
        result = engine.transcribe(_audio(), timeout=TIMEOUT)
        assert "load" in result.timings
        assert engine.pid is not None


@pytest.mark.parametrize("command", ["segfault", "abort", "exit", "kill-self"])
def test_a_crash_is_transient_and_the_next_call_gets_a_fresh_child(engine: EngineProcess, command: str) -> None:
    engine.start()
    first = engine.pid
    with pytest.raises(EngineCrashedError) as caught:
        engine.transcribe(_audio(), _command(command), timeout=TIMEOUT)
    assert caught.value.transient
    assert _gone(first)
    audio = _audio(seed=7)
    assert engine.transcribe(audio, timeout=TIMEOUT).text == _digest(audio)
    assert engine.pid != first and engine.starts == 2


def test_killing_the_child_mid_request_is_a_crash(engine: EngineProcess) -> None:
    engine.start()
    pid = engine.pid
    assert pid is not None
    killer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
    killer.start()
    with pytest.raises(EngineCrashedError) as caught:
        engine.transcribe(_audio(), _command("sleep:30"), timeout=TIMEOUT)
    killer.join()
    assert "SIGKILL" in caught.value.detail
    assert engine.transcribe(_audio(), timeout=TIMEOUT).text


def test_a_hang_times_out_and_the_child_is_killed(engine: EngineProcess) -> None:
    engine.start()
    pid = engine.pid
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError) as caught:
        engine.transcribe(_audio(), _command("hang"), timeout=0.5)
    assert time.monotonic() - started < 30  # not the hour the child would sleep
    assert caught.value.transient and caught.value.fields["seconds"] == 0.5
    assert _gone(pid)
    assert engine.transcribe(_audio(), timeout=TIMEOUT).text


def test_memory_error_in_the_child_is_out_of_memory(engine: EngineProcess) -> None:
    engine.start()
    pid = engine.pid
    with pytest.raises(EngineOutOfMemoryError) as caught:
        engine.transcribe(_audio(), _command("memory"), timeout=TIMEOUT)
    assert caught.value.transient
    assert _gone(pid)  # a child that ran out of memory is not trusted again
    assert engine.transcribe(_audio(), timeout=TIMEOUT).text and engine.starts == 2


def test_a_memory_cap_turns_a_huge_allocation_into_out_of_memory(fake_model: Path) -> None:
    with EngineProcess(fake_model, backend=SCRIPTED, memory_limit_bytes=2 * 1024**3) as engine:
        with pytest.raises(EngineOutOfMemoryError):
            engine.transcribe(_audio(), _command("allocate"), timeout=TIMEOUT)
        assert engine.transcribe(_audio(), timeout=TIMEOUT).text


def test_an_unexpected_exception_restarts_the_child(engine: EngineProcess) -> None:
    engine.start()
    pid = engine.pid
    with pytest.raises(EngineCrashedError) as caught:
        engine.transcribe(_audio(), _command("bug"), timeout=TIMEOUT)
    assert "RuntimeError" in caught.value.detail
    assert _gone(pid)
    assert engine.transcribe(_audio(), timeout=TIMEOUT).text


def test_a_permanent_error_keeps_the_child(engine: EngineProcess) -> None:
    engine.start()
    pid = engine.pid
    with pytest.raises(InvalidAudioError) as caught:
        engine.transcribe(_audio(), _command("reject"), timeout=TIMEOUT)
    assert not caught.value.transient
    assert engine.pid == pid
    assert engine.transcribe(_audio(), timeout=TIMEOUT).text and engine.starts == 1


def test_bad_audio_and_timeouts_are_refused_before_reaching_the_child(engine: EngineProcess) -> None:
    with pytest.raises(InvalidAudioError):
        engine.transcribe(np.zeros((2, 10), dtype=np.float32), timeout=TIMEOUT)
    with pytest.raises(ValueError):
        engine.transcribe(_audio(), timeout=0)
    assert engine.pid is None and engine.starts == 0


def test_a_model_that_fails_to_load_is_permanent_and_not_retried(tmp_path: Path) -> None:
    model = write_fake_model(tmp_path / "broken.bin", "corrupt")
    with EngineProcess(model, backend=SCRIPTED) as engine:
        with pytest.raises(CorruptModelError) as caught:
            engine.transcribe(_audio(), timeout=TIMEOUT)
        assert not caught.value.transient
        with pytest.raises(CorruptModelError):
            engine.transcribe(_audio(), timeout=TIMEOUT)
        assert engine.starts == 1  # the failure was remembered, no second child
        write_fake_model(model, "ok")  # the user reinstalled the model
        os.utime(model, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
        assert engine.transcribe(_audio(), timeout=TIMEOUT).text
        assert engine.starts == 2


def test_a_crash_while_loading_is_a_corrupt_model(tmp_path: Path) -> None:
    model = write_fake_model(tmp_path / "crashes.bin", "segfault")
    with EngineProcess(model, backend=SCRIPTED) as engine:
        with pytest.raises(CorruptModelError) as caught:
            engine.start()
        assert "SIGSEGV" in caught.value.user_message("en")
        assert engine.pid is None


def test_missing_model_fails_before_starting_a_child(tmp_path: Path) -> None:
    with EngineProcess(tmp_path / "ggml-missing.bin") as engine:
        with pytest.raises(ModelError):
            engine.transcribe(_audio(), timeout=TIMEOUT)
        assert engine.starts == 0


def test_close_stops_the_child_and_refuses_more_work(fake_model: Path) -> None:
    engine = EngineProcess(fake_model, backend=SCRIPTED)
    engine.start()
    pid = engine.pid
    engine.close()
    engine.close()  # idempotent
    assert engine.pid is None and _gone(pid)
    with pytest.raises(EngineError):
        engine.transcribe(_audio(), timeout=TIMEOUT)


def test_close_from_another_thread_interrupts_a_request(engine: EngineProcess) -> None:
    engine.start()
    pid = engine.pid
    threading.Timer(0.3, engine.close).start()
    started = time.monotonic()
    with pytest.raises(EngineCrashedError):
        engine.transcribe(_audio(), _command("hang"), timeout=TIMEOUT)
    assert time.monotonic() - started < 20
    assert _gone(pid)


def test_a_child_started_from_a_short_lived_thread_outlives_the_thread(engine: EngineProcess) -> None:
    # PR_SET_PDEATHSIG fires when the forking *thread* ends; the engine must not use it then.
    starter = threading.Thread(target=engine.start)
    starter.start()
    starter.join()
    time.sleep(0.5)
    assert engine.pid is not None
    assert engine.transcribe(_audio(), timeout=TIMEOUT).text and engine.starts == 1


@pytest.mark.parametrize("from_thread", [False, True], ids=["main-thread", "worker-thread"])
def test_the_child_dies_with_its_parent(tmp_path: Path, fake_model: Path, from_thread: bool) -> None:
    script = textwrap.dedent(
        f"""
        import sys, threading, time
        from sttdesk.engine.process import EngineProcess
        engine = EngineProcess({str(fake_model)!r}, backend={SCRIPTED!r})
        if {from_thread!r}:
            worker = threading.Thread(target=engine.start)
            worker.start()
            worker.join()
        else:
            engine.start()
        print(engine.pid, flush=True)
        time.sleep(3600)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, cwd=REPO_ROOT)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert not _gone(child_pid, within=0.2)
    finally:
        parent.kill()
        parent.wait()
    assert _gone(child_pid, within=10.0, zombie_ok=True)


# --- the real model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jfk(en_audio: Path) -> np.ndarray:
    return read_audio(en_audio / "jfk.wav")


@pytest.mark.model
def test_the_engine_gives_what_the_backend_gives_in_process(base_q8_model: InstalledModel, jfk: np.ndarray) -> None:
    options = DecodeOptions(language="en")
    direct = WhisperCppBackend()
    direct.load(Path(base_q8_model.path), 1)
    try:
        expected = direct.transcribe(jfk, options)
    finally:
        direct.close()
    with EngineProcess(base_q8_model.path, threads=1) as engine:
        result = engine.transcribe(jfk, options, timeout=TIMEOUT)
    assert result.text == expected.text
    assert [w.text for s in result.segments for w in s.words] == [w.text for s in expected.segments for w in s.words]
    got = [(w.start, w.end) for s in result.segments for w in s.words]
    want = [(w.start, w.end) for s in expected.segments for w in s.words]
    np.testing.assert_allclose(got, want, atol=0.001)  # the wire rounds times to milliseconds


@pytest.mark.model
def test_killing_whisper_mid_transcription_then_the_next_call_succeeds(
    base_q8_model: InstalledModel, jfk: np.ndarray
) -> None:
    with EngineProcess(base_q8_model.path, threads=1) as engine:
        engine.start()
        pid = engine.pid
        assert pid is not None
        long_audio = np.concatenate([jfk, jfk])  # 22 s: several seconds of work on one thread
        killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
        killer.start()
        with pytest.raises(EngineCrashedError) as caught:
            engine.transcribe(long_audio, DecodeOptions(language="en"), timeout=TIMEOUT)
        killer.join()
        assert caught.value.transient and _gone(pid)
        result = engine.transcribe(jfk, DecodeOptions(language="en"), timeout=TIMEOUT)
        assert "ask not what your country can do for you" in normalize_english(result.text)
        assert engine.starts == 2


@pytest.mark.model
def test_whisper_past_its_deadline_times_out(base_q8_model: InstalledModel, jfk: np.ndarray) -> None:
    with EngineProcess(base_q8_model.path, threads=1) as engine:
        engine.start()
        with pytest.raises(EngineTimeoutError):
            engine.transcribe(jfk, DecodeOptions(language="en"), timeout=0.2)
        result = engine.transcribe(jfk, DecodeOptions(language="en"), timeout=TIMEOUT)
        assert "fellow americans" in normalize_english(result.text)


def _vm_peak_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmPeak in /proc")


@pytest.mark.model
def test_whisper_hitting_a_memory_cap_is_out_of_memory(base_q8_model: InstalledModel, jfk: np.ndarray) -> None:
    # Measure what the loaded model occupies, then allow a little more than that: the load
    # fits, the transcription's buffers do not, and whisper.cpp's std::bad_alloc surfaces.
    with EngineProcess(base_q8_model.path) as probe:
        probe.start()
        assert probe.pid is not None
        loaded = _vm_peak_bytes(probe.pid)
    outcome: Exception | None = None
    for margin_mib in (4, 8, 12):
        with EngineProcess(base_q8_model.path, memory_limit_bytes=loaded + margin_mib * 2**20) as engine:
            try:
                engine.start()
            except ModelError:
                continue  # this margin was too small even for loading; allow a little more
            with pytest.raises(EngineOutOfMemoryError) as caught:
                engine.transcribe(jfk, DecodeOptions(language="en"), timeout=TIMEOUT)
            outcome = caught.value
            assert engine.pid is None  # the child is gone; the next call starts afresh
            break
    assert outcome is not None, "no memory cap let the model load yet stopped the transcription"
    assert outcome.transient


def _memory_cgroup(tmp_name: str) -> Path | None:
    """A fresh cgroup-v1 memory group we may limit, or None (not root, no v1 memory controller)."""
    root = Path("/sys/fs/cgroup/memory")
    if os.geteuid() != 0 or not (root / "cgroup.procs").is_file():
        return None
    group = root / tmp_name
    try:
        group.mkdir()
    except OSError:
        return None
    return group


@pytest.mark.model
def test_the_kernel_oom_killer_is_reported_as_out_of_memory(base_q8_model: InstalledModel, jfk: np.ndarray) -> None:
    group = _memory_cgroup(f"sttdesk-test-{os.getpid()}")
    if group is None:
        pytest.skip("needs root and a writable cgroup-v1 memory controller")
    try:
        with EngineProcess(base_q8_model.path) as engine:
            engine.start()
            # Pages already charged stay with the old group: 8 MB is all the child may add,
            # far less than a transcription needs, so the OOM killer SIGKILLs it.
            (group / "memory.limit_in_bytes").write_text(str(8 * 2**20))
            (group / "cgroup.procs").write_text(str(engine.pid))
            with pytest.raises(EngineOutOfMemoryError) as caught:
                engine.transcribe(jfk, DecodeOptions(language="en"), timeout=TIMEOUT)
            assert "out-of-memory killer" in caught.value.detail
            assert "oom_kill 1" in (group / "memory.oom_control").read_text()
            # The next child starts outside the limited group and works.
            result = engine.transcribe(jfk, DecodeOptions(language="en"), timeout=TIMEOUT)
            assert "fellow americans" in normalize_english(result.text)
    finally:
        group.rmdir()


@pytest.mark.model
def test_a_truncated_model_is_a_permanent_error_without_retries(
    base_q8_model: InstalledModel, tmp_path: Path, jfk: np.ndarray
) -> None:
    truncated = tmp_path / "ggml-base-q8_0.bin"
    with open(base_q8_model.path, "rb") as source:
        truncated.write_bytes(source.read(20 * 2**20))
    with EngineProcess(truncated) as engine:
        with pytest.raises(ModelError) as caught:
            engine.transcribe(jfk, DecodeOptions(language="en"), timeout=TIMEOUT)
        assert not caught.value.transient
        with pytest.raises(ModelError):
            engine.transcribe(jfk, DecodeOptions(language="en"), timeout=TIMEOUT)
        assert engine.starts == 1
