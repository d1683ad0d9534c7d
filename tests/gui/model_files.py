"""Real whisper.cpp model files for the model manager's tests, and a local HTTP server to install from."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np

from sttdesk.engine.ggml_format import GgmlHeader, GgmlWriter, expected_tensors, file_type, stored_ftype

#: whisper tiny's exact shape (so a catalog entry for tiny-q8_0 accepts the file).
TINY_Q8_HEADER = GgmlHeader(51865, 1500, 384, 6, 4, 448, 384, 6, 4, 80, stored_ftype(file_type("q8_0")))
#: A tiny custom shape: every tensor whisper.cpp expects, about 100 kB in all.
MINI_HEADER = GgmlHeader(64, 8, 32, 2, 1, 8, 32, 2, 1, 80, stored_ftype(file_type("f16")))


def write_model(path: Path, header: GgmlHeader = MINI_HEADER) -> Path:
    """A structurally valid ggml model file with zero weights."""
    path.parent.mkdir(parents=True, exist_ok=True)
    weight_type = header.file_type.weight_type
    tokens = [f"t{i}".encode() for i in range(min(header.n_vocab, 64))]
    with GgmlWriter(path, header, np.full((header.n_mels, 201), 0.01, np.float32), tokens) as writer:
        for spec in expected_tensors(header).values():
            kind = spec.storage_type(weight_type)
            shape = tuple(reversed(spec.ne))
            if kind.is_quantized:
                row_bytes = spec.ne[0] // kind.block_size * kind.block_bytes
                writer.add_tensor(spec.name, shape, kind, np.zeros((*shape[:-1], row_bytes), np.uint8))
            else:
                writer.add_tensor(spec.name, shape, kind, np.zeros(shape, np.float32))
    return path


class _Files(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    files: ClassVar[dict[str, bytes]] = {}
    #: Seconds to wait between blocks of 256 kB (a slow link, for cancelling mid-way).
    delay: ClassVar[float] = 0.0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0]) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        block = 256 * 1024
        try:
            for offset in range(start, len(data), block):
                self.wfile.write(data[offset:offset + block])
                if self.delay:
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cancelled


@contextmanager
def serve_files(files: dict[str, bytes], *, delay: float = 0.0) -> Iterator[str]:
    """Serve ``files`` (path → bytes) on loopback; yields the base URL."""
    _Files.files, _Files.delay = dict(files), delay
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
