"""The REST API app and the server that runs it in-process, beside the rest of the core.

:func:`create_app` builds the FastAPI app over a built core; :class:`ApiServer`
binds the socket (so a busy port fails at once, with a typed error), runs
uvicorn on a thread of its own and stops it on request; ``sttdesk serve`` and
the desktop app own the signals and call :meth:`ApiServer.stop`.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..domain.errors import SttdeskError
from ..domain.jobs import JobState
from ..service.events import EventKind, ServiceEvent
from . import routes, status_routes
from .auth import AccessGuard, AccessPolicy, Receive, Scope, Send, is_loopback_host, load_or_create_token, token_path
from .context import ApiContext
from .docs_page import install_docs_page
from .errors import (
    RETRY_AFTER_SECONDS,
    ApiBindError,
    ApiError,
    ApiStartError,
    InternalServerError,
    InvalidRequestError,
    MethodNotAllowedError,
    PathScrubber,
    RouteNotFoundError,
    error_payload,
    status_for,
)
from .schemas import job_resource
from .uploads import UPLOADS_DIR_NAME, UploadArea
from .webhooks import CALLBACK_EXTRA, NOTICE_EVENTS, Notice, NoticeLookup, WebhookNotifier, WebhookOptions

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Longest wait for uvicorn to come up.
START_TIMEOUT_SECONDS = 15.0
#: Requests still running get this long when the server stops; uploads in flight are cut after it.
GRACEFUL_SHUTDOWN_SECONDS = 5.0
#: Longest wait for the server thread after the graceful period.
STOP_TIMEOUT_SECONDS = 15.0
#: Pending connections the listening socket queues (the 50-upload burst fits easily).
LISTEN_BACKLOG = 512
#: Jobs read at start to find which uploads are still needed.
SWEEP_JOB_LIMIT = 1_000_000


def create_app(
    core: Any,
    *,
    token: str | None,
    require_token: bool,
    webhook_options: WebhookOptions | None = None,
    max_upload_bytes: int | None = None,
) -> FastAPI:
    """The REST API over a built core (``sttdesk.app.Core``); start the core to get jobs done.

    ``token`` is the server's bearer token; with ``require_token`` every request
    must carry it. ``max_upload_bytes`` defaults to the core's file size limit.
    """
    paths = core.paths
    data_dir = Path(paths.data_dir)
    scrub = PathScrubber([(data_dir, "<data>"), (Path(paths.models_dir), "<models>"),
                          (Path(paths.cache_dir), "<cache>"), (Path(paths.config_dir), "<config>")])
    limit = int(max_upload_bytes if max_upload_bytes is not None else core.settings.limits.max_bytes)
    uploads = UploadArea(data_dir / UPLOADS_DIR_NAME)
    # Before any thread starts: a store that cannot be read fails here and leaves nothing running.
    uploads.sweep((job.id, job.source_path) for job in core.store.list_jobs(limit=SWEEP_JOB_LIMIT))
    notifier = WebhookNotifier(_notice_lookup(core), secret=token, options=webhook_options)
    ctx = ApiContext(core=core, uploads=uploads, notifier=notifier, scrub=scrub, max_upload_bytes=limit)

    def on_event(event: ServiceEvent) -> None:
        if event.kind is EventKind.JOB_REMOVED and event.job_id:
            uploads.release(event.job_id)  # removed through another front end

    ctx.on_close(core.events.subscribe(on_event))
    notifier.start(core.events.subscribe)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = FastAPI(
        title="sttdesk",
        version=__version__,
        summary="Offline speech-to-text for English and Vietnamese: upload a recording, get a transcript.",
        description=(
            "Upload with `POST /api/v1/jobs` (multipart: `file`, `language`, optional `model` and "
            "`callback_url`); you get a job id at once. Poll `GET /api/v1/jobs/{id}` until the status is "
            "COMPLETED, then download `GET /api/v1/jobs/{id}/result?format=txt|json|srt|vtt`. "
            "Off loopback every request needs `Authorization: Bearer <token>` "
            "(`sttdesk serve --show-token`). Errors are `{\"error\": {code, message_en, message_vi}}`."
        ),
        docs_url=None,  # served by install_docs_page, without a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.sttdesk = ctx
    install_docs_page(app)
    app.include_router(routes.router)
    app.include_router(status_routes.router)
    _install_error_handlers(app, scrub)

    async def refuse(error: SttdeskError, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error_response(error, scrub)
        if status_for(error) == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="sttdesk"'
        await response(scope, receive, send)

    app.add_middleware(AccessGuard, policy=AccessPolicy(token=token, require_token=require_token), refuse=refuse)
    return app


def _notice_lookup(core: Any) -> NoticeLookup:
    """Finds the notice of a finished job in the store: its callback URL, its status document."""

    def lookup(job_id: str) -> Notice | None:
        record = core.store.find_job(job_id)
        if record is None:
            return None
        url = (record.extras or {}).get(CALLBACK_EXTRA)
        state = record.state.value if isinstance(record.state, JobState) else str(record.state)
        if not url or state not in NOTICE_EVENTS:
            return None
        job = job_resource(core.service.get(job_id))
        return Notice(url=url, event=NOTICE_EVENTS[state], key=(job_id, state, record.finished_at),
                      payload={"event": NOTICE_EVENTS[state], "job": job})

    return lookup


def _error_response(error: SttdeskError, scrub: PathScrubber) -> JSONResponse:
    status = status_for(error)
    extra: dict[str, Any] = {}
    if status == 409:
        current = error.fields.get("status") or error.fields.get("state")
        if current:
            extra["status"] = str(current)
    response = JSONResponse(status_code=status, content=error_payload(error, scrub=scrub, **extra))
    if status in RETRY_AFTER_SECONDS:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS[status])
    return response


def _install_error_handlers(app: FastAPI, scrub: PathScrubber) -> None:
    async def sttdesk_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SttdeskError)
        status = status_for(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc.user_message("en"))
        return _error_response(exc, scrub)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for item in exc.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "path", "body"))
            problems.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
        return _error_response(InvalidRequestError("; ".join(problems)), scrub)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error: SttdeskError
        if exc.status_code == 404:
            error = RouteNotFoundError(path=request.url.path[:200])
        elif exc.status_code == 405:
            error = MethodNotAllowedError(method=request.method, path=request.url.path[:200])
        else:
            error = ApiError(str(exc.detail))
            response = JSONResponse(status_code=exc.status_code, content=error_payload(error, scrub=scrub))
            return response
        return _error_response(error, scrub)

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
        return _error_response(InternalServerError(), scrub)

    app.add_exception_handler(SttdeskError, sttdesk_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


class ApiServer:
    """The REST API served by uvicorn on a background thread: ``start()``, then ``stop()``.

    Off loopback a token is always required; on loopback only when
    ``require_token`` is True. The token is made on first start and kept at
    ``token_file`` (default: ``api-token`` in the data folder).
    """

    def __init__(
        self,
        core: Any,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token_file: Path | None = None,
        require_token: bool | None = None,
        webhook_options: WebhookOptions | None = None,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.loopback = is_loopback_host(host)
        # Off loopback the token is not optional: anyone on the network could reach the server.
        self.require_token = True if not self.loopback else bool(require_token)
        self.token_file = Path(token_file) if token_file is not None else token_path(core.paths.data_dir)
        self.token = load_or_create_token(self.token_file)
        self.app = create_app(core, token=self.token, require_token=self.require_token,
                              webhook_options=webhook_options, max_upload_bytes=max_upload_bytes)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when asked for port 0)."""
        if self._socket is None:
            return self._requested_port
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765``."""
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> ApiServer:
        """Listen and serve; returns once requests are answered. ApiBindError if the port is taken."""
        if self._thread is not None:
            return self
        self._socket = _bind(self.host, self._requested_port)
        config = uvicorn.Config(
            self.app,
            log_config=None,  # the program configured logging already
            lifespan="on",
            timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_SECONDS),
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="rest-api", daemon=True)
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive() or waited >= timeout:
                self.stop()
                detail = repr(self._failure) if self._failure else f"not ready after {timeout:.0f} s"
                raise ApiStartError(detail)
            self._thread.join(0.05)
            waited += 0.05
        log.info("REST API listening on %s (token %s)", self.url, "required" if self.require_token else "optional")
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop serving: running requests get a short grace, then the thread ends."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("REST API thread still running after %.0f s; forcing it", timeout)
                if self._server is not None:
                    self._server.force_exit = True
                self._thread.join(5)
        if self._socket is not None:
            self._socket.close()
        self._thread = None
        self._server = None
        self.app.state.sttdesk.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # noqa: BLE001 - also SystemExit, which uvicorn raises when start-up fails
            self._failure = exc
            log.error("REST API server stopped with an error: %r", exc)


def run_api(core: Any, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
            token_path: Path | None = None, require_token: bool | None = None) -> ApiServer:
    """Start the REST API over ``core``; returns the running server (call ``stop()`` to end it)."""
    return ApiServer(core, host=host, port=port, token_file=token_path, require_token=require_token).start()


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ApiBindError(exc.strerror or str(exc), host=host, port=port) from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ApiBindError(exc.strerror or str(exc), host=host, port=port) from exc
    return sock
