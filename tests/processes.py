"""Processes of a test, read from /proc: which run under a process, and whether one still lives."""

from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (children, grandchildren...)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        children: list[str] = []
        # each thread lists the children it started (the local pool starts agents from its own thread)
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children += (task / "children").read_text().split()
            except OSError:
                continue
        for child in map(int, children):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
