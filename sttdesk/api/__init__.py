"""The local REST API: upload recordings, follow jobs, download transcripts (FastAPI under uvicorn).

Run it over a started core::

    server = ApiServer(core, host="127.0.0.1", port=8765).start()
    ...
    server.stop()

Endpoints live under ``/api/v1`` (see :mod:`.routes` and :mod:`.status_routes`),
documented at ``/docs`` and ``/openapi.json``. A client, with curl::

    curl -F file=@meeting.m4a -F language=vi http://127.0.0.1:8765/api/v1/jobs
    # -> 202 {"job_id": "3f9c2a41b7d0", "status": "PENDING", "links": {...}}
    curl http://127.0.0.1:8765/api/v1/jobs/3f9c2a41b7d0          # poll: "status": "COMPLETED"
    curl -OJ "http://127.0.0.1:8765/api/v1/jobs/3f9c2a41b7d0/result?format=srt"

and with Python (httpx or requests)::

    import time, httpx
    api = httpx.Client(base_url="http://127.0.0.1:8765/api/v1",
                       headers={"Authorization": "Bearer <token>"})  # only needed off loopback
    with open("meeting.m4a", "rb") as f:
        job = api.post("/jobs", files={"file": f}, data={"language": "vi"}).json()
    while (status := api.get(f"/jobs/{job['job_id']}").json())["status"] not in ("COMPLETED", "FAILED"):
        time.sleep(2)
    print(api.get(f"/jobs/{job['job_id']}/result", params={"format": "txt"}).text)

Errors always come as ``{"error": {"code", "message_en", "message_vi", ...}}``.
"""

from __future__ import annotations

from .auth import is_loopback_host, load_or_create_token, token_path
from .server import DEFAULT_HOST, DEFAULT_PORT, ApiServer, create_app, run_api
from .webhooks import WebhookOptions

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ApiServer",
    "WebhookOptions",
    "create_app",
    "is_loopback_host",
    "load_or_create_token",
    "run_api",
    "token_path",
]
