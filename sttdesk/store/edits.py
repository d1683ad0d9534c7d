"""Transcript edits: a user's corrected text for one segment of a job (schema 2)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from ..domain.records import SegmentEdit
from .errors import InvalidStoreValueError
from .jobs import require_job
from .rows import check_finite, edit_from_row
from .schema import segment_edits

#: Longest text accepted for one segment (a segment is about a sentence).
MAX_SEGMENT_TEXT = 20_000


def _index(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidStoreValueError(f"expected a whole number of at least 0, got {value!r}", field="segment index")
    return value


def save(
    conn: Connection, job_id: str, *, segment_index: int, segment_start: float, text: str, now: float
) -> SegmentEdit:
    """Store (or replace) the edited text of one segment."""
    require_job(conn, job_id)
    if not isinstance(text, str) or len(text) > MAX_SEGMENT_TEXT:
        raise InvalidStoreValueError(f"expected a text of at most {MAX_SEGMENT_TEXT} characters", field="segment text")
    values = {
        "job_id": job_id,
        "segment_index": _index(segment_index),
        "segment_start": check_finite(segment_start, field="segment start", minimum=0.0),
        "text": text,
        "edited_at": now,
    }
    statement = sqlite_insert(segment_edits).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[segment_edits.c.job_id, segment_edits.c.segment_index],
        set_={"segment_start": values["segment_start"], "text": text, "edited_at": now},
    )
    conn.execute(statement)
    return SegmentEdit(**values)


def of_job(conn: Connection, job_id: str) -> list[SegmentEdit]:
    require_job(conn, job_id)
    rows = conn.execute(
        select(segment_edits).where(segment_edits.c.job_id == job_id).order_by(segment_edits.c.segment_index)
    ).mappings()
    return [edit_from_row(row) for row in rows]


def remove(conn: Connection, job_id: str, segment_index: int) -> bool:
    result = conn.execute(
        delete(segment_edits).where(
            segment_edits.c.job_id == job_id, segment_edits.c.segment_index == _index(segment_index)
        )
    )
    return result.rowcount == 1
