"""The agents table: local and LAN agents, from the coordinator's links, the agent directory
(found on the LAN, added by address) and the store's records."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ..domain.records import AgentRecord
from . import formatting
from .icons import icon

if TYPE_CHECKING:
    from ..cluster.coordinator import AgentStatus
    from ..service.agent_directory import FoundAgent

#: The agent's key (its id, or its endpoint before it said who it is).
AGENT_KEY_ROLE = Qt.ItemDataRole.UserRole + 1
#: A plain value to sort the column by.
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent as the panel shows it: what the link says now, and what the store remembers."""

    key: str
    name: str
    endpoint: str
    host: str
    local: bool
    #: Connected now, and whether it answered (READY).
    connected: bool
    ready: bool
    #: Approved to receive audio (None: the store has no record of it yet).
    trusted: bool | None
    fingerprint: str | None
    slots: int
    busy: int
    threads: int
    #: Seconds of work per second of audio, measured over its lifetime; None before any work.
    real_time_factor: float | None
    chunks_done: int
    crashes: int
    last_seen: float | None
    models: tuple[str, ...]
    #: Announced on the LAN right now (zeroconf).
    announced: bool = False
    #: The ``host:port`` it was added by (it can be removed from the list); "" when it was not.
    address: str = ""
    #: The agent answered that it does not trust this computer: they must be paired.
    refused: bool = False

    @property
    def unpaired(self) -> bool:
        """Found on the LAN but its key is not trusted: listed, never given audio."""
        return self.announced and not self.connected and not self.trusted


def merge_agents(links: Iterable[AgentStatus], records: Iterable[AgentRecord],
                 found: Iterable[FoundAgent] = (), manual: Iterable[str] = ()) -> list[AgentRow]:
    """One row per agent: connected ones first (local before LAN), then those found on the LAN
    but not paired, then those added by address that have no link, then those only remembered.

    ``found`` and ``manual`` are the agent directory's lists (``found()``, ``manual()``).
    """
    by_id = {record.id: record for record in records}
    found_by_id = {str(agent.details.get("agent_id") or ""): agent for agent in found}
    found_by_endpoint = {agent.connected_endpoint: agent for agent in found_by_id.values()
                         if agent.connected_endpoint}
    manual_by_endpoint = {f"tcp://{address}": address for address in manual}
    rows: list[AgentRow] = []
    for link in links:
        record = by_id.pop(link.agent_id, None) if link.agent_id else None
        announcement = found_by_id.pop(link.agent_id or "", None) or found_by_endpoint.get(link.endpoint)
        if announcement is not None:
            found_by_id.pop(str(announcement.details.get("agent_id") or ""), None)
        rows.append(AgentRow(
            key=link.agent_id or link.endpoint, name=link.name or (record.name if record else "") or link.endpoint,
            endpoint=link.endpoint, host=record.host if record else "", local=link.local, connected=True,
            ready=link.ready, trusted=record.trusted if record else None,
            fingerprint=record.fingerprint if record else None, slots=link.slots, busy=link.busy,
            threads=link.threads, real_time_factor=record.real_time_factor if record else None,
            chunks_done=record.chunks_done if record else 0, crashes=record.crashes if record else 0,
            last_seen=link.last_seen or (record.last_seen if record else None), models=link.models,
            address=manual_by_endpoint.pop(link.endpoint, ""), refused=link.refused,
        ))
        if announcement is not None:
            # The directory decides trust for LAN agents; its fingerprint is the one announced now.
            rows[-1] = replace(rows[-1], announced=True, trusted=announcement.trusted,
                               fingerprint=str(announcement.details.get("fingerprint") or "") or rows[-1].fingerprint,
                               name=link.name or str(announcement.details.get("name") or "") or rows[-1].name)
    for agent_id, announcement in found_by_id.items():
        record = by_id.pop(agent_id, None)
        details = announcement.details
        endpoint = str(details.get("endpoint") or "")
        addresses = details.get("addresses") or []
        rows.append(AgentRow(
            key=agent_id or endpoint, name=str(details.get("name") or "") or (record.name if record else "") or endpoint,
            endpoint=endpoint, host=str(addresses[0]) if addresses else (record.host if record else ""),
            local=False, connected=False, ready=False, trusted=announcement.trusted,
            fingerprint=str(details.get("fingerprint") or "") or (record.fingerprint if record else None),
            slots=int(details.get("slots") or 0), busy=0, threads=int(details.get("threads") or 0),
            real_time_factor=record.real_time_factor if record else None,
            chunks_done=record.chunks_done if record else 0, crashes=record.crashes if record else 0,
            last_seen=record.last_seen if record else None, models=tuple(details.get("models") or ()),
            announced=True, address=manual_by_endpoint.pop(endpoint, ""),
        ))
    for endpoint, address in manual_by_endpoint.items():
        # Added by address but not linked (the core is not started yet): listed so that it can be removed.
        rows.append(AgentRow(
            key=endpoint, name=address, endpoint=endpoint, host="", local=False, connected=False, ready=False,
            trusted=None, fingerprint=None, slots=0, busy=0, threads=0, real_time_factor=None, chunks_done=0,
            crashes=0, last_seen=None, models=(), address=address,
        ))
    for record in by_id.values():
        rows.append(AgentRow(
            key=record.id, name=record.name or record.id, endpoint=record.endpoint, host=record.host,
            local=record.local, connected=False, ready=False, trusted=record.trusted,
            fingerprint=record.fingerprint, slots=record.slots, busy=0, threads=record.threads,
            real_time_factor=record.real_time_factor, chunks_done=record.chunks_done, crashes=record.crashes,
            last_seen=record.last_seen, models=record.models,
        ))
    rows.sort(key=lambda row: (not row.connected, not row.announced, not row.address, not row.local,
                               row.name.casefold()))
    return rows


class AgentColumn(IntEnum):
    NAME = 0
    WHERE = 1
    STATE = 2
    TRUST = 3
    CPU = 4
    BUSY = 5
    SPEED = 6
    DONE = 7
    LAST_SEEN = 8


class AgentsModel(QAbstractTableModel):
    """Rows of :func:`merge_agents`, replaced as a whole on each read (agents are few)."""

    def __init__(self, parent: Any = None, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self._rows: list[AgentRow] = []
        self._clock = clock

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default argument
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(AgentColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        titles = {
            AgentColumn.NAME: self.tr("Agent"),
            AgentColumn.WHERE: self.tr("Where"),
            AgentColumn.STATE: self.tr("State"),
            AgentColumn.TRUST: self.tr("Approved"),
            AgentColumn.CPU: self.tr("Slots × threads"),
            AgentColumn.BUSY: self.tr("Busy"),
            AgentColumn.SPEED: self.tr("Speed"),
            AgentColumn.DONE: self.tr("Parts done"),
            AgentColumn.LAST_SEEN: self.tr("Last seen"),
        }
        return titles.get(AgentColumn(section)) if 0 <= section < len(AgentColumn) else None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = AgentColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == AGENT_KEY_ROLE:
            return row.key
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == Qt.ItemDataRole.DecorationRole and column is AgentColumn.STATE:
            return icon("state-processing" if row.busy else "state-completed" if row.ready
                        else "warning" if row.unpaired or row.refused
                        else "state-pending" if row.connected else "state-cancelled")
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (AgentColumn.TRUST, AgentColumn.STATE) and row.fingerprint:
                return self.tr("Key fingerprint: %1").replace("%1", row.fingerprint)
            if column is AgentColumn.NAME:
                models = ", ".join(row.models) or self.tr("none")
                return self.tr("Models: %1").replace("%1", models) + "\n" + row.endpoint
        return None

    def widest_texts(self, column: AgentColumn) -> tuple[str, ...]:
        """Every text ``column`` can show, or the widest ones, for columns of a known vocabulary
        (empty for the others: names, hosts and the approval with its fingerprint vary)."""
        if column is AgentColumn.STATE:
            return (self.tr("Found, not paired"), self.tr("Not paired"), self.tr("Offline"), self.tr("Connecting…"), self.tr("Working"),
                    self.tr("Ready"))
        if column is AgentColumn.CPU:
            return ("88 × 88",)
        if column is AgentColumn.BUSY:
            return ("88/88",)
        if column is AgentColumn.SPEED:
            return (formatting.real_time_factor(1 / 88.8),)
        if column is AgentColumn.DONE:
            return ("888888",)
        if column is AgentColumn.LAST_SEEN:
            return (self.tr("just now"), self.tr("%1 ago").replace("%1", formatting.clock(3599)), "8888-88-88 88:88")
        return ()

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def set_rows(self, rows: list[AgentRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[AgentRow]:
        return list(self._rows)

    def _display(self, row: AgentRow, column: AgentColumn) -> str:
        if column is AgentColumn.NAME:
            return row.name
        if column is AgentColumn.WHERE:
            if row.local:
                return self.tr("This computer")
            return row.host or row.endpoint.removeprefix("tcp://")
        if column is AgentColumn.STATE:
            if row.unpaired:
                return self.tr("Found, not paired")
            if row.refused or (row.address and not row.connected):
                # The agent does not trust this computer, or (added by address, no link) the
                # coordinator does not know its key: either way they must be paired first.
                return self.tr("Not paired")
            if not row.connected:
                return self.tr("Offline")
            if not row.ready:
                return self.tr("Connecting…")
            return self.tr("Working") if row.busy else self.tr("Ready")
        if column is AgentColumn.TRUST:
            if row.local:
                return self.tr("Yes (this computer)")
            if row.unpaired and row.fingerprint:
                return self.tr("No (key %1)").replace("%1", row.fingerprint)
            if row.trusted is None:
                return self.tr("Not yet")
            return self.tr("Yes") if row.trusted else self.tr("No")
        if column is AgentColumn.CPU:
            return f"{row.slots} × {row.threads}" if row.slots else ""
        if column is AgentColumn.BUSY:
            return f"{row.busy}/{row.slots}" if row.connected and row.slots else ""
        if column is AgentColumn.SPEED:
            return formatting.real_time_factor(row.real_time_factor)
        if column is AgentColumn.DONE:
            return str(row.chunks_done)
        if column is AgentColumn.LAST_SEEN:
            return self._ago(row.last_seen)
        return ""

    def _ago(self, when: float | None) -> str:
        if not when:
            return ""
        seconds = max(0.0, self._clock() - when)
        if seconds < 5:
            return self.tr("just now")
        if seconds < 3600:
            return self.tr("%1 ago").replace("%1", formatting.clock(seconds))
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))

    def _sort_value(self, row: AgentRow, column: AgentColumn) -> Any:
        values: dict[AgentColumn, Any] = {
            AgentColumn.NAME: row.name.casefold(), AgentColumn.WHERE: "" if row.local else row.host or row.endpoint,
            AgentColumn.STATE: 8 * row.connected + 4 * row.ready + 2 * (row.busy > 0) + row.announced,
            AgentColumn.TRUST: int(bool(row.trusted or row.local)),
            AgentColumn.CPU: row.slots * row.threads, AgentColumn.BUSY: row.busy,
            AgentColumn.SPEED: 1.0 / row.real_time_factor if row.real_time_factor else 0.0,
            AgentColumn.DONE: row.chunks_done, AgentColumn.LAST_SEEN: row.last_seen or 0.0,
        }
        return values[column]
