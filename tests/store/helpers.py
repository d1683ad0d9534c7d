"""Helpers for the store tests: a hand-moved clock, job and chunk builders, chunk results."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sttdesk.domain.chunks import ChunkSpan, CutKind
from sttdesk.domain.records import ChunkRecord, JobRecord
from sttdesk.domain.transcript import RecognitionResult, Segment
from sttdesk.store import JobStore

#: Lease length used by the tests.
DEADLINE = 300.0
T0 = 1_700_000_000.0


class ManualClock:
    """Epoch seconds that only move when the test says so (no sleeping)."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def spans(*bounds: tuple[float, float]) -> list[ChunkSpan]:
    """Consecutive spans, cut at silences."""
    return [ChunkSpan(index=i, start=a, end=b, cut=CutKind.SILENCE) for i, (a, b) in enumerate(bounds)]


def even_spans(count: int, length: float = 30.0) -> list[ChunkSpan]:
    return spans(*[(i * length, (i + 1) * length) for i in range(count)])


def add_job(store: JobStore, name: str = "talk.wav", **kwargs) -> JobRecord:
    kwargs.setdefault("language", "en")
    kwargs.setdefault("model_name", "base-q8_0")
    return store.add_job(source_path=f"/recordings/{name}", **kwargs)


def planned_job(store: JobStore, count: int = 3, name: str = "talk.wav") -> tuple[JobRecord, list[ChunkRecord]]:
    job = add_job(store, name)
    chunks = store.plan_chunks(job.id, even_spans(count), deadline_seconds=DEADLINE)
    return store.get_job(job.id), chunks


def result_json(text: str, seconds: float = 30.0) -> str:
    result = RecognitionResult(segments=(Segment(0.0, seconds, text),), language="en", audio_seconds=seconds)
    return json.dumps(result.to_dict())


def lease(store: JobStore, chunk: ChunkRecord, agent: str = "agent-1", lease_id: str | None = None) -> ChunkRecord:
    now = store.now()
    leased = store.lease_chunk(
        chunk.id, agent_id=agent, lease_id=lease_id or f"{chunk.id}-{agent}-{now}", deadline=now + DEADLINE
    )
    assert leased is not None, f"chunk {chunk.id} could not be leased"
    return leased


def complete(store: JobStore, chunk: ChunkRecord, text: str, agent: str | None = None):
    return store.complete_chunk(
        chunk.id,
        lease_id=chunk.lease_id,
        attempt=chunk.attempt,
        result_json=result_json(text, chunk.duration),
        agent_id=agent or chunk.lease_agent_id,
    )


def transcript(chunks: Sequence[ChunkRecord]) -> str:
    """The text of the done chunks, in the order given."""
    parts = []
    for chunk in chunks:
        result = chunk.result()
        if result is not None:
            parts.append(result.text)
    return " ".join(parts)
