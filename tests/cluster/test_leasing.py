"""LeaseManager against a real job store: credits, retries, splits, lost agents, late replies, fairness.

No sockets here: agents are AgentLink objects, time is a FakeClock shared by the
store and the lease manager, and the retry policy has no jitter, so the backoff
schedule is checked to the second without sleeping.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from sttdesk import protocol as wire
from sttdesk.cluster.agents import AgentLink
from sttdesk.cluster.leasing import (
    LEASE_GRACE_SECONDS,
    SPLIT_OVERLAP_SECONDS,
    AttemptError,
    LeaseManager,
    ModelRef,
    WorkOrder,
)
from sttdesk.domain.chunks import ChunkSpan, CutKind
from sttdesk.domain.errors import UnsupportedLanguageError
from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.domain.records import DropReason
from sttdesk.domain.retry import RetryPolicy
from sttdesk.domain.transcript import RecognitionResult, Segment
from sttdesk.engine.errors import EngineCrashedError
from sttdesk.store import JobStore

from .conftest import FakeClock

BASE = ModelRef("base-q8_0", "b" * 64)
LARGE = ModelRef("large-q5_0", "1" * 64)
MODELS = {BASE.name: BASE, LARGE.name: LARGE}
#: Lease length the jobs here are planned with.
DEADLINE = 300.0

CRASH = AttemptError.from_error(EngineCrashedError("the engine process died"))
OOM = AttemptError(code="engine_oom", transient=True, detail="out of memory")
TIMEOUT = AttemptError(code="engine_timeout", transient=True, detail="took too long")


# --- helpers ------------------------------------------------------------------------


def chunk_audio(job: Any, chunk: Any) -> bytes:
    """Stand-in audio that tells which chunk it is for."""
    return struct.pack("<qdd", chunk.id, chunk.start, chunk.end)


class Recorder:
    """Collects the lease manager's events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def manager(store: JobStore, clock: FakeClock, recorder: Recorder) -> LeaseManager:
    return LeaseManager(
        store, read_audio=chunk_audio, resolve_model=lambda name: MODELS[name],
        policy=RetryPolicy(jitter=0), clock=clock, on_event=recorder,
    )


_ports = iter(range(17000, 18000))


def agent(name: str, slots: int = 1, *, models: dict[str, str] | None = None, local: bool = False,
          clock: FakeClock | None = None) -> AgentLink:
    """A READY, trusted agent link (as if it had answered HELLO) with the base model unless told otherwise."""
    return AgentLink(
        endpoint=f"tcp://127.0.0.1:{next(_ports)}", local=local, agent_id=name, name=name, slots=slots,
        threads=1, models={BASE.name: BASE.sha256} if models is None else models,
        last_seen=clock() if clock else 0.0, session=f"session-{name}", trusted=True,
    )


def add_job(store: JobStore, count: int, *, model: str = BASE.name, length: float = 30.0,
            name: str = "talk.wav") -> str:
    job = store.add_job(source_path=f"/recordings/{name}", language="en", model_name=model)
    spans = [ChunkSpan(index=i, start=i * length, end=(i + 1) * length, cut=CutKind.SILENCE)
             for i in range(count)]
    store.plan_chunks(job.id, spans, deadline_seconds=DEADLINE)
    return job.id


def result(text: str, seconds: float = 30.0) -> dict[str, Any]:
    return RecognitionResult(segments=(Segment(0.0, seconds, text),), language="en",
                             audio_seconds=seconds).to_dict()


def complete(manager: LeaseManager, link: AgentLink, order: WorkOrder, text: str):
    return manager.complete(link, lease_id=order.lease_id, chunk_id=order.chunk_id, attempt=order.attempt,
                            result=result(text), engine_seconds=0.5, agent_seconds=0.6)


def fail(manager: LeaseManager, link: AgentLink, order: WorkOrder, error: AttemptError) -> bool:
    return manager.fail(link, lease_id=order.lease_id, chunk_id=order.chunk_id, attempt=order.attempt,
                        error=error)


def texts(store: JobStore, job_id: str) -> list[str | None]:
    """Each chunk's text in transcript order (None where there is no result)."""
    return [None if c.result() is None else c.result().text for c in store.chunks_of(job_id)]


def event_kinds(store: JobStore, job_id: str) -> list[str]:
    return [e.kind for e in store.events(job_id=job_id)]


def only(orders: list[tuple[AgentLink, WorkOrder]]) -> tuple[AgentLink, WorkOrder]:
    assert len(orders) == 1, orders
    return orders[0]


# --- credits --------------------------------------------------------------------------


def test_an_agent_never_holds_more_chunks_than_its_free_slots(store, manager, clock):
    job_id = add_job(store, 6)
    two, one = agent("two", 2, clock=clock), agent("one", 1, clock=clock)
    other = agent("other", 3, models={"medium": "c" * 64}, clock=clock)

    orders = manager.assign([two, one, other])

    by_agent = {link.agent_id: [o for a, o in orders if a is link] for link in (two, one, other)}
    assert [len(by_agent[n]) for n in ("two", "one", "other")] == [2, 1, 0]
    assert len(two.leases) == 2 and len(one.leases) == 1 and not other.leases
    assert two.free_slots == one.free_slots == 0
    leased = [c for c in store.chunks_of(job_id) if c.state is ChunkState.LEASED]
    assert sorted(c.lease_agent_id for c in leased) == ["one", "two", "two"]
    for _, order in orders:
        assert order.model == BASE
        assert order.deadline_seconds == DEADLINE
        assert struct.unpack("<qdd", order.audio)[0] == order.chunk_id
    assert manager.assign([two, one, other]) == []

    # a result frees one slot: exactly one more chunk goes out, to the agent that has room
    link, order = next((a, o) for a, o in orders if a is two)
    assert complete(manager, link, order, "first").accepted
    link, order = only(manager.assign([two, one, other]))
    assert link is two and len(two.leases) == 2
    assert sum(c.state is ChunkState.LEASED for c in store.chunks_of(job_id)) == 3


def test_agents_without_the_jobs_model_get_nothing(store, manager, clock):
    job_id = add_job(store, 2)
    wrong_name = agent("wrong-name", 2, models={"tiny": "d" * 64}, clock=clock)
    wrong_file = agent("wrong-file", 2, models={BASE.name: "e" * 64}, clock=clock)
    lost = agent("lost", 2, clock=clock)
    lost.lost = True

    assert manager.assign([wrong_name, wrong_file, lost]) == []
    assert all(c.state is ChunkState.PENDING for c in store.chunks_of(job_id))
    assert not (wrong_name.leases or wrong_file.leases or lost.leases)


def test_a_model_named_without_checksum_goes_out_with_the_agents_exact_file(store, clock):
    add_job(store, 1)
    manager = LeaseManager(store, read_audio=chunk_audio, resolve_model=lambda name: ModelRef(name, None),
                           policy=RetryPolicy(jitter=0), clock=clock)
    link = agent("a", 1, models={BASE.name: "f" * 64}, clock=clock)

    _, order = only(manager.assign([link]))

    # the agent runs only a file whose sha256 matches, so WORK must carry the one it announced
    assert order.model == ModelRef(BASE.name, "f" * 64)


def test_a_job_waiting_for_a_missing_model_does_not_hold_up_the_next_job(store, manager, clock):
    waiting = add_job(store, 5, model=LARGE.name, name="big.wav")
    runnable = add_job(store, 2, name="small.wav")
    link = agent("a", 1, clock=clock)

    _, order = only(manager.assign([link]))

    assert order.job_id == runnable
    assert all(c.state is ChunkState.PENDING for c in store.chunks_of(waiting))


def test_unreadable_audio_dead_letters_the_chunk_at_once(store, clock, recorder):
    job_id = add_job(store, 1)

    def broken(job: Any, chunk: Any) -> bytes:
        raise OSError("No such file or directory: audio.pcm")

    manager = LeaseManager(store, read_audio=broken, resolve_model=lambda name: MODELS[name],
                           policy=RetryPolicy(jitter=0), clock=clock, on_event=recorder)
    link = agent("a", 1, clock=clock)

    assert manager.assign([link]) == []

    assert not link.leases
    (chunk,) = store.chunks_of(job_id)
    assert chunk.state is ChunkState.FAILED and chunk.error.code == "audio_unreadable"
    assert "audio.pcm" in chunk.error.message_en and "audio.pcm" in chunk.error.message_vi
    assert store.get_job(job_id).state is JobState.FAILED
    assert "chunk_failed" in recorder.kinds()


# --- retries ----------------------------------------------------------------------------


def test_transient_failures_back_off_2_6_18_seconds_then_dead_letter(store, manager, clock):
    job_id = add_job(store, 3)
    link = agent("a", 3, clock=clock)
    orders = {o.chunk_id: o for _, o in manager.assign([link])}
    first, middle, last = sorted(orders)
    assert complete(manager, link, orders[first], "one").accepted
    assert complete(manager, link, orders[last], "three").accepted

    order = orders[middle]
    for retry, backoff in enumerate((2.0, 6.0, 18.0), start=1):
        failed_at = clock()
        assert fail(manager, link, order, CRASH)
        chunk = store.get_chunk(middle)
        assert chunk.state is ChunkState.RETRY_WAIT
        assert chunk.not_before == pytest.approx(failed_at + backoff)
        assert chunk.failures == retry

        clock.advance(backoff - 0.01)
        assert manager.wake_retries() == 0
        assert manager.assign([link]) == []
        clock.advance(0.01)
        assert manager.wake_retries() == 1
        _, order = only(manager.assign([link]))
        assert (order.chunk_id, order.attempt) == (middle, retry + 1)

    # the fourth failure (after 3 retries) makes a dead letter and fails the job
    assert fail(manager, link, order, CRASH)
    chunk = store.get_chunk(middle)
    assert chunk.state is ChunkState.FAILED and chunk.is_dead_letter
    job = store.get_job(job_id)
    assert job.state is JobState.FAILED
    assert job.error.code == "engine_crashed" and job.error.message_vi
    assert job.retry_count == 3
    # the partial transcript is kept
    assert texts(store, job_id) == ["one", None, "three"]
    kinds = event_kinds(store, job_id)
    assert kinds.count("chunk_retry_wait") == 3 and kinds.count("chunk_dead_letter") == 1
    clock.advance(3600)
    assert manager.wake_retries() == 0 and manager.assign([link]) == []

    # "retry failed" brings it back with fresh attempts
    assert store.retry_failed(job_id) == 1
    assert store.get_job(job_id).state is JobState.PENDING
    _, order = only(manager.assign([link]))
    assert order.chunk_id == middle and order.attempt == 5
    assert store.get_chunk(middle).failures == 0
    outcome = complete(manager, link, order, "two")
    assert outcome.accepted and outcome.job_completed
    assert texts(store, job_id) == ["one", "two", "three"]
    assert store.get_job(job_id).state is JobState.COMPLETED


def test_a_permanent_error_dead_letters_at_once_keeping_its_messages(store, manager, clock, recorder):
    job_id = add_job(store, 2)
    link = agent("a", 2, clock=clock)
    first, second = sorted((o for _, o in manager.assign([link])), key=lambda o: o.chunk_id)
    assert complete(manager, link, first, "kept").accepted
    # the error as an agent sends it on the wire, then as the coordinator reads it
    wire_error = wire.ErrorInfo.from_error(UnsupportedLanguageError(language="fr", supported="en, vi"))
    error = AttemptError.from_dict(wire_error.to_dict())
    assert not error.transient

    assert fail(manager, link, second, error)

    chunk = store.get_chunk(second.chunk_id)
    assert chunk.state is ChunkState.FAILED and chunk.failures == 1 and chunk.attempt == 1
    assert chunk.error.message_en == "Unsupported language 'fr'. Choose one of: en, vi."
    assert chunk.error.message_vi == "Ngôn ngữ 'fr' không được hỗ trợ. Hãy chọn một trong: en, vi."
    job = store.get_job(job_id)
    assert job.state is JobState.FAILED and job.retry_count == 0
    assert (job.error.code, job.error.message_vi) == ("unsupported_language", chunk.error.message_vi)
    assert "chunk_retry_wait" not in event_kinds(store, job_id)
    assert texts(store, job_id) == ["kept", None]
    assert ("chunk_failed", {"job_id": job_id, "chunk_id": second.chunk_id, "code": "unsupported_language"}) \
        in recorder.events


def test_out_of_memory_splits_the_chunk_into_halves_that_keep_transcript_order(store, manager, clock):
    job_id = add_job(store, 3)
    link = agent("a", 4, clock=clock)
    orders = sorted((o for _, o in manager.assign([link])), key=lambda o: o.chunk_id)
    before, parent, after = orders

    assert fail(manager, link, parent, OOM)

    assert store.get_chunk(parent.chunk_id).state is ChunkState.SPLIT
    chunks = store.chunks_of(job_id)
    assert chunks[0].id == before.chunk_id and chunks[-1].id == after.chunk_id
    first, second = chunks[1:3]
    half = SPLIT_OVERLAP_SECONDS / 2
    assert (first.start, first.end) == pytest.approx((30.0, 45.0 + half))
    assert (second.start, second.end) == pytest.approx((45.0 - half, 60.0))
    assert second.overlap_before == pytest.approx(SPLIT_OVERLAP_SECONDS)
    assert first.parent_id == second.parent_id == parent.chunk_id
    assert first.failures == second.failures == 1
    assert store.get_job(job_id).chunk_total == 4

    # the halves go out at once (no backoff: the smaller pieces are the fix)
    halves = {o.chunk_id: (a, o) for a, o in manager.assign([link])}
    assert set(halves) == {first.id, second.id}
    for _, order in halves.values():
        assert order.audio_seconds == pytest.approx(15.0 + half)
    # replies in any order: the transcript comes out in time order
    complete(manager, link, after, "four")
    complete(manager, *halves[second.id], "three")
    complete(manager, link, before, "one")
    assert complete(manager, *halves[first.id], "two").job_completed
    assert texts(store, job_id) == ["one", "two", "three", "four"]


def test_out_of_memory_on_a_short_chunk_is_an_ordinary_retry(store, manager, clock):
    job_id = add_job(store, 1, length=6.0)
    link = agent("a", 1, clock=clock)
    _, order = only(manager.assign([link]))

    assert fail(manager, link, order, OOM)

    (chunk,) = store.chunks_of(job_id)
    assert chunk.id == order.chunk_id and chunk.state is ChunkState.RETRY_WAIT
    assert chunk.not_before == pytest.approx(clock() + 2.0)


def test_a_timeout_gives_the_next_attempt_a_longer_deadline(store, manager, clock):
    add_job(store, 1)
    link = agent("a", 1, clock=clock)
    _, order = only(manager.assign([link]))
    assert order.deadline_seconds == DEADLINE
    assert store.get_chunk(order.chunk_id).lease_deadline == pytest.approx(clock() + DEADLINE + LEASE_GRACE_SECONDS)

    assert fail(manager, link, order, TIMEOUT)
    assert store.get_chunk(order.chunk_id).deadline_seconds == pytest.approx(2 * DEADLINE)
    clock.advance(2.0)
    manager.wake_retries()
    _, order = only(manager.assign([link]))
    assert order.deadline_seconds == pytest.approx(2 * DEADLINE)
    assert store.get_chunk(order.chunk_id).lease_deadline == pytest.approx(
        clock() + 2 * DEADLINE + LEASE_GRACE_SECONDS)

    # a lease that runs out here is a timeout too
    clock.advance(2 * DEADLINE + LEASE_GRACE_SECONDS)
    (expired,) = manager.expire_overdue()
    assert (expired.lease_id, expired.endpoint) == (order.lease_id, link.endpoint)
    chunk = store.get_chunk(order.chunk_id)
    assert chunk.state is ChunkState.RETRY_WAIT and chunk.error.code == "lease_expired"
    assert chunk.deadline_seconds == pytest.approx(4 * DEADLINE)
    assert chunk.not_before == pytest.approx(clock() + 6.0)


def test_a_lease_is_never_expired_before_its_deadline(store, manager, clock):
    add_job(store, 1)
    link = agent("a", 1, clock=clock)
    _, order = only(manager.assign([link]))

    clock.advance(DEADLINE + LEASE_GRACE_SECONDS - 0.01)
    assert manager.expire_overdue() == []
    assert store.get_chunk(order.chunk_id).state is ChunkState.LEASED


# --- lost agents, late and duplicate replies ----------------------------------------------------


def test_a_lost_agents_lease_expires_and_the_chunk_goes_to_another_agent_after_the_backoff(
        store, manager, clock):
    job_id = add_job(store, 1)
    gone, other = agent("gone", 1, clock=clock), agent("other", 1, clock=clock)
    manager.agent_seen(gone)
    _, order = only(manager.assign([gone]))

    gone.lost = True
    assert manager.agent_lost(gone) == 1

    assert not gone.leases and not manager.holds(order.lease_id)
    (expired,) = store.events(job_id=job_id, kinds=["lease_expired"])
    assert expired.chunk_id == order.chunk_id and expired.agent_id == "gone"
    assert expired.data["reason"] == "agent_lost" and expired.data["lease_id"] == order.lease_id
    chunk = store.get_chunk(order.chunk_id)
    assert chunk.state is ChunkState.RETRY_WAIT and chunk.error.code == "agent_lost"
    assert store.get_agent("gone").crashes == 1

    assert manager.assign([gone, other]) == []  # backing off
    clock.advance(2.0)
    assert manager.wake_retries() == 1
    link, again = only(manager.assign([gone, other]))
    assert link is other and (again.chunk_id, again.attempt) == (order.chunk_id, 2)
    leased = store.events(job_id=job_id, kinds=["chunk_leased"])
    assert [(e.agent_id, e.data["attempt"]) for e in leased] == [("gone", 1), ("other", 2)]

    # the lost agent's answer turns up after all: too late
    late = complete(manager, gone, order, "late")
    assert not late.accepted and late.reason is DropReason.SUPERSEDED
    assert complete(manager, other, again, "on time").job_completed
    assert texts(store, job_id) == ["on time"]


def test_a_late_reply_after_the_lease_was_reassigned_is_dropped_and_duplicates_count_once(
        store, manager, clock):
    job_id = add_job(store, 2)
    slow_a, slow_b = agent("slow-a", 1, clock=clock), agent("slow-b", 1, clock=clock)
    (_, old_first), (_, old_second) = sorted(manager.assign([slow_a, slow_b]), key=lambda p: p[1].chunk_id)

    clock.advance(DEADLINE + LEASE_GRACE_SECONDS)
    expired = manager.expire_overdue()
    assert {e.chunk_id for e in expired} == {old_first.chunk_id, old_second.chunk_id}
    # a reply while the chunk waits for its retry is dropped too
    waiting = complete(manager, slow_a, old_first, "too slow")
    assert not waiting.accepted and waiting.reason is DropReason.NOT_LEASED

    clock.advance(2.0)
    manager.wake_retries()
    fast = agent("fast", 2, clock=clock)
    manager.agent_seen(fast)
    new_first, new_second = sorted((o for _, o in manager.assign([fast])), key=lambda o: o.chunk_id)
    assert (new_first.attempt, new_second.attempt) == (2, 2)

    late = complete(manager, slow_a, old_first, "too slow")
    assert not late.accepted and late.reason is DropReason.SUPERSEDED
    assert not fail(manager, slow_b, old_second, CRASH)  # a late failure changes nothing either
    assert store.get_chunk(new_second.chunk_id).state is ChunkState.LEASED

    assert complete(manager, fast, new_first, "first").accepted
    duplicate = complete(manager, fast, new_first, "first")
    assert not duplicate.accepted and duplicate.reason is DropReason.DUPLICATE
    assert store.get_job(job_id).chunk_done == 1
    assert complete(manager, fast, new_second, "second").job_completed
    job = store.get_job(job_id)
    assert job.state is JobState.COMPLETED and job.chunk_done == 2
    assert texts(store, job_id) == ["first", "second"]
    dropped = store.events(job_id=job_id, kinds=["reply_dropped"])
    assert [e.data["reason"] for e in dropped] == ["not_leased", "superseded", "stale failure", "duplicate"]
    assert store.get_agent("fast").chunks_done == 2  # the duplicate is not counted for the agent either


def test_a_reply_naming_another_agents_lease_changes_nothing(store, manager, clock):
    add_job(store, 1)
    holder, intruder = agent("holder", 1, clock=clock), agent("intruder", 1, clock=clock)
    _, order = only(manager.assign([holder]))

    outcome = complete(manager, intruder, order, "forged")

    assert not outcome.accepted and outcome.reason is DropReason.LEASE_MISMATCH
    assert order.lease_id in holder.leases and manager.owner_of(order.lease_id) == holder.endpoint
    assert not fail(manager, intruder, order, CRASH)
    assert store.get_chunk(order.chunk_id).state is ChunkState.LEASED
    assert complete(manager, holder, order, "real").job_completed


def test_released_leases_go_back_to_the_queue_without_a_failure(store, manager, clock):
    job_id = add_job(store, 1)
    leaving, staying = agent("leaving", 1, clock=clock), agent("staying", 1, clock=clock)
    _, order = only(manager.assign([leaving]))

    assert manager.release(leaving, [order.lease_id]) == 1

    chunk = store.get_chunk(order.chunk_id)
    assert chunk.state is ChunkState.PENDING and chunk.failures == 0
    assert not leaving.leases
    assert "chunk_released" in event_kinds(store, job_id)
    link, again = only(manager.assign([staying]))  # no backoff after a release
    assert link is staying and again.attempt == 2


# --- fairness ---------------------------------------------------------------------------------------


def run_to_completion(manager: LeaseManager, links: list[AgentLink]) -> list[str]:
    """Hand out and complete chunks, oldest lease first, until nothing is left; the job id of each lease."""
    running: list[tuple[AgentLink, WorkOrder]] = []
    served: list[str] = []
    for _ in range(100):
        new = manager.assign(links)
        served += [o.job_id for _, o in new]
        running += new
        if not running:
            return served
        link, order = running.pop(0)
        assert complete(manager, link, order, f"chunk {order.chunk_id}").accepted
    raise AssertionError("the queue did not drain")


def test_a_short_job_is_not_starved_by_a_long_one_queued_before_it(store, manager, clock):
    long_job = add_job(store, 10, name="long.wav")
    short_job = add_job(store, 2, name="short.wav")

    served = run_to_completion(manager, [agent("a", 1, clock=clock), agent("b", 1, clock=clock)])

    assert len(served) == 12
    # the short job starts at once, alongside the long one, and is through within its first turns
    assert served[:2].count(short_job) == 1
    assert [i for i, job in enumerate(served) if job == short_job][-1] <= 3
    assert store.get_job(short_job).state is store.get_job(long_job).state is JobState.COMPLETED


def test_a_short_job_is_not_starved_with_a_single_slot(store, manager, clock):
    add_job(store, 10, name="long.wav")
    short_job = add_job(store, 2, name="short.wav")

    served = run_to_completion(manager, [agent("only", 1, clock=clock)])

    assert [i for i, job in enumerate(served) if job == short_job][-1] <= 3
