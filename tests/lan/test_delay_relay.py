"""The delaying relay that stands in for tc netem: bytes arrive whole, in order, and late."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

DELAY_MS = 60.0


@pytest.fixture
def echo_server():
    """A loopback TCP echo server; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def relay(echo_server: int):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.lan.delay_relay", "--listen", "127.0.0.1:0",
         "--to", f"127.0.0.1:{echo_server}", "--delay-ms", str(DELAY_MS)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("relaying on 127.0.0.1:"), line
        yield int(line.rsplit(":", 1)[1])
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0  # SIGTERM is a clean stop


def _receive(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(65536, size - got))
        assert chunk, "the relay closed the connection early"
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def test_bytes_come_back_whole_in_order_and_no_sooner_than_the_delay_each_way(relay: int) -> None:
    payload = os.urandom(4 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", relay), timeout=60) as sock:
        started = time.monotonic()
        sock.sendall(b"ping")
        assert _receive(sock, 4) == b"ping"
        round_trip = time.monotonic() - started
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        echoed = _receive(sock, len(payload))
        sender.join(60)
    # Held back once on the way there and once on the way back: a lower bound, which load can only raise.
    assert round_trip >= 2 * DELAY_MS / 1000.0
    assert echoed == payload
