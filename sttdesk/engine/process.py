"""The engine child process: one model loaded once, serving transcription requests.

whisper.cpp runs native code that can crash, run out of memory or hang. Inside
a child process none of that can take the caller down: :class:`EngineProcess`
turns each failure into a typed, transient error and starts a fresh child on
the next call.

=============================================  ==========================================
what happens in the child                      what the caller gets
=============================================  ==========================================
segfault, abort, ``os._exit``, killed          :class:`EngineCrashedError`
no reply within ``timeout`` (child is killed)  :class:`EngineTimeoutError`
MemoryError / ``std::bad_alloc``, allocation   :class:`EngineOutOfMemoryError`
failures, killed by the kernel's OOM killer
model missing, damaged, crashes while loading  :class:`ModelError` (permanent, remembered
                                               until the file changes: no retry loop)
bad audio or options                           their own permanent error; the child lives on
=============================================  ==========================================

The wire between parent and child is a Unix socket pair carrying frames of a
JSON header plus a raw payload (``FRAME_HEAD``). Audio travels as the raw bytes
of the float32 array, written once: for a 30 s chunk that is 1.9 MB and well
under a millisecond, so the engine costs the same as calling whisper.cpp
directly (see ``benchmarks/engine.py``). Nothing is pickled.

The child dies with its parent: it asks Linux for SIGKILL when the parent goes
(``PR_SET_PDEATHSIG``, only when started from the main thread, because Linux
ties that signal to the thread that forked), and a watchdog thread in the
child exits as soon as its parent process is gone. whisper_full releases the
GIL, so the watchdog runs even during a long transcription.
"""

from __future__ import annotations

import collections
import ctypes
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from ..domain.errors import SttdeskError
from ..domain.transcript import RecognitionResult
from ..launch import engine_child_command
from .backend import (
    Backend,
    ModelInfo,
    WhisperCppBackend,
    check_audio,
    check_model_file,
)
from .coverage import transcribe_covered
from .errors import (
    CorruptModelError,
    EngineCrashedError,
    EngineError,
    EngineOutOfMemoryError,
    EngineTimeoutError,
    ModelError,
)
from .options import DecodeOptions

log = logging.getLogger(__name__)
#: Lines the child writes to stderr (whisper.cpp, its Python logging) are re-logged here.
child_log = logging.getLogger("sttdesk.engine.child")

#: Seconds a fresh child may take to start Python and load its model.
DEFAULT_LOAD_TIMEOUT = 120.0
#: Seconds :meth:`EngineProcess.close` waits for the child to exit before killing it.
DEFAULT_CLOSE_GRACE = 5.0
#: whisper.cpp threads per engine: one thread per engine process, one process per spare core
#: degrades gracefully when another program takes a core (DESIGN.md §9).
DEFAULT_THREADS = 1
#: Seconds between the child's checks that its parent is still alive.
PARENT_CHECK_INTERVAL = 0.5

#: Frame: magic/version, header length, payload length; then the JSON header, then the payload.
FRAME_HEAD = struct.Struct("!4sIQ")
FRAME_MAGIC = b"STE1"
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: 4 GiB of float32 is over 18 hours of 16 kHz audio; anything larger is a corrupt frame.
MAX_PAYLOAD_BYTES = 4 * 1024**3

#: Exit code of a child that stopped because it ran out of memory (after replying).
EXIT_OUT_OF_MEMORY = 75
#: Exit code of a child whose model could not be loaded (after replying).
EXIT_LOAD_FAILED = 76
#: Exit code of a child whose parent went away.
EXIT_ORPHANED = 77

#: Words in a dying child's stderr that mean it ran out of memory.
_OOM_MARKERS = (
    "bad_alloc",
    "memoryerror",
    "out of memory",
    "cannot allocate memory",
    "failed to allocate",
    "insufficient memory",
)
_PR_SET_PDEATHSIG = 1
_STDERR_TAIL_LINES = 40


class ProtocolError(EngineError):
    """A frame between the engine and its child was malformed."""

    code = "engine_protocol"


# --- framing ----------------------------------------------------------------------


def send_frame(sock: socket.socket, header: dict[str, Any], payload: Any = b"") -> None:
    """Write one frame: the JSON ``header`` and the raw bytes of ``payload`` (any buffer)."""
    body = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    view = memoryview(payload).cast("B")
    sock.sendall(FRAME_HEAD.pack(FRAME_MAGIC, len(body), view.nbytes) + body)
    if view.nbytes:
        sock.sendall(view)


def _recv_exact(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
        count = sock.recv_into(view[received:])
        if count == 0:
            raise EOFError("the peer closed the connection")
        received += count
    return buffer


def recv_frame(sock: socket.socket, deadline: float | None = None) -> tuple[dict[str, Any], bytearray]:
    """Read one frame; ``EOFError`` when the peer is gone, ``TimeoutError`` past ``deadline``.

    ``deadline`` is a :func:`time.monotonic` value; None waits for ever.
    """
    try:
        magic, header_size, payload_size = FRAME_HEAD.unpack(_recv_exact(sock, FRAME_HEAD.size, deadline))
        if magic != FRAME_MAGIC:
            raise ProtocolError(f"bad frame magic {magic!r}")
        if header_size > MAX_HEADER_BYTES or payload_size > MAX_PAYLOAD_BYTES:
            raise ProtocolError(f"frame too large ({header_size} + {payload_size} bytes)")
        header = json.loads(_recv_exact(sock, header_size, deadline))
        payload = _recv_exact(sock, payload_size, deadline) if payload_size else bytearray()
    finally:
        if deadline is not None:
            sock.settimeout(None)
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not a JSON object")
    return header, payload


# --- errors across the process boundary -----------------------------------------------


def error_to_wire(error: SttdeskError) -> dict[str, Any]:
    """A typed error as plain JSON: its code, detail and message fields."""
    fields = {
        key: value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
        for key, value in error.fields.items()
        if key != "detail"
    }
    return {"code": error.code, "detail": error.detail, "fields": fields}


def _error_classes() -> dict[str, type[SttdeskError]]:
    """Every error class by its code; a class that sets its own code wins over inheritors."""
    found: dict[str, type[SttdeskError]] = {}
    pending: list[type[SttdeskError]] = [SttdeskError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__ or cls.code not in found:
            found[cls.code] = cls
    return found


def error_from_wire(data: Any) -> SttdeskError:
    """The typed error :func:`error_to_wire` described (a crash error if it is unreadable)."""
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return EngineCrashedError("the engine sent an unreadable error")
    cls = _error_classes().get(data["code"])
    detail = str(data.get("detail", ""))
    fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
    if cls is None:
        return EngineError(detail or data["code"])
    try:
        return cls(detail, **{str(k): v for k, v in fields.items()})
    except TypeError:
        return cls(detail)


# --- out-of-memory evidence -------------------------------------------------------------


def oom_kill_count() -> int:
    """How many processes the kernel's OOM killer has killed (system and our cgroup), or 0.

    Read before and after a request: if the count grew while the child died of
    SIGKILL, the OOM killer took it.
    """
    total = 0
    for path, key in (
        ("/proc/vmstat", "oom_kill"),
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                total += int(value)
    return total


def _looks_like_oom(lines: collections.abc.Iterable[str]) -> bool:
    return any(marker in line.lower() for line in lines for marker in _OOM_MARKERS)


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


# --- the parent side --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ModelStamp:
    """Identity of a model file on disk, so a remembered load failure expires when it changes."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> _ModelStamp | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        return cls(stat.st_size, stat.st_mtime_ns)


class _Child:
    """One running child process, its socket and the tail of its stderr."""

    def __init__(self, popen: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.popen = popen
        self.sock = sock
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self.killed_by_us = False
        self._drain = threading.Thread(target=self._drain_stderr, name=f"engine-{popen.pid}-stderr", daemon=True)
        self._drain.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _drain_stderr(self) -> None:
        assert self.popen.stderr is not None
        for raw in iter(self.popen.stderr.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self.stderr_tail.append(line)
                child_log.debug("[%d] %s", self.popen.pid, line)

    def kill(self) -> None:
        self.killed_by_us = True
        if self.popen.poll() is None:
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass

    def reap(self, timeout: float = DEFAULT_CLOSE_GRACE) -> int | None:
        """Wait for the child to exit (killing it if it does not) and release its resources."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.popen.wait()
        # The stderr reader ends at EOF; wait for it so the tail is complete.
        self._drain.join(timeout=2.0)
        self.sock.close()
        if self.popen.stderr is not None:
            self.popen.stderr.close()
        return self.popen.returncode


def _kill_leftover(popen: subprocess.Popen[bytes]) -> None:
    """Last resort for a child whose EngineProcess was never closed: kill and reap it."""
    if popen.poll() is None:
        popen.kill()
        popen.wait()


class EngineProcess:
    """A speech recognition backend running in a child process, restarted after failures.

    The model is loaded once per child, on :meth:`start` or on the first
    :meth:`transcribe`. Calls are serialised (one request at a time); use one
    EngineProcess per core to work in parallel.

    ``memory_limit_bytes`` caps the child's address space (RLIMIT_AS): a
    request that needs more fails with :class:`EngineOutOfMemoryError` instead
    of pushing the machine into swap or the OOM killer. It counts address
    space, not resident memory: a child holding base has about 1 GB of it
    mapped (thread stacks and allocator arenas included) while 0.3 GB is
    resident, so leave room above what the loaded model maps.

    ``backend`` names the backend the child runs: "whispercpp", or
    "package.module:factory" for any callable returning a :class:`Backend`.
    """

    def __init__(
        self,
        model_path: Path | str,
        *,
        threads: int = DEFAULT_THREADS,
        backend: str = WhisperCppBackend.name,
        memory_limit_bytes: int | None = None,
        load_timeout: float = DEFAULT_LOAD_TIMEOUT,
    ) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive whole number, not {threads!r}")
        if memory_limit_bytes is not None and memory_limit_bytes <= 0:
            raise ValueError("memory_limit_bytes must be positive")
        self.model_path = Path(model_path)
        self.threads = threads
        self.backend = backend
        self.memory_limit_bytes = memory_limit_bytes
        self.load_timeout = load_timeout
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._model: ModelInfo | None = None
        self._load_failure: tuple[_ModelStamp | None, ModelError] | None = None
        self._closed = False
        self._busy = False
        #: How many children have been started (1 after the first start, more after failures).
        self.starts = 0

    # --- public API ---

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None when no child runs."""
        child = self._child
        return child.pid if child is not None and child.popen.poll() is None else None

    @property
    def model(self) -> ModelInfo | None:
        """The model the current child loaded, or None before the first start."""
        return self._model

    def start(self) -> ModelInfo:
        """Start the child and load the model now (otherwise the first call does it)."""
        with self._lock:
            self._ensure_open()
            self._ensure_child()
            assert self._model is not None
            return self._model

    def transcribe(
        self, audio: np.ndarray, options: DecodeOptions | None = None, *, timeout: float
    ) -> RecognitionResult:
        """Transcribe 16 kHz mono float32 ``audio``; times are relative to its start.

        ``timeout`` is the most seconds the transcription itself may take (a
        fresh child's model load has its own ``load_timeout``).
        """
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        samples = check_audio(audio)
        options = options or DecodeOptions()
        with self._lock:
            self._ensure_open()
            started = time.perf_counter()
            load_seconds = self._ensure_child()
            child = self._child
            assert child is not None
            self._busy = True
            try:
                result = self._request(child, samples, options, timeout)
            finally:
                self._busy = False
            timings = dict(result.timings)
            if load_seconds is not None:
                timings["load"] = load_seconds
            timings["engine"] = time.perf_counter() - started
            return RecognitionResult(
                segments=result.segments,
                language=result.language,
                language_probability=result.language_probability,
                audio_seconds=result.audio_seconds,
                timings=timings,
            )

    def close(self, *, grace: float = DEFAULT_CLOSE_GRACE) -> None:
        """Stop the child (asking first, killing it after ``grace`` seconds). Idempotent.

        Called while a transcription runs in another thread, it kills the
        child at once and that call fails with :class:`EngineCrashedError`.
        """
        self._closed = True
        child = self._child
        if child is not None and self._busy:
            child.kill()
        with self._lock:
            child, self._child = self._child, None
            if child is None:
                return
            if child.popen.poll() is None:
                try:
                    send_frame(child.sock, {"op": "close"})
                except OSError:
                    child.kill()
            child.reap(timeout=grace)
            log.debug("Engine child %d stopped (%s)", child.pid, _describe_exit(child.popen.returncode))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- internals ---

    def _ensure_open(self) -> None:
        if self._closed:
            raise EngineError("the engine has been closed")

    def _ensure_child(self) -> float | None:
        """Start a child if none is running; return its load time if one was started."""
        if self._child is not None and self._child.popen.poll() is None:
            return None
        if self._child is not None:
            self._child.reap()
            self._child = None
        if self._load_failure is not None:
            stamp, error = self._load_failure
            if stamp == _ModelStamp.of(self.model_path):
                raise error
            self._load_failure = None
        try:
            info = self._spawn()
        except ModelError as error:
            self._load_failure = (_ModelStamp.of(self.model_path), error)
            raise
        return info.load_seconds

    def _spawn(self) -> ModelInfo:
        if self.backend == WhisperCppBackend.name:
            check_model_file(self.model_path)
        oom_before = oom_kill_count()
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = {
            "fd": child_sock.fileno(),
            "model": str(self.model_path),
            "threads": self.threads,
            "backend": self.backend,
            "memory_limit": self.memory_limit_bytes,
            "parent_pid": os.getpid(),
            "death_signal": threading.current_thread() is threading.main_thread(),
            "log_level": logging.getLogger("sttdesk").getEffectiveLevel(),
        }
        env = dict(os.environ)
        # The child must import this very sttdesk (and a test's backend module), as
        # multiprocessing's spawn does by handing over sys.path.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        command = [*engine_child_command(), json.dumps(config)]
        try:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(child_sock.fileno(),),
                env=env,
                close_fds=True,
            )
        except OSError as exc:
            parent_sock.close()
            child_sock.close()
            raise EngineCrashedError(f"cannot start the engine process: {exc}") from exc
        finally:
            child_sock.close()
        child = _Child(popen, parent_sock)
        self._child = child
        self.starts += 1
        # Runs when the child object is dropped or at interpreter exit, whichever comes first.
        weakref.finalize(child, _kill_leftover, popen)
        log.debug("Engine child %d started for %s", child.pid, self.model_path.name)
        try:
            reply, _ = recv_frame(child.sock, time.monotonic() + self.load_timeout)
        except TimeoutError:
            child.kill()
            child.reap()
            self._child = None
            raise EngineTimeoutError(
                f"loading {self.model_path.name} took too long", seconds=self.load_timeout
            ) from None
        except (EOFError, OSError, ProtocolError, ValueError):
            returncode = child.reap()
            self._child = None
            how = _describe_exit(returncode)
            if _looks_like_oom(child.stderr_tail) or (returncode == -signal.SIGKILL and oom_kill_count() > oom_before):
                raise ModelError(f"not enough memory to load {self.model_path.name} ({how})") from None
            raise CorruptModelError(
                path=str(self.model_path), detail=f"the engine died while loading it ({how})"
            ) from None
        if reply.get("op") != "ready":
            child.reap()
            self._child = None
            error = error_from_wire(reply.get("error"))
            raise error
        self._model = ModelInfo.from_dict(reply["model"])
        return self._model

    def _request(self, child: _Child, samples: np.ndarray, options: DecodeOptions, timeout: float) -> RecognitionResult:
        header = {"op": "transcribe", "samples": int(samples.size), "options": options.to_dict()}
        oom_before = oom_kill_count()
        try:
            send_frame(child.sock, header, samples)
            reply, _ = recv_frame(child.sock, time.monotonic() + timeout)
        except TimeoutError:
            child.kill()
            child.reap()
            self._child = None
            log.warning("Engine child %d timed out after %.1f s and was killed", child.pid, timeout)
            raise EngineTimeoutError(seconds=timeout) from None
        except (EOFError, OSError, ProtocolError, ValueError):
            raise self._child_died(child, oom_before) from None
        if reply.get("op") == "result":
            return RecognitionResult.from_dict(reply["result"])
        error = error_from_wire(reply.get("error"))
        if reply.get("fatal"):
            # The child replied and is exiting (out of memory, internal error): reap it now
            # so the next call starts a fresh one.
            child.reap()
            self._child = None
        raise error

    def _child_died(self, child: _Child, oom_before: int) -> SttdeskError:
        returncode = child.reap()
        self._child = None
        how = _describe_exit(returncode)
        if self._closed:
            return EngineCrashedError("the engine was closed while working")
        if returncode == EXIT_OUT_OF_MEMORY or _looks_like_oom(child.stderr_tail):
            log.warning("Engine child %d ran out of memory (%s)", child.pid, how)
            return EngineOutOfMemoryError(how)
        if returncode == -signal.SIGKILL and not child.killed_by_us and oom_kill_count() > oom_before:
            log.warning("Engine child %d was killed by the kernel's OOM killer", child.pid)
            return EngineOutOfMemoryError(f"{how} by the kernel's out-of-memory killer")
        log.warning("Engine child %d died (%s)", child.pid, how)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("Last lines of engine child %d:\n%s", child.pid, "\n".join(child.stderr_tail))
        return EngineCrashedError(how)


# --- the child side ---------------------------------------------------------------------


def create_backend(spec: str) -> Backend:
    """The backend a child runs: "whispercpp" or "package.module:factory"."""
    if spec == WhisperCppBackend.name:
        return WhisperCppBackend()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise EngineError(f"unknown engine backend {spec!r}")
    import importlib

    factory = getattr(importlib.import_module(module_name), attribute)
    return factory()


def _set_death_signal() -> None:
    """Ask Linux to SIGKILL this process when the thread that started it ends."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        log.debug("prctl(PR_SET_PDEATHSIG) is not available")


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(EXIT_ORPHANED)
        time.sleep(PARENT_CHECK_INTERVAL)


def _limit_memory(limit: int | None) -> None:
    if not limit:
        return
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child_main(config_json: str) -> int:
    """Entry point of the engine child: load the model, then serve requests until told to stop."""
    config = json.loads(config_json)
    logging.basicConfig(
        level=int(config.get("log_level", logging.WARNING)),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    parent_pid = int(config["parent_pid"])
    if config.get("death_signal"):
        _set_death_signal()
    if os.getppid() != parent_pid:
        return EXIT_ORPHANED
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    sock = socket.socket(fileno=int(config["fd"]))
    _limit_memory(config.get("memory_limit"))

    try:
        backend = create_backend(str(config["backend"]))
        info = backend.load(Path(config["model"]), int(config["threads"]))
    except SttdeskError as error:
        send_frame(sock, {"op": "error", "error": error_to_wire(error)})
        return EXIT_LOAD_FAILED
    except MemoryError:
        error = ModelError(f"not enough memory to load {Path(config['model']).name}")
        send_frame(sock, {"op": "error", "error": error_to_wire(error)})
        return EXIT_LOAD_FAILED
    send_frame(sock, {"op": "ready", "model": info.to_dict()})

    try:
        return _serve(sock, backend)
    finally:
        backend.close()


def _serve(sock: socket.socket, backend: Backend) -> int:
    while True:
        try:
            header, payload = recv_frame(sock)
        except EOFError:
            return 0
        op = header.get("op")
        if op == "close":
            return 0
        if op != "transcribe":
            send_frame(sock, {"op": "error", "error": error_to_wire(ProtocolError(f"unknown op {op!r}"))})
            continue
        try:
            audio = np.frombuffer(payload, dtype=np.float32)
            if audio.size != header.get("samples"):
                raise ProtocolError("audio length does not match the header")
            options = DecodeOptions.from_dict(header.get("options", {}))
            result = transcribe_covered(backend, audio, options)
        except MemoryError as exc:
            error = EngineOutOfMemoryError(str(exc) or "MemoryError")
            send_frame(sock, {"op": "error", "fatal": True, "error": error_to_wire(error)})
            return EXIT_OUT_OF_MEMORY
        except EngineOutOfMemoryError as error:
            send_frame(sock, {"op": "error", "fatal": True, "error": error_to_wire(error)})
            return EXIT_OUT_OF_MEMORY
        except SttdeskError as error:
            send_frame(sock, {"op": "error", "error": error_to_wire(error)})
            continue
        except Exception as exc:  # a bug, or a backend in a state we cannot trust: start afresh
            log.exception("Engine request failed")
            error = EngineCrashedError(f"{type(exc).__name__}: {exc}")
            send_frame(sock, {"op": "error", "fatal": True, "error": error_to_wire(error)})
            return 1
        send_frame(sock, {"op": "result", "result": result.to_dict()})
