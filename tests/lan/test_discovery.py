"""Zeroconf between namespaces: agents announce, a browser on another host follows them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sttdesk.agent.status import describe, read_status

from .lanlib import AGENT_PORT, JsonLines, child_env, start_agent, start_json_child
from .netns import OfficeLan

pytestmark = pytest.mark.usefixtures("needs_netns")

#: Announcements travel by multicast with zeroconf's own probing and backoff.
DISCOVERY_TIMEOUT = 30.0


def start_browser(lan: OfficeLan, host: str, tmp: Path) -> JsonLines:
    _, out = start_json_child(lan, host, [sys.executable, "-m", "tests.lan.browse"],
                              env=child_env(tmp / f"{host}-browser"), log_path=tmp / f"{host}-browser.log")
    out.wait_for(lambda m: m.get("ready") is True, timeout=30, what="browser start")
    return out


def change(kind: str, **fields: object):  # type: ignore[no-untyped-def]
    def match(line: dict) -> bool:  # type: ignore[type-arg]
        agent = line.get("agent", {})
        return line.get("change") == kind and all(agent.get(k) == v for k, v in fields.items())

    return match


def test_agents_with_the_same_name_are_both_found_and_a_stopped_one_withdraws(tmp_path: Path) -> None:
    with OfficeLan(["office", "pc1", "pc2"]) as lan:
        browser = start_browser(lan, "office", tmp_path)
        one = start_agent(lan, "pc1", tmp_path, "--engine", "fake", name="reception", agent_id="agent-one")
        first = browser.wait_for(change("found", agent_id="agent-one"), timeout=DISCOVERY_TIMEOUT,
                                 what="pc1's announcement")["agent"]
        two = start_agent(lan, "pc2", tmp_path, "--engine", "fake", name="reception", agent_id="agent-two")
        second = browser.wait_for(change("found", agent_id="agent-two"), timeout=DISCOVERY_TIMEOUT,
                                  what="pc2's announcement")["agent"]

        # The clash is settled with a unique instance name; the TXT record keeps the human name.
        assert first["instance"] == "reception"
        assert second["instance"] != "reception" and second["instance"].startswith("reception")
        assert first["name"] == second["name"] == "reception"
        assert first["endpoint"] == f"tcp://{lan.host('pc1').address}:{AGENT_PORT}"
        assert second["endpoint"] == f"tcp://{lan.host('pc2').address}:{AGENT_PORT}"
        for card in (first, second):
            assert card["protocol"] == 1 and card["slots"] >= 1 and card["threads"] == 1
            assert card["models"] == ["fake"] and card["cpu"]
            assert len(card["public_key"]) == 40 and len(card["fingerprint"].split("-")) == 5
        assert first["fingerprint"] != second["fingerprint"]
        two.wait_for_log("another agent on the LAN is called 'reception'", timeout=10)

        # SIGTERM: the announcement is withdrawn (a goodbye, not a TTL expiry) and the agent exits 0.
        assert one.stop(sig=signal.SIGTERM, grace=30) == 0
        browser.wait_for(change("lost", agent_id="agent-one"), timeout=DISCOVERY_TIMEOUT, what="pc1's goodbye")
        assert "zeroconf announcement withdrawn" in one.log()


def test_a_restarted_agent_is_followed_to_its_new_address(tmp_path: Path) -> None:
    with OfficeLan(["office", "pc1"]) as lan:
        browser = start_browser(lan, "office", tmp_path)
        agent = start_agent(lan, "pc1", tmp_path, "--engine", "fake", agent_id="mover")
        before = browser.wait_for(change("found", agent_id="mover"), timeout=DISCOVERY_TIMEOUT,
                                  what="the first announcement")["agent"]
        assert agent.stop(grace=30) == 0
        new_address = lan.readdress("pc1")
        start_agent(lan, "pc1", tmp_path, "--engine", "fake", agent_id="mover", log_name="pc1-again")
        after = browser.wait_for(
            lambda m: m.get("change") in ("found", "updated") and m["agent"]["agent_id"] == "mover"
            and m["agent"]["addresses"] == [new_address],
            timeout=DISCOVERY_TIMEOUT, what="the announcement from the new address")["agent"]
        assert before["addresses"] != after["addresses"]
        assert after["endpoint"] == f"tcp://{new_address}:{AGENT_PORT}"


def test_interface_choice_multi_homing_and_status(tmp_path: Path) -> None:
    with OfficeLan(["office", "pc1"]) as lan:
        second = lan.add_address("pc1")
        browser = start_browser(lan, "office", tmp_path)
        agent = start_agent(lan, "pc1", tmp_path, "--engine", "fake", "--interface", second, agent_id="homed")
        card = browser.wait_for(change("found", agent_id="homed"), timeout=DISCOVERY_TIMEOUT,
                                what="the announcement")["agent"]
        # Only the chosen address is announced, and the agent listens there alone.
        assert card["addresses"] == [second]
        assert lan.connects("office", "pc1", AGENT_PORT) is False  # pc1's first address is not served
        data_dir = tmp_path / "pc1" / "data"
        deadline = time.monotonic() + 15  # the status file is rewritten every 2 s
        while True:
            running, lines = describe(read_status(data_dir))
            if running and "announced as" in "\n".join(lines) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert running, lines
        text = "\n".join(lines)
        assert f"tcp://{second}:{AGENT_PORT}" in text and "announced as 'pc1'" in text and second in text
        # The admin's command says the same, and exit code 0 means "running".
        done = subprocess.run([sys.executable, "-m", "sttdesk.agent.main", "status", "--data-dir", str(data_dir)],
                              capture_output=True, text=True, timeout=30, env=child_env(tmp_path / "x"),
                              check=False)
        assert done.returncode == 0 and "running" in done.stdout and second in done.stdout
        assert agent.stop(grace=30) == 0
        done = subprocess.run([sys.executable, "-m", "sttdesk.agent.main", "status", "--data-dir", str(data_dir)],
                              capture_output=True, text=True, timeout=30, env=child_env(tmp_path / "x"),
                              check=False)
        assert done.returncode == 3 and "not running" in done.stdout
