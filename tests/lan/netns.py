"""A small simulated office LAN made of Linux network namespaces, for tests and benchmarks.

One namespace holds a bridge (the office switch); every host is a namespace of
its own with one ``eth0`` joined to that bridge by a veth pair, and an address
in :data:`SUBNET`. Nothing is created in the caller's namespace (both ends of
each veth are made directly inside their namespaces), so several LANs can exist
side by side and none of their traffic can leave them::

    with OfficeLan(["coordinator", "pc1", "pc2"]) as lan:
        agent = lan.start("pc1", ["sttdesk-agent", "--port", "7878"], log_path=...)
        lan.cut("pc1")        # pull pc1's cable at the switch
        lan.restore("pc1")
        lan.delay("pc2", 5)   # tc netem: 5 ms more on each packet pc2 sends

Cleanup is guaranteed: leaving the ``with`` block (normally, by an exception,
or by Ctrl-C) stops every process started here and deletes every namespace;
an ``atexit`` hook catches a forgotten ``close()``, and namespaces left behind
by a killed run are swept on the next start (their names carry the creating
process id). Every external command runs with a timeout.

:func:`unavailable_reason` says why the LAN cannot be built here (not root, no
``ip netns``); tests skip with that reason.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

log = logging.getLogger(__name__)

#: Private range the hosts' addresses come from (one /24 per LAN; each LAN is isolated).
SUBNET = ipaddress.ip_network("10.213.0.0/24")
#: Prefix of every namespace made here: ``sttlan-<pid>-<lan>-<role>``.
NAMESPACE_PREFIX = "sttlan-"
#: The host's interface name inside its namespace.
HOST_INTERFACE = "eth0"
#: Bridge name inside the switch namespace.
BRIDGE = "br0"
#: Longest any one ``ip``/``tc`` command may take (seconds).
COMMAND_TIMEOUT = 10.0
#: How long a stopped process gets after SIGTERM before SIGKILL (seconds).
STOP_GRACE_SECONDS = 10.0
#: How long to wait for a host's address to become usable (duplicate address detection etc.).
LINK_UP_TIMEOUT = 10.0

_lan_counter = 0
_counter_lock = threading.Lock()


class LanError(RuntimeError):
    """Building or changing the simulated LAN failed (the command and its output are in the message)."""


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (run the LAN tests as root)"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    probe = f"{NAMESPACE_PREFIX}{os.getpid()}-probe"
    try:
        _ip("netns", "add", probe)
    except (LanError, OSError) as exc:
        return f"'ip netns add' does not work here: {exc}"
    try:
        _ip("netns", "del", probe)
    except LanError:
        pass
    return None


def netem_available() -> bool:
    """Whether ``tc`` is installed (the netem qdisc may still be missing from the kernel)."""
    return shutil.which("tc") is not None


def _run(argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT, check: bool = True) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LanError(f"{' '.join(argv)} took more than {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        raise LanError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _ip(*args: str, check: bool = True) -> str:
    return _run(["ip", *args], check=check)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_namespaces() -> list[str]:
    """Delete namespaces a killed earlier run left behind (their creator process is gone)."""
    removed = []
    for line in _ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(NAMESPACE_PREFIX):
            continue
        pid_text = name[len(NAMESPACE_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            _kill_namespace_processes(name)
            _ip("netns", "del", name, check=False)
            removed.append(name)
    if removed:
        log.info("removed %d stale namespace(s): %s", len(removed), ", ".join(removed))
    return removed


def _kill_namespace_processes(namespace: str) -> None:
    """SIGKILL whatever still runs inside ``namespace`` (it keeps the namespace alive otherwise)."""
    for pid in _ip("netns", "pids", namespace, check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


@dataclass
class Host:
    """One simulated PC: a namespace with ``eth0`` on the office bridge."""

    #: The name the test gave it ("coordinator", "pc1", ...).
    name: str
    #: The network namespace it lives in.
    namespace: str
    #: Its IPv4 address on the LAN.
    address: str
    #: The bridge-side end of its cable, inside the switch namespace.
    port: str
    #: Whether its cable is plugged in (see :meth:`OfficeLan.cut`).
    linked: bool = True


@dataclass
class LanProcess:
    """A process started inside a host's namespace."""

    host: Host
    process: subprocess.Popen[Any]
    #: Where its stdout and stderr go (None when the caller took the pipes).
    log_path: Path | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def log(self) -> str:
        """What it wrote so far (empty without a log file)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, *, timeout: float, count: int = 1) -> str:
        """Wait until ``text`` appears ``count`` times in the log; raises TimeoutError with the log."""
        deadline = time.monotonic() + timeout
        while True:
            content = self.log()
            if content.count(text) >= count:
                return content
            if self.process.poll() is not None:
                raise LanError(f"{self.host.name}: process ended ({self.process.returncode}) "
                               f"before logging {text!r}:\n{content[-4000:]}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.host.name}: {text!r} not logged within {timeout:.0f} s:\n"
                                   f"{content[-4000:]}")
            time.sleep(0.1)

    def stop(self, *, sig: int = signal.SIGTERM, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """Send ``sig``, wait up to ``grace`` seconds, then SIGKILL; returns the exit code."""
        proc = self.process
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    log.warning("%s: process %d did not die", self.host.name, proc.pid)
            except ProcessLookupError:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return proc.returncode


class OfficeLan:
    """Hosts in network namespaces joined by one bridge; see the module docstring."""

    def __init__(self, hosts: Sequence[str] = (), *, subnet: ipaddress.IPv4Network = SUBNET) -> None:
        global _lan_counter
        with _counter_lock:
            _lan_counter += 1
            number = _lan_counter
        self._tag = f"{NAMESPACE_PREFIX}{os.getpid()}-{number}"
        self._subnet = subnet
        self._free_addresses = iter(subnet.hosts())
        self.switch = f"{self._tag}-switch"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._processes: list[LanProcess] = []
        self._closed = False
        self._initial = list(hosts)
        self._lock = threading.Lock()

    # --- building and tearing down -----------------------------------------------

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> Self:
        """Create the switch and the hosts given to the constructor."""
        reason = unavailable_reason()
        if reason:
            raise LanError(reason)
        sweep_stale_namespaces()
        atexit.register(self.close)
        try:
            self._add_namespace(self.switch)
            _ip("-n", self.switch, "link", "add", BRIDGE, "type", "bridge")
            # Forward at once: a bridge port waits 15 s in "listening" by default.
            _ip("-n", self.switch, "link", "set", BRIDGE, "type", "bridge", "forward_delay", "0")
            _ip("-n", self.switch, "link", "set", BRIDGE, "up")
            for name in self._initial:
                self.add_host(name)
        except BaseException:
            self.close()
            raise
        return self

    def add_host(self, name: str) -> Host:
        """A new PC on the LAN, with the next free address."""
        if name in self.hosts:
            raise ValueError(f"host {name!r} exists already")
        index = len(self.hosts)
        namespace = f"{self._tag}-h{index}"
        self._add_namespace(namespace)
        address = str(next(self._free_addresses))
        port = f"p{index}"
        # Both ends are created in their own namespaces: nothing appears in the caller's.
        _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", HOST_INTERFACE,
            "netns", namespace)
        _ip("-n", self.switch, "link", "set", port, "master", BRIDGE)
        _ip("-n", self.switch, "link", "set", port, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "addr", "add", f"{address}/{self._subnet.prefixlen}", "dev", HOST_INTERFACE)
        _ip("-n", namespace, "link", "set", HOST_INTERFACE, "up")
        # Multicast (mDNS) leaves through the LAN interface, as on a real PC's default route.
        _ip("-n", namespace, "route", "add", "224.0.0.0/4", "dev", HOST_INTERFACE)
        host = Host(name=name, namespace=namespace, address=address, port=port)
        self.hosts[name] = host
        self._wait_link_up(host)
        return host

    def _add_namespace(self, namespace: str) -> None:
        _ip("netns", "add", namespace)
        self._namespaces.append(namespace)

    def _wait_link_up(self, host: Host) -> None:
        deadline = time.monotonic() + LINK_UP_TIMEOUT
        while time.monotonic() < deadline:
            state = _ip("-n", host.namespace, "-o", "link", "show", HOST_INTERFACE)
            if "LOWER_UP" in state:
                return
            time.sleep(0.05)
        raise LanError(f"{host.name}: {HOST_INTERFACE} did not come up within {LINK_UP_TIMEOUT:.0f} s")

    def close(self) -> None:
        """Stop every process started here and delete every namespace (safe to call twice)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for proc in reversed(self._processes):
            try:
                proc.stop(grace=STOP_GRACE_SECONDS / 2)
            except Exception:
                log.exception("could not stop a process on %s", proc.host.name)
        for namespace in reversed(self._namespaces):
            try:
                _kill_namespace_processes(namespace)
                _ip("netns", "del", namespace, check=False)
            except Exception:
                log.exception("could not delete namespace %s", namespace)
        atexit.unregister(self.close)

    # --- using it ---------------------------------------------------------------------

    def host(self, name: str) -> Host:
        return self.hosts[name]

    def command(self, name: str, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped to run inside host ``name``'s namespace."""
        return ["ip", "netns", "exec", self.hosts[name].namespace, *argv]

    def start(self, name: str, argv: Sequence[str], *, log_path: Path | None = None,
              env: dict[str, str] | None = None, **popen: Any) -> LanProcess:
        """Start ``argv`` inside host ``name``; its output goes to ``log_path`` when given.

        Without ``log_path`` the caller's ``popen`` keywords (``stdout=subprocess.PIPE``...) apply.
        The process is stopped by :meth:`close` if it still runs then.
        """
        host = self.hosts[name]
        log_file = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = open(log_path, "wb")  # noqa: SIM115 - closed by LanProcess.stop
            popen.setdefault("stdout", log_file)
            popen.setdefault("stderr", subprocess.STDOUT)
        popen.setdefault("stdin", subprocess.DEVNULL)
        try:
            process = subprocess.Popen(self.command(name, argv), env=env, **popen)
        except BaseException:
            if log_file is not None:
                log_file.close()
            raise
        started = LanProcess(host=host, process=process, log_path=log_path, _log_file=log_file)
        self._processes.append(started)
        return started

    def run(self, name: str, argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT,
            check: bool = True) -> str:
        """Run ``argv`` inside host ``name`` to its end (bounded by ``timeout``); returns stdout."""
        return _run(self.command(name, argv), timeout=timeout, check=check)

    def cut(self, name: str) -> None:
        """Pull host ``name``'s cable at the switch: nothing goes in or out until :meth:`restore`."""
        host = self.hosts[name]
        _ip("-n", self.switch, "link", "set", host.port, "down")
        host.linked = False

    def restore(self, name: str) -> None:
        """Plug host ``name``'s cable back in."""
        host = self.hosts[name]
        _ip("-n", self.switch, "link", "set", host.port, "up")
        host.linked = True
        self._wait_link_up(host)

    def delay(self, name: str, milliseconds: float, *, jitter_ms: float = 0.0) -> None:
        """Delay every packet host ``name`` sends by ``milliseconds`` (tc netem; 0 removes it)."""
        host = self.hosts[name]
        if milliseconds <= 0:
            _run(["tc", "-n", host.namespace, "qdisc", "del", "dev", HOST_INTERFACE, "root"], check=False)
            return
        args = ["delay", f"{milliseconds}ms"]
        if jitter_ms > 0:
            args.append(f"{jitter_ms}ms")
        _run(["tc", "-n", host.namespace, "qdisc", "replace", "dev", HOST_INTERFACE, "root", "netem", *args])

    def add_address(self, name: str) -> str:
        """Give host ``name`` one more address on the LAN (a multi-homed PC); returns it."""
        host = self.hosts[name]
        address = str(next(self._free_addresses))
        _ip("-n", host.namespace, "addr", "add", f"{address}/{self._subnet.prefixlen}", "dev", HOST_INTERFACE)
        return address

    def readdress(self, name: str) -> str:
        """Move host ``name`` to a new address (a DHCP lease that changed); returns it."""
        host = self.hosts[name]
        address = str(next(self._free_addresses))
        # Old one first: deleting a primary address takes its secondaries with it.
        _ip("-n", host.namespace, "addr", "del", f"{host.address}/{self._subnet.prefixlen}", "dev",
            HOST_INTERFACE)
        _ip("-n", host.namespace, "addr", "add", f"{address}/{self._subnet.prefixlen}", "dev", HOST_INTERFACE)
        host.address = address
        return address

    def connects(self, source: str, target: str, port: int, *, timeout: float = 3.0) -> bool:
        """Whether host ``source`` can open a TCP connection to host ``target``'s ``port`` (bounded)."""
        code = ("import socket, sys\n"
                "try:\n"
                f"    socket.create_connection(({self.hosts[target].address!r}, {port}), timeout={timeout}).close()\n"
                "except OSError:\n"
                "    sys.exit(1)\n")
        try:
            done = subprocess.run(self.command(source, [sys.executable, "-c", code]), capture_output=True,
                                  timeout=timeout + COMMAND_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0
