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
``remove_agent`` (address, key), ``pair`` (which, code_file: pairs through
``core.agents.pair``; when the agent shows its code the driver emits
``{"event": "pairing_code_wanted", ...}`` and waits for the test to write the
code into ``code_file``), ``revoke`` (which), ``stop``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

log = logging.getLogger("coordinator_driver")

#: How long pairing waits for the test to hand over the agent's code (seconds).
CODE_WAIT_SECONDS = 60.0
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
            return core.agents.add(request["address"], key=request.get("key"))
        if op == "pair":
            code_file = Path(request["code_file"])

            def ask_code(info: Any) -> str | None:
                emit({"event": "pairing_code_wanted", "job_id": None,
                      "data": {"agent_id": info.agent_id, "fingerprint": info.fingerprint}})
                deadline = time.monotonic() + CODE_WAIT_SECONDS
                while time.monotonic() < deadline:
                    if code_file.is_file():
                        code = code_file.read_text().strip()
                        code_file.unlink()
                        return code
                    time.sleep(0.1)
                return None  # the test never gave it: pairing is cancelled

            outcome = core.agents.pair(request["which"], ask_code)
            return {"agent_id": outcome.agent_id, "endpoint": outcome.endpoint,
                    "already_paired": outcome.already_paired, "fingerprint": outcome.peer.fingerprint}
        if op == "revoke":
            return core.agents.revoke(request["which"]).fingerprint
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
