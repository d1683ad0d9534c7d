"""The agents window: who transcribes (this computer and LAN agents), how fast, how busy.

Agents added by address and those found on the LAN belong to the core's agent
directory (``core.agents``); the panel only asks it, always on a worker thread.
Pairing (approving an agent found on the LAN with the code it shows) runs on a
worker of its own, since it waits for the user to type the code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QItemSelectionModel,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..protocol import DEFAULT_AGENT_PORT
from ..service.events import EventKind, ServiceEvent
from .agents_model import (
    AGENT_KEY_ROLE,
    SORT_ROLE,
    AgentColumn,
    AgentRow,
    AgentsModel,
    merge_agents,
)
from . import messages
from .column_widths import cell_width, fit_columns
from .icons import icon
from .messages import error_text
from .pairing_dialog import CodePrompter
from .tasks import TaskRunner

if TYPE_CHECKING:
    from ..app import Core
    from ..cluster.pairing import PairingOutcome

log = logging.getLogger(__name__)

#: How often the panel reads the agents again while it is shown.
REFRESH_MS = 2000
#: The window's size before the columns are measured; it grows to show every column whole.
DEFAULT_SIZE = (900, 360)
#: Room kept for the columns sized by their contents, in pixels: agent name, where, and approved,
#: which holds a whole key fingerprint for agents found but not paired.
VARIABLE_COLUMNS_WIDTH = 580

#: Events after which the list is read again at once (rather than at the next tick).
AGENT_EVENTS = frozenset({EventKind.AGENT_FOUND, EventKind.AGENT_UPDATED, EventKind.AGENT_VANISHED,
                          EventKind.AGENT_SEEN, EventKind.AGENT_LOST})


def read_agents(core: Core) -> list[AgentRow]:
    """The agents the coordinator talks to now, those found on the LAN or added by address, and
    those the store remembers, as rows (on a worker: it reads the database)."""
    return merge_agents(core.coordinator.agents(), core.store.list_agents(),
                        core.agents.found(), core.agents.manual())


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
        #: An agent event arrived during a read: read once more when it ends.
        self._stale = False
        self.setWindowTitle(self.tr("Agents"))
        self.setWindowIcon(icon("agents"))
        self.resize(*DEFAULT_SIZE)
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
        fitted = fit_columns(self.table, {
            column: cell_width(self.table, texts, with_icon=column is AgentColumn.STATE)
            for column in AgentColumn if (texts := self.model.widest_texts(column))
        })
        # Wide enough that the fitted columns and a sensible share for the others show whole.
        width = max(DEFAULT_SIZE[0], fitted + VARIABLE_COLUMNS_WIDTH)
        screen = self.screen()
        if screen is not None:  # never wider than the screen: the name column gives way first
            width = min(width, screen.availableGeometry().width())
        self.resize(width, DEFAULT_SIZE[1])
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

        intro = QLabel(self.tr("Agents transcribe the parts of your recordings. This computer runs its own; "
                               "office PCs running sttdesk-agent can join on the local network."), self)
        intro.setWordWrap(True)
        self.pairing_note = QLabel(self.tr("LAN agents receive audio only once paired. An agent found on the "
                                           "network but not paired is listed with its key fingerprint and "
                                           "gets no work."), self)
        self.pairing_note.setWordWrap(True)
        self.pairing_note.setEnabled(False)

        add_row = QHBoxLayout()
        self.address_edit = QLineEdit(self)
        self.address_edit.setObjectName("agentAddress")
        self.address_edit.setPlaceholderText(self.tr("host:port, e.g. 192.168.1.20:%1").replace(
            "%1", str(DEFAULT_AGENT_PORT)))
        self.address_edit.returnPressed.connect(self.add_agent)
        # Typing in the agent's key is the approval of an agent the LAN does not announce.
        self.key_edit = QLineEdit(self)
        self.key_edit.setObjectName("agentKey")
        self.key_edit.setPlaceholderText(self.tr("its key, shown by sttdesk-agent key"))
        self.key_edit.returnPressed.connect(self.add_agent)
        self.add_button = QPushButton(icon("add"), self.tr("Add Agent"), self)
        self.add_button.setToolTip(self.tr("Use an agent the network does not announce, now and after every start"))
        self.add_button.clicked.connect(self.add_agent)
        self.remove_button = QPushButton(icon("remove"), self.tr("Remove"), self)
        self.remove_button.setToolTip(self.tr("Stop using the selected agent added by address"))
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self.remove_selected)
        self.pair_button = QPushButton(icon("pair"), self.tr("Pair…"), self)
        self.pair_button.setObjectName("pairAgent")
        self.pair_button.setToolTip(self.tr("Approve the selected agent with the code it shows, so that it "
                                            "receives work"))
        self.pair_button.setEnabled(False)
        self.pair_button.clicked.connect(self.pair_selected)
        self.revoke_button = QPushButton(icon("revoke"), self.tr("Revoke"), self)
        self.revoke_button.setObjectName("revokeAgent")
        self.revoke_button.setToolTip(self.tr("Stop trusting the selected agent: it gets no more audio, and "
                                              "its work in progress goes back to the queue"))
        self.revoke_button.setEnabled(False)
        self.revoke_button.clicked.connect(self.revoke_selected)
        # Pairing waits for the user's code: it must not hold up the panel's reads.
        self._pairing_runner = TaskRunner(self, name="pairing")
        self.prompter = CodePrompter(self)
        self._pairing = False
        self.summary = QLabel(self)
        #: The outcome of the last add or remove (the summary is rewritten on every read).
        self.message = QLabel(self)
        self.message.setObjectName("agentMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        add_row.addWidget(QLabel(self.tr("Add by address:"), self))
        add_row.addWidget(self.address_edit, 1)
        add_row.addWidget(self.key_edit, 1)
        add_row.addWidget(self.add_button)
        add_row.addWidget(self.remove_button)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        close = QPushButton(self.tr("Close"), self)
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.pair_button)
        bottom.addWidget(self.revoke_button)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(add_row)
        layout.addWidget(self.message)
        layout.addWidget(self.pairing_note)
        layout.addLayout(bottom)

        self.refresh_timer = QTimer(self, interval=REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh)

    @property
    def reading(self) -> bool:
        return self._reading

    def refresh(self) -> None:
        """Read the agents in the background (once more after the current read, if one is under way)."""
        if self._reading:
            self._stale = True
            return
        self._reading = True
        self._stale = False
        core = self._core
        self._runner.run(lambda: read_agents(core), on_done=self._show, on_error=self._failed)

    def on_event(self, event: ServiceEvent) -> None:
        """A core event (on the GUI thread): agents appearing, changing or leaving are shown at once."""
        if event.kind in AGENT_EVENTS and self.isVisible():
            self.refresh()

    def add_agent(self) -> None:
        """Use the agent at the typed address from now on; the directory checks the address."""
        text = self.address_edit.text()
        key = self.key_edit.text().strip() or None
        directory = self._core.agents
        self.add_button.setEnabled(False)
        self._runner.run(lambda: directory.add(text, key=key), on_done=self._added, on_error=self._change_failed)

    def selected_row(self) -> AgentRow | None:
        """The agent selected in the table, if any."""
        indexes = self.table.selectionModel().selectedRows()
        if not indexes:
            return None
        key = indexes[0].data(AGENT_KEY_ROLE)
        return next((row for row in self.model.rows() if row.key == key), None)

    def remove_selected(self) -> None:
        """Stop using the selected agent added by address (LAN and local agents are not removable)."""
        row = self.selected_row()
        if row is None or not row.address:
            return
        address = row.address
        directory = self._core.agents
        self.remove_button.setEnabled(False)
        self._runner.run(lambda: directory.remove(address), on_done=lambda _removed: self._removed(address),
                         on_error=self._change_failed)

    def pair_selected(self) -> None:
        """Pair with the selected agent found on the LAN: it shows a code, the user types it in."""
        row = self.selected_row()
        if row is None or not can_pair(row) or self._pairing:
            return
        self._pairing = True
        self._selection_changed()
        which, name = row.address or row.key, row.name
        directory, prompter = self._core.agents, self.prompter
        prompter.begin()
        self._tell(self.tr("Asking %1 for a pairing code…").replace("%1", name))
        self._pairing_runner.run(lambda: directory.pair(which, prompter.ask), on_done=self._paired,
                                 on_error=self._pairing_failed)

    def revoke_selected(self) -> None:
        """Stop trusting the selected agent, after asking: its leases go back, its link closes."""
        row = self.selected_row()
        if row is None or not can_revoke(row):
            return
        question = self.tr("Stop sending audio to %1? Its work in progress goes back to the queue. "
                           "To use it again, pair it again.").replace("%1", row.name)
        if not messages.ask(self, self.tr("Revoke agent"), question, yes=self.tr("Revoke")):
            return
        which = row.fingerprint or row.endpoint
        directory = self._core.agents
        self.revoke_button.setEnabled(False)
        self._runner.run(lambda: directory.revoke(which), on_done=lambda _peer: self._revoked(row.name),
                         on_error=self._change_failed)

    def _paired(self, outcome: PairingOutcome) -> None:
        self._pairing = False
        name = outcome.agent_name or outcome.agent_id
        text = self.tr("Paired with %1: it receives work from now on.").replace("%1", name)
        self.status_message.emit(text)
        self._tell(text)
        self._selection_changed()
        self.refresh()

    def _pairing_failed(self, error: BaseException) -> None:
        self._pairing = False
        self._selection_changed()
        self._tell(error_text(error, self._ui_language))
        self.refresh()

    def _revoked(self, name: str) -> None:
        text = self.tr("%1 is no longer trusted").replace("%1", name)
        self.status_message.emit(text)
        self._tell(text)
        self.refresh()

    def _added(self, address: str) -> None:
        self.add_button.setEnabled(True)
        self.address_edit.clear()
        self.key_edit.clear()
        text = self.tr("Connecting to %1…").replace("%1", address)
        self.status_message.emit(text)
        self._tell(text)
        self.refresh()

    def _removed(self, address: str) -> None:
        text = self.tr("%1 is no longer used").replace("%1", address)
        self.status_message.emit(text)
        self._tell(text)
        self.refresh()

    def _change_failed(self, error: BaseException) -> None:
        self.add_button.setEnabled(True)
        self._selection_changed()
        self._tell(error_text(error, self._ui_language))

    def _tell(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _selection_changed(self) -> None:
        row = self.selected_row()
        self.remove_button.setEnabled(row is not None and bool(row.address))
        self.pair_button.setEnabled(row is not None and can_pair(row) and not self._pairing)
        self.revoke_button.setEnabled(row is not None and can_revoke(row))

    def _context_menu(self, position: QPoint) -> None:
        row = self.selected_row()
        if row is None:
            return
        menu = QMenu(self)
        if can_pair(row) and not self._pairing:
            menu.addAction(icon("pair"), self.tr("Pair…"), self.pair_selected)
        if can_revoke(row):
            menu.addAction(icon("revoke"), self.tr("Revoke"), self.revoke_selected)
        if row.address:
            menu.addAction(icon("remove"), self.tr("Remove"), self.remove_selected)
        if not menu.isEmpty():
            menu.exec(self.table.viewport().mapToGlobal(position))

    def _show(self, rows: list[AgentRow]) -> None:
        self._reading = False
        selected = self.selected_row()
        self.model.set_rows(rows)
        if selected is not None:
            self._select(selected.key)
        self._selection_changed()
        ready = sum(1 for row in rows if row.ready)
        slots = sum(row.slots for row in rows if row.ready)
        busy = sum(row.busy for row in rows if row.ready)
        unpaired = sum(1 for row in rows if row.unpaired)
        parts = [self.tr("%n agent(s) ready", "", ready),
                 self.tr("%1 of %2 slots busy").replace("%1", str(busy)).replace("%2", str(slots))]
        if unpaired:
            parts.append(self.tr("%n found, not paired", "", unpaired))
        self.summary.setText(" · ".join(parts))
        if self._stale:
            self.refresh()

    def _select(self, key: str) -> None:
        """Select the agent ``key`` again after the model was reset (a read replaces all rows)."""
        proxy = self.table.model()
        for row in range(proxy.rowCount()):
            index = proxy.index(row, 0)
            if index.data(AGENT_KEY_ROLE) == key:
                self.table.selectionModel().select(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
                return

    def _failed(self, error: BaseException) -> None:
        self._reading = False
        self.summary.setText(error_text(error, self._ui_language))
        if self._stale:
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self.refresh_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self.refresh_timer.stop()
        self.prompter.cancel()  # a pairing waiting for its code gives up with the window
        super().hideEvent(event)


def can_pair(row: AgentRow) -> bool:
    """An agent found on the LAN whose key this app does not trust yet, or one that answered
    it does not trust this app (paired by address with the key recorded for it)."""
    return row.unpaired or row.refused


def can_revoke(row: AgentRow) -> bool:
    """A remote agent this app trusts (local agents trust the app by construction)."""
    return not row.local and bool(row.trusted)
