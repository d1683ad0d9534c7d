"""JobService end to end through build_core: real agent processes (fake engine), real sockets, real store.

The fake engine answers with text derived from each chunk's audio, so these
tests check the whole control path (validation, preparation, leases, retries,
dead letters, controls, events) without whisper's cost; the real engine is
tested in test_transcribe_cli.py.
"""

from __future__ import annotations

import dataclasses
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sttdesk.app import Core, alerts_from, build_core, fake_model_args
from sttdesk.domain.errors import SttdeskError
from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.domain.retry import RetryPolicy
from sttdesk.engine.store import InstalledModel
from sttdesk.service.events import EventKind, ServiceEvent
from sttdesk.service.job_service import JobNotFoundError, JobRequest, JobStateError
from sttdesk.service.local_pool import LocalPool
from sttdesk.settings import load_settings
from sttdesk.store.repository import JobStore

from .conftest import SpeechFactory, wav_seconds, write_wav

#: Generous: the machine is shared, and agent processes start in a second or two.
DEADLINE_SECONDS = 90.0

pytestmark = [
    pytest.mark.timeout(300),
    # a background thread (coordinator, events, preparer) that dies is a failure, not a warning
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]


def fast_settings() -> Any:
    """The defaults, with retries a few tenths of a second apart instead of 2-6-18 s."""
    settings = load_settings()
    settings.retry = RetryPolicy(base_seconds=0.2, factor=1.5, jitter=0.0)
    return settings


def wait_for(predicate: Callable[[], Any], *, timeout: float = DEADLINE_SECONDS, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class EventLog:
    """Every service event, in the order the bus delivered them."""

    def __init__(self, core: Core) -> None:
        self._events: list[ServiceEvent] = []
        self._lock = threading.Lock()
        core.events.subscribe(self._add)

    def _add(self, event: ServiceEvent) -> None:
        with self._lock:
            self._events.append(event)

    def of(self, job_id: str) -> list[ServiceEvent]:
        with self._lock:
            return [e for e in self._events if e.job_id == job_id]

    def kinds(self, job_id: str) -> list[EventKind]:
        return [e.kind for e in self.of(job_id)]

    def wait(self, job_id: str | None, kind: EventKind, *, count: int = 1) -> list[ServiceEvent]:
        def found() -> list[ServiceEvent]:
            with self._lock:
                hits = [e for e in self._events if e.kind is kind and (job_id is None or e.job_id == job_id)]
            return hits if len(hits) >= count else []

        return wait_for(found, what=f"{count} {kind.value} event(s)")


@contextmanager
def running_core(*, agents: int = 2, agent_args: tuple[str, ...] = (), settings: Any = None) -> Iterator[Core]:
    core = build_core(engine="fake", pool_agents=agents, agent_args=agent_args,
                      settings=settings or fast_settings())
    with core:
        wait_for(lambda: sum(a.ready for a in core.coordinator.agents()) >= agents, what="agents ready")
        yield core


def wait_state(core: Core, job_id: str, *states: JobState) -> Any:
    wanted = {s.value for s in states}
    return wait_for(lambda: (v := core.service.get(job_id)).state in wanted and v,
                    what=f"job {job_id} to be {'/'.join(sorted(wanted))}")


def leased_chunk_ids(core: Core, job_id: str) -> list[int]:
    return [e.chunk_id for e in core.store.events(job_id=job_id, kinds=["chunk_leased"])]


def fake_chunk_texts(core: Core, job_id: str) -> list[str]:
    """What the fake engine says for each chunk of the job (its text depends on the audio only)."""
    return [chunk.result().text for chunk in core.store.chunks_of(job_id) if chunk.state is ChunkState.DONE]


# --- the happy path ------------------------------------------------------------------


def test_add_returns_at_once_and_the_job_runs_to_completion_with_events_in_order(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(80)
    with running_core() as core:
        log = EventLog(core)
        job_id = core.service.add(JobRequest(path=path, language="en"))
        # returned before any work: the job is recorded PENDING, not yet cut into chunks
        first = core.store.events(job_id=job_id)[0]
        assert first.kind == "job_added"
        view = wait_state(core, job_id, JobState.COMPLETED)
        log.wait(job_id, EventKind.JOB_FINISHED)

    assert view.model == tiny_model.name  # the store's default model
    assert view.chunks_total >= 3 and view.chunks_done == view.chunks_total and view.chunks_failed == 0
    assert view.duration == pytest.approx(wav_seconds(path), abs=0.05)
    assert view.error_code is None and view.retries == 0
    states = [(e.data["old"], e.data["new"]) for e in core.store.events(job_id=job_id, kinds=["job_state"])]
    assert states == [("PENDING", "PROCESSING"), ("PROCESSING", "COMPLETED")]

    kinds = log.kinds(job_id)
    assert kinds[0] is EventKind.JOB_ADDED
    assert kinds[-1] is EventKind.JOB_FINISHED and log.of(job_id)[-1].data["state"] == "COMPLETED"
    assert kinds.count(EventKind.CHUNK_DONE) == view.chunks_total
    first_done = kinds.index(EventKind.CHUNK_DONE)
    assert EventKind.JOB_CHANGED in kinds[1:first_done]  # planned and leased before any chunk came back
    agents_seen = [e for e in log._events if e.kind is EventKind.AGENT_SEEN]
    assert agents_seen == [] or all(e.data["local"] for e in agents_seen)

    transcript = core.service.transcript(job_id, partial=False)
    assert transcript.complete and not transcript.gaps
    texts = fake_chunk_texts(core, job_id)
    assert len(texts) == view.chunks_total
    for text in texts:  # every chunk's text, once, in order
        assert transcript.text.count(text.split()[-1]) == 1
    positions = [transcript.text.index(text.split()[-1]) for text in texts]
    assert positions == sorted(positions)
    assert core.service.list()[0].id == job_id and core.service.count(states=["COMPLETED"]) == 1


def test_a_job_of_pure_silence_completes_at_once_with_an_empty_transcript(
    tiny_model: InstalledModel, tmp_path: Path
) -> None:
    path = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 20, np.float32))
    with running_core(agents=1) as core:
        log = EventLog(core)
        job_id = core.service.add(JobRequest(path=path, language="en"))
        view = wait_state(core, job_id, JobState.COMPLETED)
        log.wait(job_id, EventKind.JOB_FINISHED)
        transcript = core.service.transcript(job_id)
    assert view.chunks_total == 0
    assert transcript.text == "" and transcript.segments == () and transcript.complete
    assert leased_chunk_ids(core, job_id) == []


# --- bad inputs --------------------------------------------------------------------


def _empty(tmp_path: Path) -> JobRequest:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return JobRequest(path=path, language="en")


def _video_only(tmp_path: Path) -> JobRequest:
    path = tmp_path / "silent-film.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=duration=2:size=64x64:rate=10", "-an", str(path)], check=True)
    return JobRequest(path=path, language="en")


def _not_audio(tmp_path: Path) -> JobRequest:
    path = tmp_path / "notes.mp3"
    path.write_text("these are meeting notes, not a recording\n" * 50)
    return JobRequest(path=path, language="en")


def _missing(tmp_path: Path) -> JobRequest:
    return JobRequest(path=tmp_path / "nowhere.wav", language="en")


def _bad_language(tmp_path: Path) -> JobRequest:
    return JobRequest(path=Path(__file__).parents[1] / "data" / "en" / "jfk.wav", language="fr")


def _unknown_model(tmp_path: Path) -> JobRequest:
    return JobRequest(path=Path(__file__).parents[1] / "data" / "en" / "jfk.wav", language="en",
                      model="whisper-huge-v9")


def _bad_options(tmp_path: Path) -> JobRequest:
    return JobRequest(path=Path(__file__).parents[1] / "data" / "en" / "jfk.wav", language="en",
                      options={"beam_size": 99})


@pytest.mark.parametrize(
    ("make_request", "code"),
    [
        (_empty, "empty_file"),
        (_video_only, "no_audio_stream"),
        (_not_audio, "undecodable_audio"),
        (_missing, "file_not_found"),
        (_bad_language, "unsupported_language"),
        (_unknown_model, "model_unavailable"),
        (_bad_options, "invalid_decode_options"),
    ],
    ids=["empty", "no-audio-stream", "not-audio", "missing", "language", "model", "options"],
)
def test_bad_inputs_fail_fast_with_both_messages_and_create_no_job(
    tiny_model: InstalledModel, tmp_path: Path, make_request: Callable[[Path], JobRequest], code: str
) -> None:
    request = make_request(tmp_path)
    core = build_core(pool_agents=0, settings=fast_settings())
    with core:
        with pytest.raises(SttdeskError) as caught:
            core.service.add(request)
        added, refused = core.service.add_many([request])
        assert core.service.count() == 0
        assert core.store.events(kinds=["job_added"]) == []
    error = caught.value
    assert error.code == code and not error.transient
    english, vietnamese = error.user_message("en"), error.user_message("vi")
    assert english and vietnamese and english != vietnamese
    assert added == [] and [(p, e.code) for p, e in refused] == [(Path(request.path), code)]


@pytest.mark.parametrize(
    ("make_request", "code"),
    [(_video_only, "no_audio_stream"), (_not_audio, "undecodable_audio")],
    ids=["no-audio-stream", "not-audio"],
)
def test_without_probe_now_a_bad_file_becomes_a_failed_job_with_the_same_error(
    tiny_model: InstalledModel, tmp_path: Path, make_request: Callable[[Path], JobRequest], code: str
) -> None:
    request = make_request(tmp_path)
    with running_core(agents=0) as core:
        log = EventLog(core)
        job_id = core.service.add(request, probe_now=False)
        added = core.service.get(job_id)
        view = wait_state(core, job_id, JobState.FAILED)
        finished = log.wait(job_id, EventKind.JOB_FINISHED)[0]
    assert added.duration is None  # recorded before ffprobe ran
    assert view.error_code == code and view.error_en and view.error_vi and view.error_en != view.error_vi
    assert request.path.name in view.error_en and request.path.name in view.error_vi
    assert finished.data["state"] == "FAILED" and finished.data["error"]["code"] == code
    assert view.chunks_total == 0


@pytest.mark.parametrize(("make_request", "code"), [(_empty, "empty_file"), (_missing, "file_not_found"),
                                                     (_bad_language, "unsupported_language"),
                                                     (_unknown_model, "model_unavailable")],
                         ids=["empty", "missing", "language", "model"])
def test_without_probe_now_what_takes_no_time_to_check_is_still_refused_at_once(
    tiny_model: InstalledModel, tmp_path: Path, make_request: Callable[[Path], JobRequest], code: str
) -> None:
    with running_core(agents=0) as core:
        with pytest.raises(SttdeskError) as caught:
            core.service.add(make_request(tmp_path), probe_now=False)
        assert core.service.count() == 0
    assert caught.value.code == code


def test_without_probe_now_a_good_file_is_probed_then_transcribed(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(40)
    with running_core(agents=1) as core:
        job_id = core.service.add(JobRequest(path=path, language="en"), probe_now=False)
        view = wait_state(core, job_id, JobState.COMPLETED)
    assert view.duration == pytest.approx(wav_seconds(path), abs=0.05)
    assert view.chunks_done == view.chunks_total >= 1


def test_corrections_are_part_of_the_transcript_every_front_end_reads(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(80)
    with running_core(agents=1) as core:
        log = EventLog(core)
        job_id = core.service.add(JobRequest(path=path, language="en"))
        wait_state(core, job_id, JobState.COMPLETED)
        original = core.service.transcript(job_id)
        second = original.segments[1]
        core.service.edit_segment(job_id, segment_index=1, segment_start=second.start, text="Corrected by hand.")
        log.wait(job_id, EventKind.JOB_CHANGED)
        edited = core.service.edited_transcript(job_id)
        as_transcribed = core.service.transcript(job_id, edits=False)
        plain = core.service.transcript(job_id)
        with pytest.raises(JobNotFoundError):
            core.service.edit_segment("nosuchjob", segment_index=0, segment_start=0.0, text="x")
    assert edited.edited == frozenset({1})
    assert edited.transcript.segments[1].text == "Corrected by hand."
    assert plain == edited.transcript
    assert as_transcribed == original and "Corrected by hand." not in as_transcribed.text
    # the other segments are untouched
    assert [s.text for i, s in enumerate(edited.transcript.segments) if i != 1] == \
        [s.text for i, s in enumerate(original.segments) if i != 1]


def test_adding_many_keeps_the_good_files_and_reports_the_bad_ones(
    tiny_model: InstalledModel, speech_file: SpeechFactory, tmp_path: Path
) -> None:
    good, _ = speech_file(20)
    bad = _empty(tmp_path)
    with running_core(agents=1) as core:
        added, refused = core.service.add_many([JobRequest(path=good, language="en"), bad])
        assert len(added) == 1 and [e.code for _, e in refused] == ["empty_file"]
        wait_state(core, added[0], JobState.COMPLETED)


# --- user controls -------------------------------------------------------------------


def test_cancel_stops_handing_out_chunks_and_keeps_what_was_done(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(150)
    with running_core(agents=1, agent_args=("--fake-delay", "1.0")) as core:
        log = EventLog(core)
        job_id = core.service.add(JobRequest(path=path, language="en"))
        log.wait(job_id, EventKind.CHUNK_DONE)
        core.service.cancel(job_id)
        assert core.service.get(job_id).state == "CANCELLED"
        leased = len(leased_chunk_ids(core, job_id))
        time.sleep(2.5)  # a running job would have leased two more chunks by now
        view = core.service.get(job_id)
        assert len(leased_chunk_ids(core, job_id)) == leased
        assert view.state == "CANCELLED" and 1 <= view.chunks_done < view.chunks_total
        assert core.service.transcript(job_id, partial=True).text.startswith("fake")
        with pytest.raises(JobStateError) as caught:
            core.service.pause(job_id)
    assert "CANCELLED" in caught.value.user_message("en") and "CANCELLED" in caught.value.user_message("vi")
    assert any(e.kind is EventKind.JOB_CHANGED and e.data.get("state") == "CANCELLED" for e in log.of(job_id))


def test_pause_holds_the_job_and_resume_finishes_it(tiny_model: InstalledModel, speech_file: SpeechFactory) -> None:
    path, _ = speech_file(150)
    with running_core(agents=1, agent_args=("--fake-delay", "0.7")) as core:
        log = EventLog(core)
        job_id = core.service.add(JobRequest(path=path, language="en"))
        log.wait(job_id, EventKind.CHUNK_DONE)
        core.service.pause(job_id)
        assert core.service.get(job_id).state == "PAUSED"
        time.sleep(1.0)  # the chunk running at the pause may still come back
        leased = len(leased_chunk_ids(core, job_id))
        time.sleep(2.0)
        paused = core.service.get(job_id)
        assert paused.state == "PAUSED" and paused.chunks_done < paused.chunks_total
        assert len(leased_chunk_ids(core, job_id)) == leased
        with pytest.raises(JobStateError):
            core.service.retry_failed(job_id)
        core.service.resume_job(job_id)
        view = wait_state(core, job_id, JobState.COMPLETED)
        with pytest.raises(JobStateError):
            core.service.resume_job(job_id)
    assert view.chunks_done == view.chunks_total
    assert sorted(set(leased_chunk_ids(core, job_id))) == sorted(leased_chunk_ids(core, job_id))
    assert core.service.transcript(job_id, partial=False).complete


def test_delete_removes_the_job_its_files_and_its_history(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(80)
    with running_core(agents=1) as core:
        log = EventLog(core)
        done_id = core.service.add(JobRequest(path=path, language="en"))
        wait_state(core, done_id, JobState.COMPLETED)
        job_dir = core.paths.data_dir / "jobs" / done_id
        assert (job_dir / "audio.pcm").is_file()
        core.service.delete(done_id)
        assert not job_dir.exists()
        with pytest.raises(JobNotFoundError) as caught:
            core.service.get(done_id)
        assert done_id in caught.value.user_message("en") and done_id in caught.value.user_message("vi")
        log.wait(done_id, EventKind.JOB_REMOVED)
        assert core.store.events(job_id=done_id, kinds=["chunk_done"]) == []
        assert path.is_file()  # the user's own file is never touched

        # a job deleted while it runs stops, and its folder goes too
        running_id = core.service.add(JobRequest(path=path, language="en", options={"fake": {"delay": 2.0}}))
        wait_state(core, running_id, JobState.PROCESSING)
        core.service.delete(running_id)
        assert not (core.paths.data_dir / "jobs" / running_id).exists()
        assert core.service.count() == 0
        with pytest.raises(JobNotFoundError):
            core.service.delete(running_id)
        # the late reply for the deleted job's chunk harms nothing: the next job still runs
        next_id = core.service.add(JobRequest(path=path, language="en"))
        wait_state(core, next_id, JobState.COMPLETED)


# --- failures ------------------------------------------------------------------------


def test_transient_failures_are_retried_and_the_job_completes(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(80)
    # each agent's engine crashes on the first chunk it runs
    with running_core(agent_args=("--fake-fail", "engine_crashed", "--fake-fail-count", "1")) as core:
        job_id = core.service.add(JobRequest(path=path, language="en"))
        view = wait_state(core, job_id, JobState.COMPLETED, JobState.FAILED)
    assert view.state == "COMPLETED" and view.chunks_done == view.chunks_total
    retried = core.store.events(job_id=job_id, kinds=["chunk_retry_wait"])
    assert 1 <= len(retried) <= 2 and view.retries == len(retried)
    assert core.store.events(job_id=job_id, kinds=["chunk_dead_letter"]) == []
    leases = leased_chunk_ids(core, job_id)
    assert len(leases) == view.chunks_total + len(retried)
    assert core.service.transcript(job_id, partial=False).complete


def test_a_permanent_failure_fails_the_job_keeps_the_partial_transcript_and_retry_brings_it_back(
    tiny_model: InstalledModel, speech_file: SpeechFactory, tmp_path: Path
) -> None:
    path, _ = speech_file(120)
    with running_core(agents=1) as core:
        log = EventLog(core)
        # a second agent that says its model file is damaged, after a delay in which the good
        # agent finishes every other chunk
        bad = LocalPool(
            agents=1, threads=1, models_dir=core.paths.models_dir, data_dir=tmp_path / "bad-agent",
            on_endpoint=lambda endpoint: core.coordinator.add_agent(endpoint, local=True,
                                                                    server_key=bad.server_key(endpoint)),
            engine="fake",
            extra_args=(*fake_model_args(core.models), f"--trust-key={core.coordinator.keys.public.decode()}",
                        "--fake-fail", "corrupt_model",
                        "--fake-fail-count", "1", "--fake-delay", "2.5"),
        )
        bad.start()
        try:
            wait_for(lambda: sum(a.ready for a in core.coordinator.agents()) == 2, what="both agents")
            job_id = core.service.add(JobRequest(path=path, language="en"))
            failed = wait_state(core, job_id, JobState.FAILED)
            finished = log.wait(job_id, EventKind.JOB_FINISHED)[0]
            wait_for(lambda: core.service.get(job_id).chunks_running == 0, what="no chunk running")
            failed = core.service.get(job_id)
            partial = core.service.transcript(job_id, partial=True)

            assert failed.error_code == "corrupt_model" and failed.error_en and failed.error_vi
            assert failed.error_en != failed.error_vi
            assert finished.data["state"] == "FAILED" and finished.data["error"]["code"] == "corrupt_model"
            assert log.wait(job_id, EventKind.CHUNK_FAILED)[0].data["code"] == "corrupt_model"
            assert failed.chunks_failed == 1 and failed.chunks_done >= 1
            assert len(core.store.events(job_id=job_id, kinds=["chunk_dead_letter"])) == 1
            assert core.store.events(job_id=job_id, kinds=["chunk_retry_wait"]) == []  # no retry of a permanent error
            assert not partial.complete and [g.error_code for g in partial.gaps] == ["corrupt_model"]
            assert partial.text.count("fake") == failed.chunks_done
            assert core.service.find_unfinished(path, language="en") == job_id

            assert core.service.retry_failed(job_id) == 1
            view = wait_state(core, job_id, JobState.COMPLETED)
        finally:
            bad.stop()
    assert view.chunks_done == view.chunks_total and view.error_code is None
    full = core.service.transcript(job_id, partial=False)
    assert full.complete and not full.gaps and full.text.count("fake") == view.chunks_total


# --- picking up unfinished work ----------------------------------------------------------


def test_an_unfinished_job_is_found_again_and_continued_after_a_stop_without_redoing_chunks(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(150)
    with running_core(agents=1, agent_args=("--fake-delay", "0.7")) as core:
        log = EventLog(core)
        job_id = core.service.add(JobRequest(path=path, language="en"))
        log.wait(job_id, EventKind.CHUNK_DONE, count=2)
    # stopped mid-job (agents hand back or finish their chunk, the coordinator leaves)
    stopped = core.service.get(job_id)
    assert stopped.state in ("PENDING", "PROCESSING") and 2 <= stopped.chunks_done < stopped.chunks_total
    done_before = {c.id for c in core.store.chunks_of(job_id) if c.state is ChunkState.DONE}

    again = build_core(engine="fake", pool_agents=2, settings=fast_settings())
    service = again.service
    # found from the table alone, before anything runs
    assert service.find_unfinished(path, language="en") == job_id
    assert service.find_unfinished(path, language="en", model=tiny_model.name) == job_id
    assert service.find_unfinished(path, language="vi") is None
    assert service.find_unfinished(path, language="en", model="base") is None
    assert service.find_unfinished(path.with_name("other.wav"), language="en") is None
    with again:
        service.continue_job(job_id)
        view = wait_state(again, job_id, JobState.COMPLETED)
        assert service.find_unfinished(path, language="en") is None  # completed jobs are not "unfinished"
        with pytest.raises(JobNotFoundError):
            service.continue_job("nosuchjob")
    assert view.chunks_done == view.chunks_total
    leased = leased_chunk_ids(again, job_id)
    assert sorted(set(leased)) == sorted(c.id for c in again.store.chunks_of(job_id))
    for chunk_id in done_before:  # a chunk DONE before the stop was never handed out again
        assert leased.count(chunk_id) == 1
    assert again.service.transcript(job_id, partial=False).complete


def test_continue_job_resumes_a_paused_job_and_retries_a_failed_one(
    tiny_model: InstalledModel, speech_file: SpeechFactory
) -> None:
    path, _ = speech_file(30)
    with running_core(agents=1, agent_args=("--fake-fail", "corrupt_model", "--fake-fail-count", "1")) as core:
        failed_id = core.service.add(JobRequest(path=path, language="en"))
        wait_state(core, failed_id, JobState.FAILED)
        assert core.service.find_unfinished(path, language="en") == failed_id
        core.service.continue_job(failed_id)
        assert wait_state(core, failed_id, JobState.COMPLETED).error_code is None

        paused_id = core.service.add(JobRequest(path=path, language="en"))
        core.service.pause(paused_id)
        assert core.service.get(paused_id).state == "PAUSED"
        core.service.continue_job(paused_id)
        wait_state(core, paused_id, JobState.COMPLETED)


# --- monitoring ----------------------------------------------------------------------------


def test_alerts_name_each_crossed_threshold_in_both_languages(tmp_path: Path) -> None:
    settings = fast_settings()
    with JobStore(tmp_path / "metrics.db") as store:
        quiet = store.metrics()
    assert alerts_from(quiet, settings) == []
    limits = settings.monitoring
    at_limits = dataclasses.replace(quiet, retry_rate=limits.retry_rate_alert,
                                    retries_per_job=limits.mean_retries_alert,
                                    dead_letter_depth=limits.dead_letters_alert,
                                    agent_crashes=limits.agent_crashes_per_hour_alert)
    assert alerts_from(at_limits, settings) == []  # an alert needs the threshold crossed, not reached
    crossed = dataclasses.replace(quiet, retry_rate=0.5, retries_per_job=2.0, dead_letter_depth=101,
                                  agent_crashes=6)
    alerts = alerts_from(crossed, settings)
    assert [a["alert"] for a in alerts] == ["retry_rate", "mean_retries", "dead_letters", "agent_crashes"]
    for alert in alerts:
        assert alert["value"] > alert["limit"]
        assert alert["message_en"] and alert["message_vi"] and alert["message_en"] != alert["message_vi"]


def test_resuming_a_job_whose_chunks_all_came_back_while_paused_completes_it(
    tiny_model: InstalledModel, en_audio: Path
) -> None:
    with running_core(agents=1) as core:
        log = EventLog(core)
        job_id = core.service.add(JobRequest(path=en_audio / "jfk.wav", language="en",
                                             options={"fake": {"delay": 1.5}}))
        wait_state(core, job_id, JobState.PROCESSING)
        core.service.pause(job_id)
        wait_for(lambda: core.service.get(job_id).chunks_done == 1, what="the running chunk to come back")
        assert core.service.get(job_id).state == "PAUSED"
        core.service.resume_job(job_id)
        assert core.service.get(job_id).state == "COMPLETED"
        finished = log.wait(job_id, EventKind.JOB_FINISHED)
    assert finished[0].data["state"] == "COMPLETED"
    assert core.service.transcript(job_id, partial=False).text.startswith("fake 11.00 seconds")
