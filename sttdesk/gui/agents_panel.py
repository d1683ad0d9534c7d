"""The agents window: who transcribes (this computer and LAN agents), how fast, how busy."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..protocol import DEFAULT_AGENT_PORT
from .agents_model import SORT_ROLE, AgentColumn, AgentRow, AgentsModel, merge_agents
from .errors import InvalidAgentAddressError
from .icons import icon
from .messages import error_text
from .tasks import TaskRunner

if TYPE_CHECKING:
    from ..app import Core

log = logging.getLogger(__name__)

#: How often the panel reads the agents again while it is shown.
REFRESH_MS = 2000

_ADDRESS = re.compile(r"^(?:tcp://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(?::(?P<port>\d{1,5}))?$")


def agent_endpoint(text: str) -> str:
    """The ZeroMQ endpoint of an agent typed as ``host``, ``host:port`` or ``tcp://host:port``."""
    match = _ADDRESS.match(text.strip())
    port = int(match.group("port")) if match and match.group("port") else DEFAULT_AGENT_PORT
    if match is None or not 1 <= port <= 65535:
        raise InvalidAgentAddressError(address=text.strip())
    return f"tcp://{match.group('host')}:{port}"


def read_agents(core: Core) -> list[AgentRow]:
    """The agents the coordinator talks to now, merged with those the store remembers (on a worker)."""
    return merge_agents(core.coordinator.agents(), core.store.list_agents())


class AgentsPanel(QDialog):
    """A window listing the agents; read again every few seconds while it is open."""

    #: A message for the main window's status bar.
    status_message = Signal(str)

    def __init__(self, core: Core, runner: TaskRunner, *, ui_language: str = "en",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._runner = runner
        self._ui_language = ui_language
        self._reading = False
        self.setWindowTitle(self.tr("Agents"))
        self.setWindowIcon(icon("agents"))
        self.resize(900, 360)
        self.model = AgentsModel(self)
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.model)
        proxy.setSortRole(SORT_ROLE)
        self.table = QTableView(self)
        self.table.setObjectName("agentsTable")
        self.table.setModel(proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(AgentColumn.NAME, QHeaderView.ResizeMode.Stretch)

        intro = QLabel(self.tr("Agents transcribe the parts of your recordings. This computer runs its own; "
                               "office PCs running sttdesk-agent can join on the local network."), self)
        intro.setWordWrap(True)
        self.pairing_note = QLabel(self.tr("LAN agents receive audio only once approved; the Approved column "
                                           "shows each agent's state (hover it for the key fingerprint)."), self)
        self.pairing_note.setWordWrap(True)
        self.pairing_note.setEnabled(False)

        add_row = QHBoxLayout()
        self.address_edit = QLineEdit(self)
        self.address_edit.setObjectName("agentAddress")
        self.address_edit.setPlaceholderText(self.tr("host:port, e.g. 192.168.1.20:%1").replace(
            "%1", str(DEFAULT_AGENT_PORT)))
        self.address_edit.returnPressed.connect(self.add_agent)
        self.add_button = QPushButton(self.tr("Add Agent"), self)
        self.add_button.setToolTip(self.tr("Connect to an agent the network does not announce (for this session)"))
        self.add_button.clicked.connect(self.add_agent)
        self.summary = QLabel(self)
        add_row.addWidget(QLabel(self.tr("Add by address:"), self))
        add_row.addWidget(self.address_edit, 1)
        add_row.addWidget(self.add_button)

        close = QPushButton(self.tr("Close"), self)
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(add_row)
        layout.addWidget(self.pairing_note)
        layout.addLayout(bottom)

        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    @property
    def reading(self) -> bool:
        return self._reading

    def refresh(self) -> None:
        """Read the agents in the background (skipped while a read is under way)."""
        if self._reading:
            return
        self._reading = True
        core = self._core
        self._runner.run(lambda: read_agents(core), on_done=self._show, on_error=self._failed)

    def add_agent(self) -> None:
        """Connect to the agent at the typed address."""
        try:
            endpoint = agent_endpoint(self.address_edit.text())
        except InvalidAgentAddressError as exc:
            self.summary.setText(exc.user_message(self._ui_language))
            return
        coordinator = self._core.coordinator
        self._runner.run(lambda: coordinator.add_agent(endpoint),
                         on_done=lambda _none: self._added(endpoint), on_error=self._failed)

    def _added(self, endpoint: str) -> None:
        self.address_edit.clear()
        self.status_message.emit(self.tr("Connecting to %1…").replace("%1", endpoint))
        self.summary.setText(self.tr("Connecting to %1…").replace("%1", endpoint))
        self.refresh()

    def _show(self, rows: list[AgentRow]) -> None:
        self._reading = False
        self.model.set_rows(rows)
        ready = sum(1 for row in rows if row.ready)
        slots = sum(row.slots for row in rows if row.ready)
        busy = sum(row.busy for row in rows if row.ready)
        self.summary.setText(self.tr("%n agent(s) ready", "", ready) + " · "
                             + self.tr("%1 of %2 slots busy").replace("%1", str(busy)).replace("%2", str(slots)))

    def _failed(self, error: BaseException) -> None:
        self._reading = False
        self.summary.setText(error_text(error, self._ui_language))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)
