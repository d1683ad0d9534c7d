"""The namespace LAN harness itself: hosts reach each other, cuts cut, everything is cleaned up."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from .netns import NAMESPACE_PREFIX, LanError, OfficeLan, netem_available

pytestmark = pytest.mark.usefixtures("needs_netns")

PORT = 9321
LISTEN_TIMEOUT = 10.0
# A TCP server that accepts forever and prints when it listens.
SERVER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    f"s.bind(('0.0.0.0', {PORT})); s.listen(); print('listening', flush=True)\n"
    "while True: s.accept()[0].close()\n"
)


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10,
                         check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def start_server(lan: OfficeLan, host: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = lan.start(host, [sys.executable, "-c", SERVER], log_path=tmp_path / f"{host}.log")
    proc.wait_for_log("listening", timeout=LISTEN_TIMEOUT)
    return proc


def test_hosts_reach_each_other_and_a_cut_link_stops_traffic(tmp_path: Path) -> None:
    with OfficeLan(["a", "b", "c"]) as lan:
        addresses = {h.address for h in lan.hosts.values()}
        assert len(addresses) == 3 and all(a.startswith("10.213.0.") for a in addresses)
        start_server(lan, "b", tmp_path)
        assert lan.connects("a", "b", PORT)
        assert lan.connects("c", "b", PORT)
        lan.cut("b")
        assert not lan.connects("a", "b", PORT, timeout=1.0)
        lan.restore("b")
        assert lan.connects("a", "b", PORT)
        # Nothing of the LAN is visible from the caller's namespace.
        assert lan.hosts["b"].address not in subprocess.run(["ip", "-o", "addr"], capture_output=True,
                                                            text=True, timeout=10, check=False).stdout


def test_readdress_moves_a_host(tmp_path: Path) -> None:
    with OfficeLan(["a", "b"]) as lan:
        start_server(lan, "b", tmp_path)
        old = lan.hosts["b"].address
        new = lan.readdress("b")
        assert new != old
        assert lan.connects("a", "b", PORT)


def test_delay_adds_a_netem_qdisc(tmp_path: Path) -> None:
    if not netem_available():
        pytest.skip("tc is not installed")
    with OfficeLan(["a", "b"]) as lan:
        start_server(lan, "b", tmp_path)
        try:
            lan.delay("a", 5)
        except LanError as exc:  # the netem module may be missing from this kernel
            pytest.skip(f"tc netem unavailable: {exc}")
        qdisc = lan.run("a", ["tc", "qdisc", "show", "dev", "eth0"])
        assert "netem" in qdisc and "delay 5" in qdisc
        assert lan.connects("a", "b", PORT)
        lan.delay("a", 0)
        assert "netem" not in lan.run("a", ["tc", "qdisc", "show", "dev", "eth0"])


def test_everything_is_removed_even_when_the_test_fails(tmp_path: Path) -> None:
    before = namespaces()
    procs = []
    with pytest.raises(RuntimeError, match="boom"), OfficeLan(["a", "b"]) as lan:
        procs.append(start_server(lan, "a", tmp_path))
        assert len(namespaces() - before) == 3  # switch + two hosts
        raise RuntimeError("boom")
    assert procs[0].process.poll() is not None
    assert not {n for n in namespaces() - before if n.startswith(NAMESPACE_PREFIX)}


def test_stale_namespaces_of_a_killed_run_are_swept(tmp_path: Path) -> None:
    # A child process builds a LAN and is killed with SIGKILL: no cleanup code runs in it.
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from tests.lan.netns import OfficeLan\n"
        "lan = OfficeLan(['x']).open(); print('built', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "built"
        left = {n for n in namespaces() if n.startswith(f"{NAMESPACE_PREFIX}{child.pid}-")}
        assert len(left) == 2
    finally:
        child.kill()
        child.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and namespaces() & left:
        with OfficeLan([]):
            pass  # opening a LAN sweeps namespaces whose creator is gone
    assert not namespaces() & left
