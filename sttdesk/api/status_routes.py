"""Readiness and monitoring endpoints: ``/health`` and ``/metrics``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import __version__
from ..domain.errors import SttdeskError
from .context import get_context
from .metrics import CONTENT_TYPE, render_metrics
from .schemas import API_PREFIX, ErrorResponse, Health

log = logging.getLogger(__name__)

router = APIRouter(prefix=API_PREFIX, tags=["monitoring"])


@router.get(
    "/health",
    response_model=Health,
    summary="Readiness: the job database answers and an agent is ready",
    responses={503: {"model": Health, "description": "Not ready (the body says what is missing)."}},
)
def health(request: Request) -> JSONResponse:
    ctx = get_context(request)
    core = ctx.core
    database: dict[str, Any] = {"ok": True, "detail": ""}
    try:
        core.service.count()
    except SttdeskError as error:
        database = {"ok": False, "detail": ctx.scrub(error.user_message("en"))}
    except Exception as error:  # noqa: BLE001 - any database failure means "not ready", never a crash
        log.warning("health check: the job database failed: %s", error)
        database = {"ok": False, "detail": type(error).__name__}
    links = core.coordinator.agents()
    ready = sum(1 for agent in links if agent.ready)
    agents = {"ok": ready > 0, "ready": ready, "total": len(links)}
    ok = database["ok"] and agents["ok"]
    body = {"status": "ready" if ok else "not_ready", "version": __version__, "database": database, "agents": agents}
    return JSONResponse(status_code=200 if ok else 503, content=body)


@router.get(
    "/metrics",
    summary="Monitoring figures in the Prometheus text format",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 503: {"model": ErrorResponse}},
)
def metrics(request: Request) -> Response:
    core = get_context(request).core
    text = render_metrics(core.store.metrics(), core.coordinator.agents())
    return Response(content=text.encode("utf-8"), media_type=CONTENT_TYPE)
