"""The agents window: the local agent of a real core, LAN agents found (paired or not) or remembered,
adding and removing agents by address through the core's agent directory."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sttdesk.announcement import AgentAnnouncement
from sttdesk.cluster.coordinator import AgentStatus
from sttdesk.cluster.discovery import DiscoveredAgent
from sttdesk.domain.records import AgentRecord
from sttdesk.gui.agents_model import AGENT_KEY_ROLE, AgentColumn, AgentsModel, merge_agents
from sttdesk.gui.agents_panel import AgentsPanel, can_pair, can_revoke
from sttdesk.gui.i18n import install_translators, remove_translators
from sttdesk.gui.tasks import TaskRunner
from sttdesk.security.keys import fingerprint, generate_keypair
from sttdesk.service.agent_directory import AgentDirectory, FoundAgent
from tests.agent.harness import start_agent
from tests.security.test_agent_security import CODE_RE

from .conftest import JOB_TIMEOUT_MS
from .lan_agents import Browser, announcement, use_lan_directory

FINGERPRINT = "3f2a-91bc-0d4e-77a1-c2f0"


def record(agent_id: str, **changes: Any) -> AgentRecord:
    values: dict[str, Any] = {
        "id": agent_id, "name": agent_id, "host": "10.0.0.5", "endpoint": "tcp://10.0.0.5:7878",
        "public_key": None, "fingerprint": "AB:CD:EF", "trusted": False, "local": False, "slots": 2, "threads": 1,
        "models": ("base-q8_0",), "cpu": "", "version": "", "first_seen": 1.0, "last_seen": 100.0,
        "chunks_done": 7, "audio_seconds": 200.0, "busy_seconds": 50.0, "crashes": 0,
    }
    values.update(changes)
    return AgentRecord(**values)


def found(agent_id: str, endpoint: str, *, trusted: bool) -> FoundAgent:
    details = {"agent_id": agent_id, "name": agent_id.upper(), "endpoint": endpoint,
               "addresses": [endpoint.removeprefix("tcp://").rsplit(":", 1)[0]], "slots": 4, "threads": 2,
               "models": ["base-q8_0"], "fingerprint": FINGERPRINT}
    return FoundAgent(details=details, trusted=trusted, connected_endpoint=endpoint if trusted else "")


def test_found_and_added_agents_join_the_rows(qtbot: Any) -> None:
    links = [
        AgentStatus(endpoint="tcp://10.0.0.7:7878", agent_id="paired", name="paired-pc", local=False, ready=True,
                    slots=2, busy=0, threads=1, models=("base-q8_0",), last_seen=99.0),
        AgentStatus(endpoint="tcp://vpn-pc:7000", agent_id=None, name="", local=False, ready=False,
                    slots=0, busy=0, threads=0, models=(), last_seen=None),
    ]
    lan = [found("paired", "tcp://10.0.0.7:7878", trusted=True), found("stranger", "tcp://10.0.0.8:7878", trusted=False)]
    rows = merge_agents(links, [record("stranger", trusted=False, fingerprint=None)], lan, ["vpn-pc:7000", "old:1"])

    by_key = {row.key: row for row in rows}
    assert [row.key for row in rows] == ["paired", "tcp://vpn-pc:7000", "stranger", "tcp://old:1"]
    assert by_key["paired"].announced and by_key["paired"].trusted and not by_key["paired"].unpaired
    assert by_key["paired"].fingerprint == FINGERPRINT and by_key["paired"].address == ""
    stranger = by_key["stranger"]
    assert stranger.unpaired and stranger.fingerprint == FINGERPRINT and stranger.slots == 4
    assert stranger.chunks_done == 7  # the store's record of it is kept
    assert by_key["tcp://vpn-pc:7000"].address == "vpn-pc:7000" and by_key["tcp://vpn-pc:7000"].connected
    assert by_key["tcp://old:1"].address == "old:1" and not by_key["tcp://old:1"].connected

    model = AgentsModel()
    model.set_rows(rows)
    row = rows.index(stranger)
    assert model.index(row, AgentColumn.STATE).data() == "Found, not paired"
    assert FINGERPRINT in model.index(row, AgentColumn.TRUST).data()
    assert model.index(rows.index(by_key["paired"]), AgentColumn.TRUST).data() == "Yes"


def test_links_and_records_merge_into_one_row_per_agent(qtbot: Any) -> None:
    links = [
        AgentStatus(endpoint="tcp://127.0.0.1:5000", agent_id="loc", name="local-1", local=True, ready=True,
                    slots=1, busy=1, threads=1, models=("base-q8_0",), last_seen=99.0),
        AgentStatus(endpoint="tcp://10.0.0.9:7878", agent_id=None, name="", local=False, ready=False,
                    slots=0, busy=0, threads=0, models=(), last_seen=None),
    ]
    rows = merge_agents(links, [record("loc", local=True, trusted=True), record("pc2", name="Reception PC")])

    assert [(r.name, r.connected, r.ready) for r in rows] == [
        ("local-1", True, True), ("tcp://10.0.0.9:7878", True, False), ("Reception PC", False, False)]
    assert rows[0].real_time_factor == 0.25 and rows[0].chunks_done == 7
    assert rows[2].trusted is False and rows[2].fingerprint == "AB:CD:EF"

    from sttdesk.gui.agents_model import AgentsModel

    model = AgentsModel(clock=lambda: 130.0)
    model.set_rows(rows)
    shown = [[model.index(r, c).data() for c in AgentColumn] for r in range(3)]
    assert shown[0][:4] == ["local-1", "This computer", "Working", "Yes (this computer)"]
    assert shown[0][AgentColumn.SPEED] == "4.0× real time"
    assert shown[1][AgentColumn.STATE] == "Connecting…"
    assert shown[2][AgentColumn.STATE] == "Offline" and shown[2][AgentColumn.TRUST] == "No"
    assert shown[2][AgentColumn.LAST_SEEN] == "0:30 ago"
    assert "AB:CD:EF" in model.index(2, AgentColumn.TRUST).data(0x03)  # the tooltip shows the fingerprint


@pytest.mark.slow
def test_the_panel_lists_the_local_agent_and_adds_one_by_address(qtbot: Any, desktop: Any) -> None:
    panel = desktop.window.show_agents()
    qtbot.waitUntil(lambda: any(row.ready for row in panel.model.rows()), timeout=JOB_TIMEOUT_MS)
    local = next(row for row in panel.model.rows() if row.ready)
    assert local.local and local.name == "local-1" and local.slots == 1
    assert "1 agent ready" in panel.summary.text()

    panel.address_edit.setText("not an address!")
    panel.add_button.click()
    qtbot.waitUntil(lambda: "is not an agent address" in panel.message.text(), timeout=JOB_TIMEOUT_MS)
    assert "host:port" in panel.message.text() and panel.address_edit.text() == "not an address!"
    assert len(desktop.core.coordinator.agents()) == 1 and desktop.core.agents.manual() == []

    panel.address_edit.setText("127.0.0.1:9")  # an agent whose key this app does not know
    panel.add_button.click()
    qtbot.waitUntil(lambda: "not known" in panel.message.text(), timeout=JOB_TIMEOUT_MS)
    assert desktop.core.agents.manual() == []  # no key, no approval: nothing added

    panel.key_edit.setText(generate_keypair().public.decode("ascii"))  # typing its key in approves it
    panel.add_button.click()
    # Listed as soon as the directory has it; connected once the coordinator's thread made the link.
    qtbot.waitUntil(lambda: any(row.address == "127.0.0.1:9" and row.connected for row in panel.model.rows()),
                    timeout=JOB_TIMEOUT_MS)
    added = next(row for row in panel.model.rows() if row.address == "127.0.0.1:9")
    assert not added.ready  # nobody listens there
    assert panel.address_edit.text() == "" and panel.key_edit.text() == ""
    assert desktop.core.agents.manual() == ["127.0.0.1:9"]  # kept in the settings for the next start

    assert not panel.remove_button.isEnabled()
    local_row = next(r for r in range(panel.table.model().rowCount())
                     if panel.table.model().index(r, 0).data() == "local-1")
    panel.table.selectRow(local_row)
    assert not panel.remove_button.isEnabled()  # the local agent is not removable
    added_row = next(r for r in range(panel.table.model().rowCount())
                     if panel.table.model().index(r, AgentColumn.WHERE).data() == "127.0.0.1:9")
    panel.table.selectRow(added_row)
    assert panel.remove_button.isEnabled()
    panel.remove_button.click()
    qtbot.waitUntil(lambda: all(row.endpoint != "tcp://127.0.0.1:9" for row in panel.model.rows()),
                    timeout=JOB_TIMEOUT_MS)
    assert desktop.core.agents.manual() == []
    assert all(link.endpoint != "tcp://127.0.0.1:9" for link in desktop.core.coordinator.agents())
    assert "127.0.0.1:9" in panel.message.text()
    panel.close()


@pytest.mark.slow
def test_an_agent_found_on_the_lan_shows_at_once_as_not_paired_with_its_fingerprint(
        qtbot: Any, desktop: Any) -> None:
    browsers: list[Browser] = []

    def browser(on_change: Any) -> Browser:
        browsers.append(Browser(on_change))
        return browsers[-1]

    core = desktop.core
    core.agents = AgentDirectory(core.coordinator, core.events, manual=[], save_manual=lambda _addresses: None,
                                 browser_factory=browser, trust=lambda _agent: False)
    core.agents.start()
    panel = desktop.window.show_agents()
    qtbot.waitUntil(lambda: any(row.ready for row in panel.model.rows()), timeout=JOB_TIMEOUT_MS)
    panel.refresh_timer.setInterval(3_600_000)  # from now on only events bring changes in
    panel.refresh_timer.start()

    card = AgentAnnouncement(agent_id="reception", name="Reception PC", protocol=1, version="0.1", slots=2,
                             threads=4, models=("base-q8_0",), fingerprint=FINGERPRINT)
    announced = DiscoveredAgent(instance="reception", card=card, addresses=("10.0.0.8",), port=7878)
    browsers[0].on_change("found", announced)  # on the test's thread, as zeroconf's own thread would
    qtbot.waitUntil(lambda: any(row.key == "reception" for row in panel.model.rows()), timeout=JOB_TIMEOUT_MS)
    row = next(row for row in panel.model.rows() if row.key == "reception")
    assert row.unpaired and row.name == "Reception PC" and row.fingerprint == FINGERPRINT
    shown = panel.table.model()
    index = next(shown.index(r, 0) for r in range(shown.rowCount()) if shown.index(r, 0).data() == "Reception PC")
    assert shown.index(index.row(), AgentColumn.STATE).data() == "Found, not paired"
    assert FINGERPRINT in shown.index(index.row(), AgentColumn.TRUST).data()
    assert "found, not paired" in panel.summary.text()
    assert all(link.endpoint != announced.endpoint for link in core.coordinator.agents())  # it gets no work

    browsers[0].on_change("lost", announced)
    qtbot.waitUntil(lambda: all(row.key != "reception" for row in panel.model.rows()), timeout=JOB_TIMEOUT_MS)
    core.agents.stop()
    panel.close()


class StillCore:
    """A core whose agents never change: enough for the panel's reads (the real core is used above)."""

    def __init__(self, links: list[AgentStatus], lan: list[FoundAgent]) -> None:
        self.coordinator = SimpleNamespace(agents=lambda: links)
        self.store = SimpleNamespace(list_agents=list)
        self.agents = SimpleNamespace(found=lambda: lan, manual=list)


@pytest.mark.parametrize("language", ["en", "vi"])
def test_no_state_speed_or_header_is_cut_off(qtbot: Any, qapp: Any, language: str) -> None:
    translators = install_translators(qapp, language)
    runner = TaskRunner()
    try:
        links = [AgentStatus(endpoint=f"tcp://127.0.0.1:{5000 + busy}", agent_id=f"a{busy}", name=f"pc{busy}",
                             local=False, ready=True, slots=1, busy=busy, threads=1, models=(), last_seen=None,
                             speed=None) for busy in (0, 1)]
        lan = [found("stranger", "tcp://10.0.0.8:7878", trusted=False)]
        panel = AgentsPanel(StillCore(links[:1], []), runner, ui_language=language)
        qtbot.addWidget(panel)
        panel.show()
        qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and not panel.reading, timeout=JOB_TIMEOUT_MS)
        # Later reads bring the longest texts of the columns: a working agent, its speed, an unpaired one;
        # the columns measured from their vocabulary must already hold them.
        panel.model.set_rows(merge_agents(links, [record("a1", trusted=True, fingerprint=None)], lan))
        states = {panel.model.index(r, AgentColumn.STATE).data() for r in range(3)}
        assert len(states) == 3
        header = panel.table.horizontalHeader()
        for column in AgentColumn:
            width = panel.table.columnWidth(column)
            assert header.sectionSizeHint(column) <= width, f"header of {column.name} is cut off"
            if column not in (AgentColumn.NAME, AgentColumn.WHERE, AgentColumn.TRUST):  # sized to contents
                assert panel.table.sizeHintForColumn(column) <= width, f"{column.name} is cut off"
    finally:
        runner.close()
        remove_translators(qapp, translators)


@pytest.mark.slow
def test_an_agent_found_on_the_lan_is_paired_with_its_code_then_revoked(
        qtbot: Any, desktop: Any, dialogs: Any, tmp_path: Path) -> None:
    """The whole approval a user makes in the window, against a real agent process behind CURVE:
    Pair… shows its fingerprint, a wrong code is asked again, the right one (from the agent's log)
    pairs it and the coordinator connects it; Revoke takes it back to 'Found, not paired'."""
    agent = start_agent(tmp_path, "--engine", "fake", "--slots", "1", name="reception", trust=False)
    try:
        core = desktop.core
        browser = use_lan_directory(core)
        panel = desktop.window.show_agents()
        opened: list[Any] = []
        panel.prompter.dialog_opened.connect(opened.append)
        browser.on_change("found", announcement(agent, "Reception PC"))

        def reception() -> Any:
            return next((row for row in panel.model.rows() if row.key == agent.agent_id), None)

        qtbot.waitUntil(lambda: reception() is not None and reception().unpaired, timeout=JOB_TIMEOUT_MS)
        select_agent(panel, agent.agent_id)
        assert panel.pair_button.isEnabled() and not panel.revoke_button.isEnabled()

        panel.pair_button.click()
        qtbot.waitUntil(lambda: len(opened) == 1, timeout=JOB_TIMEOUT_MS)
        dialog = opened[0]
        assert dialog.fingerprint.text() == fingerprint(agent.key)  # to compare with what the agent shows
        assert not dialog.retry_note.isVisible() and not dialog.pair_button.isEnabled()
        assert not panel.pair_button.isEnabled()  # one pairing at a time
        right = CODE_RE.findall(agent.wait_for_log("PAIRING CODE"))[-1]
        wrong = f"{(int(right.replace('-', '')) + 1) % 10**6:06d}"
        qtbot.keyClicks(dialog.code_edit, wrong)
        assert dialog.pair_button.isEnabled()
        dialog.pair_button.click()

        qtbot.waitUntil(lambda: len(opened) == 2, timeout=JOB_TIMEOUT_MS)  # asked again, the same code
        again = opened[1]
        assert again.retry_note.isVisibleTo(again)
        qtbot.keyClicks(again.code_edit, right)
        again.pair_button.click()

        qtbot.waitUntil(lambda: reception() is not None and reception().ready, timeout=JOB_TIMEOUT_MS)
        assert "Paired with" in panel.message.text()
        assert core.agents.trusted()[0].public_key == agent.key.decode()
        assert any(link.agent_id == agent.agent_id and link.ready for link in core.coordinator.agents())
        row = reception()
        assert row.trusted and not row.unpaired

        select_agent(panel, agent.agent_id)
        assert panel.revoke_button.isEnabled() and not panel.pair_button.isEnabled()
        panel.revoke_button.click()
        assert row.name in dialogs.questions[-1][1]  # asked first
        qtbot.waitUntil(lambda: reception() is not None and reception().unpaired, timeout=JOB_TIMEOUT_MS)
        assert "no longer trusted" in panel.message.text() and core.agents.trusted() == []
        qtbot.waitUntil(lambda: all(link.agent_id != agent.agent_id for link in core.coordinator.agents()),
                        timeout=JOB_TIMEOUT_MS)
        core.agents.stop()
        panel.close()
    finally:
        agent.kill()


@pytest.mark.slow
def test_an_agent_added_by_its_key_that_does_not_trust_this_app_is_paired_from_the_window(
        qtbot: Any, desktop: Any, tmp_path: Path) -> None:
    """Typing an agent's key approves it on this side only: the agent refuses the app until they are
    paired. The row says so, Pair… uses the key recorded for the address; closing the code dialog
    gives up that try and leaves nothing half done."""
    agent = start_agent(tmp_path, "--engine", "fake", "--slots", "1", name="hall", trust=False)
    try:
        core = desktop.core
        address = agent.endpoint.removeprefix("tcp://")
        panel = desktop.window.show_agents()
        opened: list[Any] = []
        panel.prompter.dialog_opened.connect(opened.append)
        panel.address_edit.setText(address)
        panel.key_edit.setText(agent.key.decode())
        panel.add_button.click()

        def hall() -> Any:
            return next((row for row in panel.model.rows() if row.address == address), None)

        qtbot.waitUntil(lambda: hall() is not None and hall().refused, timeout=JOB_TIMEOUT_MS)
        shown = panel.table.model()
        index = next(shown.index(r, 0) for r in range(shown.rowCount())
                     if shown.index(r, 0).data(AGENT_KEY_ROLE) == hall().key)
        assert shown.index(index.row(), AgentColumn.STATE).data() == "Not paired"
        panel.table.selectRow(index.row())
        assert panel.pair_button.isEnabled() and can_pair(hall())

        panel.pair_button.click()  # the user changes their mind: the dialog is closed
        qtbot.waitUntil(lambda: len(opened) == 1, timeout=JOB_TIMEOUT_MS)
        assert opened[0].fingerprint.text() == fingerprint(agent.key)
        opened[0].reject()
        qtbot.waitUntil(lambda: "cancelled" in panel.message.text(), timeout=JOB_TIMEOUT_MS)
        assert panel.pair_button.isEnabled() and hall().refused  # nothing changed; a new try can start

        panel.pair_button.click()
        qtbot.waitUntil(lambda: len(opened) == 2, timeout=JOB_TIMEOUT_MS)
        qtbot.keyClicks(opened[1].code_edit, CODE_RE.findall(agent.wait_for_log("PAIRING CODE", count=2))[-1])
        opened[1].pair_button.click()
        qtbot.waitUntil(lambda: hall() is not None and hall().ready, timeout=JOB_TIMEOUT_MS)
        assert not hall().refused and core.agents.manual() == [address]
        panel.close()
    finally:
        agent.kill()


def select_agent(panel: AgentsPanel, key: str) -> None:
    """Select the row of the agent ``key`` (its id), as a click on it would."""
    shown = panel.table.model()
    panel.table.selectRow(next(r for r in range(shown.rowCount()) if shown.index(r, 0).data(AGENT_KEY_ROLE) == key))
