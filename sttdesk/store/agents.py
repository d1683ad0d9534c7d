"""Agent rows: registration, trust, liveness and lifetime counters."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from ..domain.records import AgentRecord, EventKind
from .errors import AgentNotFoundError, InvalidStoreValueError
from .events import insert_event
from .rows import agent_from_row, dump_json
from .schema import agents

#: Longest agent id, name or text field accepted.
MAX_AGENT_TEXT = 256


def _text(value: object, field: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str) or len(value) > MAX_AGENT_TEXT or (not allow_empty and not value.strip()):
        raise InvalidStoreValueError(
            f"expected {'a' if allow_empty else 'a non-empty'} text of at most {MAX_AGENT_TEXT} characters, got {value!r}",
            field=field,
        )
    return value


def _count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidStoreValueError(f"expected a whole number of at least 1, got {value!r}", field=field)
    return value


def _models(models: Iterable[str]) -> str:
    names = list(models) if not isinstance(models, str) else None
    if names is None or not all(isinstance(m, str) and m for m in names):
        raise InvalidStoreValueError(f"expected a list of model names, got {models!r}", field="models")
    return dump_json(names, field="models")


def fetch(conn: Connection, agent_id: str) -> AgentRecord | None:
    row = conn.execute(select(agents).where(agents.c.id == agent_id)).mappings().first()
    return None if row is None else agent_from_row(row)


def require(conn: Connection, agent_id: str) -> AgentRecord:
    agent = fetch(conn, agent_id)
    if agent is None:
        raise AgentNotFoundError(agent_id=agent_id)
    return agent


def upsert(
    conn: Connection,
    agent_id: str,
    *,
    name: str | None,
    host: str,
    endpoint: str,
    public_key: str | None,
    fingerprint: str | None,
    local: bool,
    slots: int,
    threads: int,
    models: Iterable[str],
    cpu: str,
    version: str,
    trusted: bool | None,
    now: float,
) -> AgentRecord:
    """Register an agent or refresh what it announced; return it as stored.

    A new agent is trusted when it is local (or when ``trusted`` says so). A
    known agent that comes back with another key fingerprint loses its trust:
    the user must approve the new key.
    """
    _text(agent_id, "agent id", allow_empty=False)
    values = {
        "name": _text(name or agent_id, "agent name", allow_empty=False),
        "host": _text(host, "agent host"),
        "endpoint": _text(endpoint, "agent endpoint"),
        "public_key": None if public_key is None else _text(public_key, "agent public key"),
        "fingerprint": None if fingerprint is None else _text(fingerprint, "agent fingerprint"),
        "local": bool(local),
        "slots": _count(slots, "slots"),
        "threads": _count(threads, "threads"),
        "models": _models(models),
        "cpu": _text(cpu, "agent cpu"),
        "version": _text(version, "agent version"),
    }
    existing = fetch(conn, agent_id)
    if existing is None:
        conn.execute(
            insert(agents).values(
                id=agent_id,
                trusted=bool(local) if trusted is None else bool(trusted),
                first_seen=now,
                last_seen=now,
                **values,
            )
        )
        insert_event(
            conn,
            EventKind.AGENT_REGISTERED,
            at=now,
            agent_id=agent_id,
            data={"name": values["name"], "local": bool(local), "fingerprint": fingerprint},
        )
        return require(conn, agent_id)
    key_changed = fingerprint is not None and existing.fingerprint is not None and fingerprint != existing.fingerprint
    if trusted is not None:
        values["trusted"] = bool(trusted)
    elif key_changed and existing.trusted:
        values["trusted"] = False
    if key_changed:
        insert_event(
            conn,
            EventKind.AGENT_KEY_CHANGED,
            at=now,
            agent_id=agent_id,
            data={
                "old": existing.fingerprint,
                "new": fingerprint,
                "trusted": bool(values.get("trusted", existing.trusted)),
            },
        )
    conn.execute(
        update(agents).where(agents.c.id == agent_id).values(last_seen=func.max(agents.c.last_seen, now), **values)
    )
    return require(conn, agent_id)


def select_agents(conn: Connection, *, trusted: bool | None, local: bool | None) -> list[AgentRecord]:
    query = select(agents)
    if trusted is not None:
        query = query.where(agents.c.trusted == bool(trusted))
    if local is not None:
        query = query.where(agents.c.local == bool(local))
    rows = conn.execute(query.order_by(agents.c.local.desc(), agents.c.name, agents.c.id)).mappings()
    return [agent_from_row(row) for row in rows]


def set_trusted(conn: Connection, agent_id: str, trusted: bool, *, now: float) -> AgentRecord:
    agent = require(conn, agent_id)
    if agent.trusted != bool(trusted):
        conn.execute(update(agents).where(agents.c.id == agent_id).values(trusted=bool(trusted)))
        insert_event(
            conn,
            EventKind.AGENT_TRUST,
            at=now,
            agent_id=agent_id,
            data={"trusted": bool(trusted), "fingerprint": agent.fingerprint},
        )
    return require(conn, agent_id)


def record_crash(conn: Connection, agent_id: str, *, now: float, detail: str | None) -> AgentRecord:
    require(conn, agent_id)
    conn.execute(update(agents).where(agents.c.id == agent_id).values(crashes=agents.c.crashes + 1))
    insert_event(conn, EventKind.AGENT_CRASH, at=now, agent_id=agent_id, data={"detail": detail} if detail else None)
    return require(conn, agent_id)


def touch(conn: Connection, agent_id: str, *, now: float) -> bool:
    result = conn.execute(
        update(agents).where(agents.c.id == agent_id).values(last_seen=func.max(agents.c.last_seen, now))
    )
    return result.rowcount == 1
