"""The running agent's status file, and ``sttdesk-agent status``, which reads it.

The agent rewrites ``agent-status.json`` in its data folder every
:data:`STATUS_SECONDS` (atomically: a reader never sees half a file). An
admin runs ``sttdesk-agent status`` (with the same ``--data-dir``) to see
whether it runs, where it listens, what it announces, which coordinators it
serves and how much it has done. A file whose writer is gone, or that was
not refreshed for a while, is reported as such instead of as a live agent.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATUS_FILE = "agent-status.json"
#: How often the running agent rewrites the file (seconds).
STATUS_SECONDS = 2.0
#: A file older than this many write intervals is stale (the agent hangs, or was killed).
STALE_INTERVALS = 5


@dataclass(frozen=True, slots=True)
class CoordinatorStatus:
    """One coordinator the agent serves."""

    name: str
    coordinator_id: str
    queued: int
    running: int
    #: Seconds since anything was heard from it.
    silent_seconds: float


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """What the socket loop knows: its load and its coordinators."""

    slots: int
    threads: int
    busy: int
    queued: int
    coordinators: tuple[CoordinatorStatus, ...]
    #: Chunks answered with a transcript / with a failure since start.
    results_sent: int
    failures_sent: int
    #: Whether a stop was requested (the agent is finishing its running chunks).
    stopping: bool


@dataclass(frozen=True, slots=True)
class AgentStatusReport:
    """The whole status file."""

    agent_id: str
    name: str
    version: str
    pid: int
    #: Wall-clock times (seconds since the epoch).
    started: float
    updated: float
    endpoints: tuple[str, ...]
    #: The zeroconf instance name ("" when not announced) and the addresses announced.
    announced_as: str
    announced_addresses: tuple[str, ...]
    models: tuple[str, ...]
    runtime: RuntimeStatus
    fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def status_path(data_dir: Path) -> Path:
    return data_dir / STATUS_FILE


def write_status(data_dir: Path, report: AgentStatusReport) -> None:
    """Replace the status file atomically; a failure is logged once per kind, never raised."""
    path = status_path(data_dir)
    temp = path.with_name(f".{STATUS_FILE}.{os.getpid()}.tmp")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        temp.write_text(json.dumps(asdict(report), indent=1), encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        log.debug("cannot write the status file %s: %s", path, exc)


def remove_status(data_dir: Path, pid: int) -> None:
    """Delete the status file on a clean exit, if it is still ours."""
    path = status_path(data_dir)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The status file's content, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(status_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process (a system service): it exists
    return True


def describe(data: dict[str, Any] | None, *, now: float | None = None,
             interval: float = STATUS_SECONDS) -> tuple[bool, list[str]]:
    """(running, lines to print) for a status file's content."""
    now = time.time() if now is None else now
    if data is None:
        return False, ["sttdesk-agent is not running (no status file)"]
    pid = int(data.get("pid", 0) or 0)
    age = now - float(data.get("updated", 0) or 0)
    name = f"{data.get('name', '?')} ({data.get('agent_id', '?')})"
    if not pid or not _alive(pid):
        return False, [f"sttdesk-agent {name} is not running (pid {pid} is gone; last status {age:.0f} s ago)"]
    if age > interval * STALE_INTERVALS:
        return False, [f"sttdesk-agent {name} (pid {pid}) is not responding: last status {age:.0f} s ago"]
    runtime = data.get("runtime", {})
    state = "stopping" if runtime.get("stopping") else "running"
    uptime = now - float(data.get("started", now))
    lines = [
        f"sttdesk-agent {name} {state}, pid {pid}, version {data.get('version', '?')}, up {_duration(uptime)}",
        f"listening on {', '.join(data.get('endpoints', [])) or '?'}",
    ]
    if data.get("announced_as"):
        lines.append(f"announced as {data['announced_as']!r} on {', '.join(data.get('announced_addresses', []))}")
    else:
        lines.append("not announced on the LAN (coordinators must add it by address)")
    if data.get("fingerprint"):
        lines.append(f"key fingerprint {data['fingerprint']}")
    lines.append(f"models: {', '.join(data.get('models', [])) or 'none'}")
    lines.append(
        f"slots: {runtime.get('busy', 0)}/{runtime.get('slots', 0)} busy x {runtime.get('threads', 0)} thread(s), "
        f"{runtime.get('queued', 0)} queued; {runtime.get('results_sent', 0)} chunk(s) done, "
        f"{runtime.get('failures_sent', 0)} failed"
    )
    coordinators = runtime.get("coordinators", [])
    if not coordinators:
        lines.append("coordinators: none connected")
    for c in coordinators:
        lines.append(f"coordinator {c.get('name') or '?'} ({c.get('coordinator_id') or '?'}): "
                     f"{c.get('running', 0)} running, {c.get('queued', 0)} queued, "
                     f"heard {float(c.get('silent_seconds', 0)):.0f} s ago")
    return True, lines


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
