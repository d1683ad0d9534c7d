"""A TCP relay between a coordinator and an agent that a test can slow down and cut.

The coordinator connects to the relay's port; the relay connects on to the agent.
``rate`` caps the bytes per second each way (so a transfer is still running
when the test cuts it); :meth:`Relay.cut` closes every connection and refuses
new ones, like a pulled cable, until :meth:`Relay.restore`.
"""

from __future__ import annotations

import socket
import threading
import time

#: Bytes moved per read.
BLOCK = 64 * 1024


class Relay:
    """Forwards 127.0.0.1:<port> to ``target`` (host, port) until closed."""

    def __init__(self, target: tuple[str, int], *, rate: float | None = None) -> None:
        self._target = target
        self._rate = rate
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        self._open.clear()
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
        self._open.set()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        started = time.monotonic()
        moved = 0
        try:
            while self._open.is_set():
                data = source.recv(BLOCK)
                if not data:
                    break
                sink.sendall(data)
                moved += len(data)
                if self._rate:
                    ahead = moved / self._rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
