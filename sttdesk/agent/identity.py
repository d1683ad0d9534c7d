"""Who an agent is: its lasting id, its name, its machine, and this run's session id."""

from __future__ import annotations

import logging
import os
import platform
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import __version__

log = logging.getLogger(__name__)

#: File in the agent's data folder that keeps its id across restarts.
AGENT_ID_FILE = "agent-id"
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """What READY says about the agent besides its slots and models."""

    #: Stable across restarts (kept in the data folder), unique per data folder.
    agent_id: str
    #: Human name shown in the app's agents panel.
    name: str
    host: str
    cpu: str
    version: str
    #: New on every start: tells coordinators the agent restarted and lost its leases.
    session: str


def load_agent_id(data_dir: Path) -> str:
    """The agent id kept in ``data_dir``, created on first use.

    If the folder cannot be written the id lasts for this run only (and that is logged):
    the agent still works, coordinators just see a new agent after a restart.
    """
    path = data_dir / AGENT_ID_FILE
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read the agent id in %s (%s): making a new one", path, exc)
        existing = ""
    if _ID_RE.fullmatch(existing):
        return existing
    agent_id = uuid.uuid4().hex[:12]
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{AGENT_ID_FILE}.{os.getpid()}.tmp")
        temp.write_text(agent_id + "\n", encoding="ascii")
        os.replace(temp, path)
    except OSError as exc:
        log.warning("cannot keep the agent id in %s (%s): it will change on restart", path, exc)
    return agent_id


def describe_cpu() -> str:
    """The processor's model name and logical CPU count, e.g. "Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz x6"."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                    model = " ".join(value.split())
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return f"{model} x{os.cpu_count() or 1}"


def make_identity(data_dir: Path, *, name: str | None = None, agent_id: str | None = None) -> AgentIdentity:
    """The identity of this agent run."""
    host = socket.gethostname()
    return AgentIdentity(
        agent_id=agent_id or load_agent_id(data_dir),
        name=name or host,
        host=host,
        cpu=describe_cpu(),
        version=__version__,
        session=uuid.uuid4().hex[:12],
    )
