"""Several threads and processes on one database file; kill -9 in the middle of writing; lock and disk errors."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.domain.records import EventKind
from sttdesk.store import DatabaseFullError, DatabaseLockedError, JobStore, StoreOptions
from tests.store import workers
from tests.store.helpers import complete, lease, planned_job

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_threads_racing_for_the_same_chunks_each_win_distinct_ones(store: JobStore) -> None:
    job, chunks = planned_job(store, 40)
    ids = [c.id for c in chunks]
    barrier = threading.Barrier(8)
    wins: dict[str, list[int]] = {}
    errors: list[Exception] = []

    def racer(name: str) -> None:
        order = ids[:]
        random.Random(name).shuffle(order)
        try:
            barrier.wait(timeout=30)
            now = store.now()
            wins[name] = [
                i
                for i in order
                if store.lease_chunk(i, agent_id=name, lease_id=f"{name}-{i}", deadline=now + 300) is not None
            ]
        except Exception as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=racer, args=(f"agent-{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    won = [i for w in wins.values() for i in w]
    assert sorted(won) == sorted(ids)  # every chunk leased exactly once
    assert all(c.attempt == 1 and c.state is ChunkState.LEASED for c in store.chunks_of(job.id))
    assert len(store.events(kinds=[EventKind.CHUNK_LEASED])) == 40
    owners = {c.id: c.lease_agent_id for c in store.chunks_of(job.id)}
    assert all(owners[i] == name for name, w in wins.items() for i in w)


def test_threads_delivering_the_same_reply_count_it_once(store: JobStore) -> None:
    job, chunks = planned_job(store, 1)
    leased = lease(store, chunks[0])
    barrier = threading.Barrier(6)
    outcomes = []

    def deliver() -> None:
        barrier.wait(timeout=30)
        outcomes.append(complete(store, leased, "only once"))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(o.accepted for o in outcomes) == 1
    assert {o.reason.value for o in outcomes if not o.accepted} == {"duplicate"}
    after = store.get_job(job.id)
    assert after.chunk_done == 1 and after.state is JobState.COMPLETED


def test_two_processes_racing_for_the_same_chunks_each_win_distinct_ones(db_path: Path) -> None:
    with JobStore(db_path) as store:
        _, chunks = planned_job(store, 60)
    ids = [c.id for c in chunks]
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=workers.lease_all, args=(str(db_path), name, order, start, results))
        for name, order in (("left", ids), ("right", ids[::-1]))
    ]
    for p in procs:
        p.start()
    start.set()
    got = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(got["left"] + got["right"]) == sorted(ids)
    assert not set(got["left"]) & set(got["right"])
    with JobStore(db_path) as store:
        by_id = {c.id: c for c in store.chunks_of(chunks[0].job_id)}
        assert all(by_id[i].lease_agent_id == "left" for i in got["left"])
        assert all(c.attempt == 1 for c in by_id.values())


@pytest.fixture
def writer(db_path: Path) -> Iterator[subprocess.Popen]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.store.workers", str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()


def test_kill_9_in_the_middle_of_writing_loses_no_committed_row(db_path: Path, writer: subprocess.Popen) -> None:
    committed = []
    while len(committed) < 40:
        line = writer.stdout.readline()
        assert line, "the writer stopped before it was killed"
        committed.append(line.strip())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    committed += [line.strip() for line in writer.stdout.read().splitlines() if line.strip()]

    with JobStore(db_path) as store:
        assert store.check_integrity() == []
        for job_id in committed:
            job = store.get_job(job_id)
            assert job.chunk_total == 40 and len(store.chunks_of(job_id, with_results=False)) == 40
            assert [e.kind for e in store.events(job_id=job_id)][-1] == "written"
        # Whatever was half written is either all there or not at all.
        for job in store.list_jobs(limit=10_000):
            assert job.chunk_total in (0, 40)
            assert len(store.chunks_of(job.id, with_results=False)) == job.chunk_total
        # And the file takes new writes.
        store.add_job(source_path="/after.wav", language="en", model_name="base")


def test_a_writer_that_holds_the_lock_too_long_gives_a_transient_error(db_path: Path) -> None:
    with JobStore(db_path, options=StoreOptions(busy_timeout_seconds=0.2)) as store:
        planned_job(store, 1)
        blocker = sqlite3.connect(db_path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(DatabaseLockedError) as caught:
                store.add_job(source_path="/b.wav", language="en", model_name="base")
            assert caught.value.transient
            assert str(db_path) in caught.value.user_message("en") and str(db_path) in caught.value.user_message("vi")
            # Readers are not blocked by a writer in WAL mode.
            assert store.count_jobs() == 1
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        store.add_job(source_path="/b.wav", language="en", model_name="base")
        assert store.count_jobs() == 2


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB tmpfs, so SQLite's writes fail with ENOSPC like on a full disk."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_gives_a_transient_error_and_keeps_what_was_written(tiny_disk: Path) -> None:
    path = tiny_disk / "sttdesk.db"
    added = 0
    with JobStore(path) as store:
        with pytest.raises(DatabaseFullError) as caught:
            for n in range(1000):
                store.add_job(source_path=f"/rec/{n}.wav", language="en", model_name="base", extras={"pad": "x" * 8000})
                added += 1
        assert caught.value.transient and caught.value.code == "database_disk_full"
        assert str(path) in caught.value.user_message("vi")
        assert 0 < added < 1000
    with JobStore(path) as store:
        assert store.count_jobs() == added
        assert store.check_integrity() == []


def test_a_forked_child_uses_its_own_connections(store: JobStore) -> None:
    planned_job(store, 1)  # the parent now has pooled connections
    pid = os.fork()
    if pid == 0:  # child: must not touch the parent's connections
        code = 1
        try:
            store.add_job(source_path="/child.wav", language="en", model_name="base")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.count_jobs() == 2 and store.check_integrity() == []
    store.add_job(source_path="/parent.wav", language="en", model_name="base")
    assert store.count_jobs() == 3


@pytest.mark.parametrize(
    "options",
    [
        {"busy_timeout_seconds": -1},
        {"busy_timeout_seconds": float("nan")},
        {"durability": "SOMETIMES"},
        {"pool_size": 0},
        {"pool_overflow": -2},
    ],
)
def test_bad_store_options_are_refused(options: dict) -> None:
    from sttdesk.store import InvalidStoreValueError

    with pytest.raises(InvalidStoreValueError):
        StoreOptions(**options)
