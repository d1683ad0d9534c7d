"""Peak memory of a process and everything it starts: coordinator, agents, engine children, ffmpeg.

``sttdesk transcribe`` is the coordinator; it starts its local agents (each its
own process), each agent starts a whisper.cpp engine child, and decoding runs
ffmpeg. A sampler thread walks that tree every :data:`SAMPLE_SECONDS` and
keeps, per process, its VmHWM (the kernel's own peak resident size since exec,
so a short peak between samples is still seen while the process lives) and the
largest sum of VmRSS over the whole tree at any sample.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

log = logging.getLogger(__name__)

#: How often the tree is walked.
SAMPLE_SECONDS = 0.1
#: Roles, from the command line of a process.
ROLE_COORDINATOR = "coordinator"
ROLE_AGENT = "agent"
ROLE_ENGINE = "engine"
ROLE_FFMPEG = "ffmpeg"
ROLE_OTHER = "other"


def _status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def role_of(command: str, *, is_root: bool) -> str:
    """What a process in the tree is, from its command line."""
    if is_root:
        return ROLE_COORDINATOR
    program = command.split(" ", 1)[0].rsplit("/", 1)[-1]
    if program in ("ffmpeg", "ffprobe"):
        return ROLE_FFMPEG
    # The engine child first: its JSON settings may name agent folders.
    if "sttdesk.engine" in command:
        return ROLE_ENGINE
    if "sttdesk.agent" in command or "sttdesk-agent" in command:
        return ROLE_AGENT
    return ROLE_OTHER


@dataclass
class ProcessPeak:
    """The largest resident size seen for one process."""

    pid: int
    role: str
    command: str
    peak_mib: float = 0.0


@dataclass
class TreePeaks:
    """Peak memory of a process tree over its life."""

    processes: dict[int, ProcessPeak] = field(default_factory=dict)
    #: Largest sum of the tree's resident sizes at one sample.
    total_peak_mib: float = 0.0

    def by_role(self) -> dict[str, dict[str, Any]]:
        """Per role: how many processes, the largest single peak, and the sum of their peaks."""
        roles: dict[str, dict[str, Any]] = {}
        for process in self.processes.values():
            entry = roles.setdefault(process.role, {"processes": 0, "max_peak_mib": 0.0, "sum_peak_mib": 0.0})
            entry["processes"] += 1
            entry["max_peak_mib"] = round(max(entry["max_peak_mib"], process.peak_mib), 1)
            entry["sum_peak_mib"] = round(entry["sum_peak_mib"] + process.peak_mib, 1)
        return roles

    def to_dict(self) -> dict[str, Any]:
        return {"total_peak_mib": round(self.total_peak_mib, 1), "by_role": self.by_role()}


class TreePeakMonitor:
    """Samples the peak resident size of ``pid`` and its descendants until stopped."""

    def __init__(self, pid: int, *, interval: float = SAMPLE_SECONDS) -> None:
        self.pid = pid
        self.interval = interval
        self.peaks = TreePeaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"tree-peaks-{pid}", daemon=True)

    def _sample(self) -> None:
        total_kib = 0
        pending = [self.pid]
        seen: set[int] = set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            pending += _children(pid)
            hwm, rss = _status_kib(pid, "VmHWM:"), _status_kib(pid, "VmRSS:")
            if hwm is None:
                continue
            total_kib += rss or 0
            entry = self.peaks.processes.get(pid)
            if entry is None:
                command = _command_line(pid)
                entry = ProcessPeak(pid, role_of(command, is_root=pid == self.pid), command[:200])
                self.peaks.processes[pid] = entry
            elif entry.role == ROLE_OTHER:
                # A launcher that has since exec'd the real program (the local pool's agents start so).
                command = _command_line(pid)
                entry.role, entry.command = role_of(command, is_root=False), command[:200]
            entry.peak_mib = max(entry.peak_mib, hwm / 1024)
        self.peaks.total_peak_mib = max(self.peaks.total_peak_mib, total_kib / 1024)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
