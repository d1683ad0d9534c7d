"""Code that runs in child processes of the store tests (importable by multiprocessing's spawn)."""

from __future__ import annotations

import sys
from pathlib import Path

from sttdesk.domain.chunks import ChunkSpan
from sttdesk.store import JobStore

#: Clock value every racing process uses (leases need a deadline after it).
RACE_NOW = 1_700_000_000.0


def lease_all(path: str, agent_id: str, chunk_ids: list[int], start, results) -> None:
    """Wait for ``start``, then try to lease every chunk; put the ids won on ``results``."""
    with JobStore(Path(path)) as store:
        start.wait(timeout=60)
        won = []
        for chunk_id in chunk_ids:
            leased = store.lease_chunk(
                chunk_id, agent_id=agent_id, lease_id=f"{agent_id}-{chunk_id}", deadline=RACE_NOW + 300, now=RACE_NOW
            )
            if leased is not None:
                won.append(chunk_id)
        results.put((agent_id, won))


def write_forever(path: str) -> None:
    """Add jobs with chunks and events until killed, printing each job id once its transaction committed."""
    with JobStore(Path(path)) as store:
        spans = [ChunkSpan(index=i, start=i * 10.0, end=i * 10.0 + 10.0) for i in range(40)]
        n = 0
        while True:
            n += 1
            job = store.add_job(source_path=f"/rec/{n}.wav", language="en", model_name="base", extras={"n": n})
            store.plan_chunks(job.id, spans, deadline_seconds=300)
            store.log_event("written", job_id=job.id, data={"n": n})
            sys.stdout.write(job.id + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    write_forever(sys.argv[1])
