"""The JSON documents the REST API answers with, as pydantic models (they make the OpenAPI schema).

Times are epoch seconds (UTC); durations are seconds. A job's ``status`` is
one of PENDING, PROCESSING, PAUSED, COMPLETED, FAILED, CANCELLED.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..service.views import JobView

#: Where the API lives; links in answers start with it.
API_PREFIX = "/api/v1"


class ErrorDetail(BaseModel):
    """Why a request failed, in English and Vietnamese."""

    code: str = Field(description="Stable machine-readable error code, e.g. 'unsupported_language'.")
    message_en: str
    message_vi: str
    transient: bool = Field(description="Whether the same request may succeed later.")
    status: str | None = Field(default=None, description="The job's current status (409 answers).")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class JobLinks(BaseModel):
    self: str
    result: str
    retry: str


class JobAccepted(BaseModel):
    """A job was queued; poll ``links.self`` until its status is COMPLETED or FAILED."""

    job_id: str
    status: str
    links: JobLinks


class RetryAccepted(JobAccepted):
    requeued_chunks: int = Field(description="Dead-lettered chunks put back in the queue.")


class JobProgress(BaseModel):
    chunks_done: int
    chunks_total: int = Field(description="0 until the recording has been cut into chunks.")
    chunks_failed: int
    chunks_running: int
    fraction: float = Field(description="chunks_done / chunks_total (0..1).")


class JobTimings(BaseModel):
    created_at: float
    started_at: float | None = Field(description="When the first chunk was handed to an agent.")
    finished_at: float | None
    elapsed_seconds: float | None
    eta_seconds: float | None = Field(description="Estimated seconds left; null before the first chunk.")


class JobError(BaseModel):
    code: str
    message_en: str | None
    message_vi: str | None


class JobStatus(BaseModel):
    """A job as the API shows it."""

    job_id: str
    name: str = Field(description="The uploaded file's (cleaned) name.")
    status: str
    language: str = Field(description="Requested language: en, vi or auto.")
    detected_language: str | None
    model: str
    duration_seconds: float | None = Field(description="Length of the recording.")
    progress: JobProgress
    timings: JobTimings
    retries: int = Field(description="Failed chunk attempts that were retried.")
    error: JobError | None
    agents: list[str] = Field(description="Agents working on the job now.")
    links: JobLinks


class PageLinks(BaseModel):
    next: str | None
    prev: str | None


class JobPage(BaseModel):
    jobs: list[JobStatus]
    total: int = Field(description="Jobs matching the filter.")
    limit: int
    offset: int
    links: PageLinks


class HealthCheck(BaseModel):
    ok: bool
    detail: str = ""


class AgentsHealth(BaseModel):
    ok: bool
    ready: int = Field(description="Agent links ready to take work.")
    total: int


class Health(BaseModel):
    """Readiness: the job database answers and at least one agent is ready."""

    status: str = Field(description="'ready' or 'not_ready'.")
    version: str
    database: HealthCheck
    agents: AgentsHealth


def job_links(job_id: str) -> dict[str, str]:
    base = f"{API_PREFIX}/jobs/{job_id}"
    return {"self": base, "result": f"{base}/result", "retry": f"{base}/retry"}


def job_resource(view: JobView) -> dict[str, Any]:
    """A job view as the API's JobStatus document (no server paths in it)."""
    return {
        "job_id": view.id,
        "name": view.name,
        "status": view.state,
        "language": view.language,
        "detected_language": view.detected_language,
        "model": view.model,
        "duration_seconds": view.duration,
        "progress": {
            "chunks_done": view.chunks_done,
            "chunks_total": view.chunks_total,
            "chunks_failed": view.chunks_failed,
            "chunks_running": view.chunks_running,
            "fraction": round(view.progress, 4),
        },
        "timings": {
            "created_at": view.created_at,
            "started_at": view.started_at,
            "finished_at": view.finished_at,
            "elapsed_seconds": view.elapsed_seconds,
            "eta_seconds": view.eta_seconds,
        },
        "retries": view.retries,
        "error": None if not view.error_code else {
            "code": view.error_code, "message_en": view.error_en, "message_vi": view.error_vi,
        },
        "agents": list(view.agents),
        "links": job_links(view.id),
    }
