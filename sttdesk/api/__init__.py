"""The local REST API: upload recordings, follow jobs, download transcripts (FastAPI under uvicorn).

>>> server = ApiServer(core, host="127.0.0.1", port=8765).start()
>>> ...
>>> server.stop()

All of it is a thin front end over the core's JobService; see :mod:`.routes`
for the endpoints (under ``/api/v1``, documented at ``/docs``).
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
