"""A coordinator (the sttdesk core, no local agents) run inside a namespace and driven over stdin/stdout.

The test process lives outside the namespaces, so it cannot reach the core's
sockets; it talks to this program instead, one JSON object per line:

* out: ``{"event": KIND, "job_id": ..., "data": {...}}`` for every JobService event,
  and ``{"ready": true}`` once the core runs;
* in: ``{"id": N, "op": ..., ...}``; out: ``{"reply": N, "result": ...}`` or
  ``{"reply": N, "error": "..."}``.

Operations: ``add_job`` (path, language, model), ``job`` (job_id), ``chunks``
(job_id: state and agent of each chunk), ``transcript`` (job_id), ``agents``
(coordinator links), ``found`` (agents announced on the LAN), ``add_agent`` /
``remove_agent`` (address), ``stop``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

log = logging.getLogger("coordinator_driver")
_out_lock = threading.Lock()


def emit(obj: dict[str, Any]) -> None:
    line = json.dumps(obj, default=str)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sttdesk.app import build_core
    from sttdesk.service.job_service import JobRequest

    core = build_core(pool_agents=0, discovery=True)
    trusted = os.environ.get("STTDESK_TEST_TRUSTED_IDS")
    if trusted is not None:
        # Stands in for paired keys until the trust store exists: only these agent ids get work.
        ids = set(trusted.split(","))
        core.agents.set_trust(lambda agent: agent.agent_id in ids)
    core.events.subscribe(lambda e: emit({"event": e.kind.value, "job_id": e.job_id, "data": e.data}))

    def handle(request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "add_job":
            return core.service.add(JobRequest(path=Path(request["path"]), language=request.get("language", "en"),
                                               model=request.get("model")))
        if op == "job":
            return core.service.get(request["job_id"]).to_dict()
        if op == "chunks":
            return [{"id": c.id, "state": c.state.value, "attempt": c.attempt, "done_agent_id": c.done_agent_id,
                     "lease_agent_id": c.lease_agent_id, "start": c.start, "end": c.end}
                    for c in core.store.chunks_of(request["job_id"], with_results=False)]
        if op == "transcript":
            return core.service.transcript(request["job_id"], partial=False).text
        if op == "agents":
            return [asdict(a) for a in core.coordinator.agents()]
        if op == "found":
            return [asdict(a) for a in core.agents.found()]
        if op == "add_agent":
            return core.agents.add(request["address"])
        if op == "remove_agent":
            return core.agents.remove(request["address"])
        raise ValueError(f"unknown op {op!r}")

    with core:
        emit({"ready": True, "coordinator_id": core.coordinator.coordinator_id})
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            if request.get("op") == "stop":
                break
            try:
                emit({"reply": request.get("id"), "result": handle(request)})
            except Exception as exc:  # the test sees the error text instead of a dead driver
                log.exception("request %s failed", request)
                emit({"reply": request.get("id"), "error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
