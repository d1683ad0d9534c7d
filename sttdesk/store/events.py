"""The event log: written inside the transaction of the change it records, read by id order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from ..domain.records import EventKind, EventRecord
from .errors import InvalidStoreValueError
from .rows import dump_json_object, event_from_row
from .schema import events

#: Longest event kind accepted (kinds are short identifiers, not messages).
MAX_KIND_LENGTH = 64
DEFAULT_EVENT_LIMIT = 1000


def _kind_text(kind: str | EventKind) -> str:
    text = kind.value if isinstance(kind, EventKind) else kind
    if not isinstance(text, str) or not text or len(text) > MAX_KIND_LENGTH or not text.isprintable():
        raise InvalidStoreValueError(
            f"expected a short printable name (1-{MAX_KIND_LENGTH} characters), got {kind!r}", field="event kind"
        )
    return text


def insert_event(
    conn: Connection,
    kind: str | EventKind,
    *,
    at: float,
    job_id: str | None = None,
    chunk_id: int | None = None,
    agent_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> int:
    """Append one event in the caller's transaction; return its id."""
    result = conn.execute(
        insert(events).values(
            at=at,
            kind=_kind_text(kind),
            job_id=job_id,
            chunk_id=chunk_id,
            agent_id=agent_id,
            data=None if not data else dump_json_object(data, field="event data"),
        )
    )
    return int(result.inserted_primary_key[0])


def query_events(
    conn: Connection,
    *,
    job_id: str | None = None,
    chunk_id: int | None = None,
    agent_id: str | None = None,
    kinds: Iterable[str | EventKind] | None = None,
    since_id: int = 0,
    limit: int = DEFAULT_EVENT_LIMIT,
) -> list[EventRecord]:
    """Events after ``since_id``, oldest first, filtered as asked."""
    if limit < 1:
        raise InvalidStoreValueError(f"must be at least 1, got {limit}", field="limit")
    query = select(events).where(events.c.id > since_id)
    if job_id is not None:
        query = query.where(events.c.job_id == job_id)
    if chunk_id is not None:
        query = query.where(events.c.chunk_id == chunk_id)
    if agent_id is not None:
        query = query.where(events.c.agent_id == agent_id)
    if kinds is not None:
        query = query.where(events.c.kind.in_([_kind_text(k) for k in kinds]))
    query = query.order_by(events.c.id).limit(limit)
    return [event_from_row(row) for row in conn.execute(query).mappings()]
