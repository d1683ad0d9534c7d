"""The job endpoints: upload, list, status, delete, retry, result download.

Each handler is a few lines over :class:`~sttdesk.service.job_service.JobService`;
handlers raise typed errors and never choose status codes for failures (see
:mod:`.errors`). Blocking work (probing a file, reading the database) runs in
the thread pool: ``def`` handlers are run there by FastAPI, the upload handler
hands it over explicitly.

An upload is answered as soon as it is stored and recorded: what takes no time
to know (the form, the file's name and type, its size, the language and model)
is refused at once; ffprobe's verdict on the file comes in the background, and
a file it refuses becomes a FAILED job with that error.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..audio.formats import check_media_type
from ..domain.exporters import export, get_format
from ..domain.jobs import JobState
from ..domain.languages import SUPPORTED_LANGUAGES, validate_language
from ..service.job_service import JobRequest
from .context import ApiContext, get_context
from .errors import InvalidJobIdError, InvalidStatusFilterError, ResultNotReadyError
from .schemas import API_PREFIX, ErrorResponse, JobAccepted, JobPage, JobStatus, RetryAccepted, job_links, job_resource
from .uploads import receive_upload
from .webhooks import CALLBACK_EXTRA, validate_callback_url

log = logging.getLogger(__name__)

#: Job ids are the store's random hex ids; anything else never reaches the service.
JOB_ID_PATTERN = re.compile(r"[0-9a-f]{1,64}")
#: Text fields of the upload form, beside ``file``.
UPLOAD_TEXT_FIELDS = ("language", "model", "callback_url")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: Kept with each job added through the API, so other front ends can tell where it came from.
SOURCE_EXTRA = ("submitted_via", "api")

router = APIRouter(prefix=API_PREFIX, tags=["jobs"])


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


_UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "The recording: any audio or video file ffmpeg reads."},
                        "language": {"type": "string", "enum": list(SUPPORTED_LANGUAGES), "default": "auto"},
                        "model": {"type": "string", "description": "An installed model; the default one if left out."},
                        "callback_url": {"type": "string", "format": "uri",
                                         "description": "Called (POST, JSON) when the job completes or fails."},
                    },
                }
            }
        },
    }
}


def _job_id(job_id: str) -> str:
    normalised = job_id.strip().lower()
    if not JOB_ID_PATTERN.fullmatch(normalised):
        raise InvalidJobIdError(job_id=job_id[:80])
    return normalised


def _states(values: list[str] | None) -> list[str] | None:
    """Status filters, repeated (?status=A&status=B) or comma-separated (?status=A,B)."""
    if not values:
        return None
    allowed = [state.value for state in JobState]
    wanted: list[str] = []
    for value in values:
        for item in value.split(","):
            name = item.strip().upper()
            if not name:
                continue
            if name not in allowed:
                raise InvalidStatusFilterError(status=item.strip()[:40], allowed=", ".join(allowed))
            if name not in wanted:
                wanted.append(name)
    return wanted or None


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobAccepted,
    summary="Upload a recording; answers at once with the new job's id",
    responses=_errors(401, 413, 415, 422, 507),
    openapi_extra=_UPLOAD_FORM,
)
async def create_job(request: Request) -> JSONResponse:
    """Stream the file to the data folder, record the job, and answer; the file is probed in the background."""
    ctx: ApiContext = get_context(request)
    core = ctx.core

    def check_field(name: str, value: str) -> None:
        # Fields sent before the file are checked before the file streams in.
        text = value.strip()
        if name == "language" and text:
            validate_language(text)
        elif name == "model" and text:
            core.models.get(text)
        elif name == "callback_url" and text:
            validate_callback_url(text)

    upload = await receive_upload(request, ctx.uploads, max_file_bytes=ctx.max_upload_bytes,
                                  text_fields=UPLOAD_TEXT_FIELDS, check_field=check_field,
                                  check_file=check_media_type)
    try:
        fields = upload.fields
        extras: dict[str, Any] = dict([SOURCE_EXTRA])
        callback = fields.get("callback_url", "").strip()
        if callback:
            extras[CALLBACK_EXTRA] = validate_callback_url(callback)
        job_request = JobRequest(
            path=upload.path,
            language=fields.get("language", "").strip() or core.settings.processing.default_language,
            model=fields.get("model", "").strip() or None,
            extras=extras,
        )
        job_id = await run_in_threadpool(core.service.add, job_request, probe_now=False)
    except BaseException:
        upload.discard()
        raise
    ctx.uploads.register(job_id, upload.path)
    links = job_links(job_id)
    log.info("job %s added from upload %s", job_id, upload.filename)
    return JSONResponse(status_code=202, content={"job_id": job_id, "status": JobState.PENDING.value, "links": links},
                        headers={"Location": links["self"]})


@router.get("/jobs", response_model=JobPage, summary="List jobs, newest first", responses=_errors(401, 422))
def list_jobs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Jobs per page.")] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, description="Jobs to skip.")] = 0,
    status: Annotated[list[str] | None, Query(
        description="Only jobs in these statuses (repeat it, or separate with commas).")] = None,
) -> dict[str, Any]:
    service = get_context(request).core.service
    states = _states(status)
    total = service.count(states=states)
    jobs = [job_resource(view) for view in service.list(states=states, limit=limit, offset=offset)]

    def page(at: int) -> str:
        query: list[tuple[str, Any]] = [("limit", limit), ("offset", at)]
        query += [("status", state) for state in states or ()]
        return f"{API_PREFIX}/jobs?{urlencode(query)}"

    return {
        "jobs": jobs,
        "total": total,
        "limit": limit,
        "offset": offset,
        "links": {
            "next": page(offset + limit) if offset + limit < total else None,
            "prev": page(max(0, offset - limit)) if offset > 0 else None,
        },
    }


@router.get("/jobs/{job_id}", response_model=JobStatus, summary="A job's status, progress, timings and error",
            responses=_errors(401, 404, 422))
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    return job_resource(get_context(request).core.service.get(_job_id(job_id)))


@router.delete("/jobs/{job_id}", status_code=204, summary="Cancel a job if it runs, then remove it and its files",
               responses=_errors(401, 404, 422))
def delete_job(request: Request, job_id: str) -> Response:
    ctx = get_context(request)
    job_id = _job_id(job_id)
    ctx.core.service.delete(job_id)
    ctx.uploads.release(job_id)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=RetryAccepted,
             summary="Put a FAILED job's failed chunks back in the queue", responses=_errors(401, 404, 409, 422))
def retry_job(request: Request, job_id: str) -> JSONResponse:
    service = get_context(request).core.service
    job_id = _job_id(job_id)
    count = service.retry_failed(job_id)
    status = service.get(job_id).state
    return JSONResponse(status_code=202, content={"job_id": job_id, "status": status, "requeued_chunks": count,
                                                  "links": job_links(job_id)})


@router.get(
    "/jobs/{job_id}/result",
    summary="Download the transcript (txt, json, srt or vtt)",
    responses={
        200: {"description": "The transcript as a file download.",
              "content": {"text/plain": {}, "application/json": {}, "application/x-subrip": {}, "text/vtt": {}}},
        **_errors(401, 404, 409, 422),
    },
)
def get_result(
    request: Request,
    job_id: str,
    fmt: Annotated[str, Query(alias="format", description="txt, json, srt or vtt.")] = "txt",
    partial: Annotated[bool, Query(description="Give what is transcribed so far, whatever the status.")] = False,
) -> Response:
    service = get_context(request).core.service
    job_id = _job_id(job_id)
    exporter = get_format(fmt)
    view = service.get(job_id)
    if view.state != JobState.COMPLETED.value and not partial:
        raise ResultNotReadyError(job_id=job_id, status=view.state)
    text = export(service.transcript(job_id, partial=True), exporter.name)
    stem = view.name.rsplit(".", 1)[0] if "." in view.name else view.name
    filename = f"{stem}{'.partial' if view.state != JobState.COMPLETED.value else ''}{exporter.extension}"
    return Response(
        content=text.encode("utf-8"),
        media_type=exporter.media_type,
        headers={"Content-Disposition": content_disposition(filename), "X-Sttdesk-Job-Status": view.state},
    )


def content_disposition(filename: str) -> str:
    """An attachment header carrying a UTF-8 file name (RFC 6266), with an ASCII fallback."""
    # Old clients read only the ASCII name: "Bài nói.txt" becomes "Bai noi.txt" there, not "B_i n_i.txt".
    plain = unicodedata.normalize("NFKD", filename.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", plain).strip() or "transcript"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
