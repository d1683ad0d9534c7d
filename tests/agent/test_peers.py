"""The agent's table of coordinators: fair order between them, reconnects, silence."""

from __future__ import annotations

from sttdesk import protocol as wire
from sttdesk.agent.peers import Peer, PeerTable, Task

from .harness import FAKE_MODEL


def _work(lease_id: str) -> wire.Work:
    return wire.Work(
        lease_id=lease_id, job_id="j", chunk_id=0, attempt=1, model=FAKE_MODEL, options={},
        deadline_seconds=30.0, audio_seconds=0.0, payload=b"\0\0",
    )


def _queue(peer: Peer, *lease_ids: str) -> None:
    for lease_id in lease_ids:
        peer.queued.append(Task(work=_work(lease_id), peer=peer, received=0.0))


def _run_one_slot(table: PeerTable) -> list[str]:
    """The order chunks run in with one slot: take, run, finish, repeat."""
    order = []
    while (task := table.next_task()) is not None:
        order.append(task.work.lease_id)
    return order


def test_one_slot_alternates_between_coordinators_with_work() -> None:
    table = PeerTable()
    a, b, c = table.add(b"a", 0.0), table.add(b"b", 0.0), table.add(b"c", 0.0)
    _queue(a, "a1", "a2", "a3", "a4")
    _queue(b, "b1", "b2")
    _queue(c, "c1")
    assert _run_one_slot(table) == ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]


def test_the_coordinator_with_fewest_running_chunks_goes_first() -> None:
    table = PeerTable()
    a, b = table.add(b"a", 0.0), table.add(b"b", 0.0)
    _queue(a, "a1", "a2", "a3")
    _queue(b, "b1")
    first = table.next_task()
    assert first is not None and first.work.lease_id == "a1"
    a.running["a0"] = Task(work=_work("a0"), peer=a, received=0.0)
    a.running["a1"] = first
    # A already holds two slots; B holds none: B is served even though it is A's turn by order.
    table._cursor = 0
    second = table.next_task()
    assert second is not None and second.work.lease_id == "b1"


def test_a_reconnecting_coordinator_takes_its_work_along() -> None:
    table = PeerTable()
    old = table.add(b"old-connection", 0.0)
    table.introduce(old, "desk-1", "Anna")
    _queue(old, "q1")
    running = Task(work=_work("r1"), peer=old, received=0.0)
    old.running["r1"] = running
    old.cancelled.add("r1")
    new = table.add(b"new-connection", 5.0)
    _queue(new, "q2")
    absorbed = table.introduce(new, "desk-1", "Anna")
    assert absorbed is old and old.gone
    assert table.get(b"old-connection") is None and table.get(b"new-connection") is new
    assert [t.work.lease_id for t in new.queued] == ["q1", "q2"]
    assert all(t.peer is new for t in new.queued)
    assert new.running == {"r1": running} and running.peer is new
    assert "r1" in new.cancelled


def test_a_different_coordinator_is_not_merged() -> None:
    table = PeerTable()
    first = table.add(b"1", 0.0)
    table.introduce(first, "desk-1", "Anna")
    second = table.add(b"2", 0.0)
    assert table.introduce(second, "desk-2", "Binh") is None
    assert len(table) == 2


def test_silent_coordinators_are_found_and_removal_keeps_the_order_fair() -> None:
    table = PeerTable()
    a, b, c = table.add(b"a", 0.0), table.add(b"b", 2.0), table.add(b"c", 2.5)
    assert table.silent(4.0, 3.0) == [a]
    _queue(b, "b1", "b2")
    _queue(c, "c1", "c2")
    assert table.next_task().work.lease_id == "b1"  # type: ignore[union-attr]
    table.remove(a)
    table.remove(a)  # twice is harmless
    assert len(table) == 2
    assert _run_one_slot(table) == ["c1", "b2", "c2"]


def test_holds_sees_queued_and_running_leases() -> None:
    table = PeerTable()
    peer = table.add(b"p", 0.0)
    _queue(peer, "q")
    peer.running["r"] = Task(work=_work("r"), peer=peer, received=0.0)
    assert peer.holds("q") and peer.holds("r") and not peer.holds("x")
    assert "coordinator 70" in peer.label  # routing id b"p" in hex, before HELLO
