"""The agents window: the local agent of a real core, LAN agents the store remembers, adding by address."""

from __future__ import annotations

from typing import Any

import pytest

from sttdesk.cluster.coordinator import AgentStatus
from sttdesk.domain.records import AgentRecord
from sttdesk.gui.agents_model import AgentColumn, merge_agents
from sttdesk.gui.agents_panel import agent_endpoint
from sttdesk.gui.errors import InvalidAgentAddressError

from .conftest import JOB_TIMEOUT_MS


def record(agent_id: str, **changes: Any) -> AgentRecord:
    values: dict[str, Any] = {
        "id": agent_id, "name": agent_id, "host": "10.0.0.5", "endpoint": "tcp://10.0.0.5:7878",
        "public_key": None, "fingerprint": "AB:CD:EF", "trusted": False, "local": False, "slots": 2, "threads": 1,
        "models": ("base-q8_0",), "cpu": "", "version": "", "first_seen": 1.0, "last_seen": 100.0,
        "chunks_done": 7, "audio_seconds": 200.0, "busy_seconds": 50.0, "crashes": 0,
    }
    values.update(changes)
    return AgentRecord(**values)


def test_addresses_become_endpoints_and_bad_ones_are_refused() -> None:
    assert agent_endpoint("192.168.1.20:7000") == "tcp://192.168.1.20:7000"
    assert agent_endpoint(" office-pc ") == "tcp://office-pc:7878"
    assert agent_endpoint("tcp://[fe80::1]:7001") == "tcp://[fe80::1]:7001"
    for bad in ("", "host:99999", "two words", "host:port", "http://pc:80"):
        with pytest.raises(InvalidAgentAddressError) as caught:
            agent_endpoint(bad)
        assert caught.value.code == "invalid_agent_address"
        assert "host:port" in caught.value.user_message("en") and "máy:cổng" in caught.value.user_message("vi")


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
    assert "is not an agent address" in panel.summary.text()
    assert len(desktop.core.coordinator.agents()) == 1

    panel.address_edit.setText("127.0.0.1:9")  # nobody listens there: it stays "connecting"
    panel.add_button.click()
    qtbot.waitUntil(lambda: any(row.endpoint == "tcp://127.0.0.1:9" for row in panel.model.rows()),
                    timeout=JOB_TIMEOUT_MS)
    added = next(row for row in panel.model.rows() if row.endpoint == "tcp://127.0.0.1:9")
    assert added.connected and not added.ready
    assert panel.address_edit.text() == ""
    panel.close()
