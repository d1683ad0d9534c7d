"""Rows to records and back: JSON columns, error columns, and the row → dataclass converters."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import RowMapping

from ..domain.chunks import CutKind
from ..domain.jobs import ChunkState, JobState
from ..domain.records import AgentRecord, ChunkRecord, ErrorInfo, EventRecord, JobRecord, SegmentEdit
from .errors import InvalidStoreValueError


def dump_json(value: Any, *, field: str) -> str:
    """``value`` as compact JSON text, or InvalidStoreValueError if it cannot be stored as JSON."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidStoreValueError(f"cannot be stored as JSON ({exc})", field=field) from exc


def dump_json_object(value: Mapping[str, Any] | None, *, field: str) -> str:
    """A mapping (None: empty) as a JSON object text."""
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise InvalidStoreValueError(f"expected a mapping, got {type(value).__name__}", field=field)
    return dump_json(dict(value), field=field)


def load_json(text: str | None, default: Any) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


def check_json_object_text(text: str, *, field: str) -> str:
    """``text`` if it is a JSON object, else InvalidStoreValueError (garbage is never stored)."""
    if not isinstance(text, str):
        raise InvalidStoreValueError(f"expected JSON text, got {type(text).__name__}", field=field)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidStoreValueError(f"not valid JSON ({exc})", field=field) from exc
    if not isinstance(value, dict):
        raise InvalidStoreValueError(f"expected a JSON object, got {type(value).__name__}", field=field)
    return text


def check_finite(value: float, *, field: str, minimum: float | None = None, positive: bool = False) -> float:
    """``value`` as a float, refusing NaN, infinities, and values under ``minimum`` or not positive."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidStoreValueError(f"expected a number, got {value!r}", field=field) from exc
    if not math.isfinite(number):
        raise InvalidStoreValueError(f"expected a finite number, got {value!r}", field=field)
    if minimum is not None and number < minimum:
        raise InvalidStoreValueError(f"must be at least {minimum}, got {value!r}", field=field)
    if positive and number <= 0:
        raise InvalidStoreValueError(f"must be more than 0, got {value!r}", field=field)
    return number


def error_columns(error: ErrorInfo | None) -> dict[str, str | None]:
    if error is None:
        return {"error_code": None, "error_en": None, "error_vi": None}
    if not isinstance(error, ErrorInfo):
        raise InvalidStoreValueError(f"expected an ErrorInfo, got {type(error).__name__}", field="error")
    return {"error_code": error.code, "error_en": error.message_en, "error_vi": error.message_vi}


def _error(row: RowMapping) -> ErrorInfo | None:
    if row["error_code"] is None:
        return None
    return ErrorInfo(code=row["error_code"], message_en=row["error_en"] or "", message_vi=row["error_vi"] or "")


def job_from_row(row: RowMapping) -> JobRecord:
    return JobRecord(
        id=row["id"],
        seq=row["seq"],
        priority=row["priority"],
        state=JobState(row["state"]),
        source_path=row["source_path"],
        display_name=row["display_name"],
        size_bytes=row["size_bytes"],
        duration_seconds=row["duration_seconds"],
        language_requested=row["language_requested"],
        language_detected=row["language_detected"],
        model_name=row["model_name"],
        decode_options=load_json(row["decode_options"], {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        planned_at=row["planned_at"],
        chunk_total=row["chunk_total"],
        chunk_done=row["chunk_done"],
        retry_count=row["retry_count"],
        error=_error(row),
        work_dir=row["work_dir"],
        extras=load_json(row["extras"], {}),
    )


def chunk_from_row(row: RowMapping) -> ChunkRecord:
    return ChunkRecord(
        id=row["id"],
        job_id=row["job_id"],
        index=row["chunk_index"],
        order_key=row["order_key"],
        parent_id=row["parent_id"],
        start=row["start_seconds"],
        end=row["end_seconds"],
        cut=CutKind(row["cut"]),
        overlap_before=row["overlap_before"],
        state=ChunkState(row["state"]),
        attempt=row["attempt"],
        failures=row["failures"],
        lease_id=row["lease_id"],
        lease_agent_id=row["lease_agent_id"],
        lease_deadline=row["lease_deadline"],
        leased_at=row["leased_at"],
        not_before=row["not_before"],
        deadline_seconds=row["deadline_seconds"],
        error=_error(row),
        result_json=row.get("result_json"),
        engine_seconds=row["engine_seconds"],
        agent_seconds=row["agent_seconds"],
        done_agent_id=row["done_agent_id"],
        done_at=row["done_at"],
        failed_at=row["failed_at"],
        purged_at=row["purged_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def agent_from_row(row: RowMapping) -> AgentRecord:
    return AgentRecord(
        id=row["id"],
        name=row["name"],
        host=row["host"],
        endpoint=row["endpoint"],
        public_key=row["public_key"],
        fingerprint=row["fingerprint"],
        trusted=bool(row["trusted"]),
        local=bool(row["local"]),
        slots=row["slots"],
        threads=row["threads"],
        models=tuple(load_json(row["models"], [])),
        cpu=row["cpu"],
        version=row["version"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        chunks_done=row["chunks_done"],
        audio_seconds=row["audio_seconds"],
        busy_seconds=row["busy_seconds"],
        crashes=row["crashes"],
    )


def event_from_row(row: RowMapping) -> EventRecord:
    return EventRecord(
        id=row["id"],
        at=row["at"],
        kind=row["kind"],
        job_id=row["job_id"],
        chunk_id=row["chunk_id"],
        agent_id=row["agent_id"],
        data=load_json(row["data"], {}),
    )


def edit_from_row(row: RowMapping) -> SegmentEdit:
    return SegmentEdit(
        job_id=row["job_id"],
        segment_index=row["segment_index"],
        segment_start=row["segment_start"],
        text=row["text"],
        edited_at=row["edited_at"],
    )
