"""Decoding with ffmpeg to 16 kHz mono PCM, and reading the decoded audio back.

A job's input is decoded once, by :func:`decode_to_pcm`, into a raw PCM file in
the job's folder; every later step (chunking, sending chunks to agents, playing
a segment in the GUI) reads that file through :class:`PcmFile`, a memory map, so
a three-hour recording never has to fit in RAM.

The file holds signed 16-bit little-endian samples (s16le), not float32:

* it is half the size (a 3 h recording: 346 MB instead of 691 MB), both on disk
  and on the wire, where chunks travel as raw PCM;
* 16 bits (about 96 dB of dynamic range) is more than speech recognition can
  use: whisper computes a log-mel spectrogram clamped to 80 dB below its peak,
  and most sources (phones, meetings, MP3/AAC) carry no more than that anyway;
* the conversion to float32 costs nothing worth measuring and happens per chunk.

:func:`load_audio` decodes a short file or clip straight to a float32 array,
for tests and the engine's own tools.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Self

import numpy as np

from .errors import (
    AudioFileNotFoundError,
    AudioFileNotReadableError,
    AudioTooLongError,
    DecodeCancelledError,
    DecodeOutputError,
    EmptyAudioError,
    FfmpegMissingError,
    UndecodableAudioError,
)

log = logging.getLogger(__name__)

#: Sample rate of every decoded file: what whisper expects.
SAMPLE_RATE = 16_000
#: ffmpeg output options giving 16 kHz mono. The channels are mixed with a matrix
#: normalised so no output exceeds full scale: stereo becomes the plain average
#: (L + R) / 2, the same for 16-bit and float output (ffmpeg's float default would
#: sum at 0.707 each and could clip).
MONO_16K_OPTIONS = ("-ac", "1", "-ar", str(SAMPLE_RATE), "-rematrix_maxval", "1.0")
#: Bytes per sample of the decoded file (s16le).
SAMPLE_BYTES = 2
#: numpy dtype of the decoded file, little-endian whatever the machine.
PCM_DTYPE = np.dtype("<i2")
#: Scale from int16 samples to float32 in [-1, 1).
INT16_SCALE = 1.0 / 32768.0

#: How much ffmpeg output is read and written at a time while decoding.
DEFAULT_BLOCK_BYTES = 1 << 20
#: Least wall time between two progress reports.
PROGRESS_INTERVAL_SECONDS = 0.5
#: ffmpeg's last stderr lines kept for error messages (the rest is dropped as it arrives).
STDERR_TAIL_LINES = 40
#: Deadline for the short decodes of :func:`decodable_seconds` and :func:`load_audio`.
SHORT_DECODE_TIMEOUT_SECONDS = 120.0
#: Environment variable naming a folder that holds ffmpeg and ffprobe (portable installs).
FFMPEG_DIR_ENV = "STTDESK_FFMPEG_DIR"

ProgressCallback = Callable[[float, float | None], None]
CancelCheck = Callable[[], bool]


def find_tool(name: str) -> str:
    """The path of ``ffmpeg`` or ``ffprobe``, or raise :class:`FfmpegMissingError`.

    ``STTDESK_FFMPEG_DIR`` wins over ``PATH`` so an installer can ship its own copy.
    """
    folder = os.environ.get(FFMPEG_DIR_ENV)
    if folder:
        found = shutil.which(name, path=folder)
        if found:
            return found
        log.warning("%s is not in %s=%s; looking on PATH", name, FFMPEG_DIR_ENV, folder)
    found = shutil.which(name)
    if not found:
        raise FfmpegMissingError(tool=name, detail=f"{name} not found on PATH")
    return found


def _stream_map(stream_index: int | None) -> str:
    """ffmpeg's ``-map`` value for a container stream index, or the first audio stream."""
    return f"0:{stream_index}" if stream_index is not None else "0:a:0"


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg gave no reason"


def _check_source(src: Path) -> None:
    if not src.exists():
        raise AudioFileNotFoundError(name=src.name, detail=str(src))
    if not src.is_file():
        raise AudioFileNotReadableError(name=src.name, detail="not a regular file")


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """The result of :func:`decode_to_pcm`: where the PCM is and how much of it."""

    #: The raw s16le mono file written.
    path: Path
    #: Number of samples in it.
    samples: int
    #: Samples per second (always :data:`SAMPLE_RATE`).
    sample_rate: int = SAMPLE_RATE
    #: ffmpeg's complaints about damaged stretches it skipped, if any (for the log).
    warnings: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Length of the decoded audio in seconds."""
        return self.samples / self.sample_rate

    def open(self) -> PcmFile:
        """A memory-mapped reader of the decoded file."""
        return PcmFile(self.path, sample_rate=self.sample_rate)


class _StderrTail:
    """Drains a pipe on a thread, keeping only its last lines.

    ffmpeg can print a line per damaged frame; reading stderr on the side keeps
    the pipe from filling up (which would stall ffmpeg) and bounds the memory.
    """

    def __init__(self, pipe: IO[bytes], *, lines: int = STDERR_TAIL_LINES) -> None:
        self._pipe = pipe
        self._lines: deque[str] = deque(maxlen=lines)
        self._thread = threading.Thread(target=self._drain, name="ffmpeg-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        for raw in iter(self._pipe.readline, b""):
            self._lines.append(raw.decode("utf-8", "replace").rstrip())
        self._pipe.close()

    def text(self, timeout: float = 5.0) -> str:
        self._thread.join(timeout)
        return "\n".join(self._lines)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
        log.error("ffmpeg (pid %s) did not exit after kill", proc.pid)


def decode_to_pcm(
    src: Path | str,
    dest: Path | str,
    *,
    stream_index: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    expected_seconds: float | None = None,
    max_seconds: float | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    fsync: bool = True,
) -> DecodedAudio:
    """Decode ``src`` to 16 kHz mono s16le PCM at ``dest``, streaming, atomically.

    ffmpeg's output is copied to a temporary file beside ``dest`` a block at a
    time (memory stays at ``block_bytes`` whatever the length) and renamed to
    ``dest`` only when ffmpeg finished cleanly, so ``dest`` is either absent or
    complete, even if the process is killed half-way.

    ``stream_index`` is the container's stream to decode (see
    :attr:`~sttdesk.audio.probe.AudioInfo.stream`); by default the first audio
    stream. ``progress(done_seconds, expected_seconds)`` is called now and then
    from this thread; ``cancel()`` is polled between blocks, and when it returns
    true ffmpeg is stopped and :class:`DecodeCancelledError` raised.
    ``max_seconds`` stops a file whose container understated its length.
    """
    src, dest = Path(src), Path(dest)
    _check_source(src)
    ffmpeg = find_tool("ffmpeg")
    cmd = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(src),
        "-map", _stream_map(stream_index), "-vn", "-sn", "-dn",
        *MONO_16K_OPTIONS, "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise DecodeOutputError(path=str(dest), detail=exc.strerror or str(exc)) from exc
    tmp = Path(tmp_name)
    log.debug("decoding %s -> %s", src, dest)
    started = time.monotonic()
    proc: subprocess.Popen[bytes] | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
                )
            except FileNotFoundError as exc:  # removed between find_tool and here
                raise FfmpegMissingError(tool="ffmpeg", detail=str(exc)) from exc
            assert proc.stdout is not None and proc.stderr is not None
            stderr = _StderrTail(proc.stderr)
            written = 0
            carry = b""
            last_report = started
            while True:
                if cancel is not None and cancel():
                    raise DecodeCancelledError(name=src.name, detail="cancelled")
                block = proc.stdout.read(block_bytes)
                if not block:
                    break
                if carry:
                    block = carry + block
                    carry = b""
                if len(block) % SAMPLE_BYTES:  # a pipe read may split a sample; keep whole ones
                    carry = block[-1:]
                    block = block[:-1]
                try:
                    out.write(block)
                except OSError as exc:
                    raise DecodeOutputError(path=str(dest), detail=exc.strerror or str(exc)) from exc
                written += len(block)
                done = written / (SAMPLE_BYTES * SAMPLE_RATE)
                if max_seconds is not None and done > max_seconds:
                    raise AudioTooLongError(
                        name=src.name, hours=done / 3600, limit_hours=max_seconds / 3600,
                        detail=f"more than {max_seconds:.0f} s decoded",
                    )
                now = time.monotonic()
                if progress is not None and now - last_report >= PROGRESS_INTERVAL_SECONDS:
                    last_report = now
                    progress(done, expected_seconds)
            proc.stdout.close()
            returncode = proc.wait()
            messages = stderr.text()
            if returncode != 0:
                raise UndecodableAudioError(name=src.name, detail=_last_error_line(messages))
            if written == 0:
                raise EmptyAudioError(name=src.name, detail=_last_error_line(messages))
            try:
                out.flush()
                if fsync:  # the rename below must never publish a file whose data is still in flight
                    os.fsync(out.fileno())
            except OSError as exc:
                raise DecodeOutputError(path=str(dest), detail=exc.strerror or str(exc)) from exc
        os.replace(tmp, dest)
    except BaseException:
        if proc is not None:
            _stop(proc)
        tmp.unlink(missing_ok=True)
        raise
    result = DecodedAudio(
        path=dest,
        samples=written // SAMPLE_BYTES,
        warnings=tuple(line for line in messages.splitlines() if line.strip()),
    )
    if result.warnings:
        log.warning("decoding %s: ffmpeg reported %d problem line(s), last: %s",
                    src.name, len(result.warnings), result.warnings[-1])
    if progress is not None:
        progress(result.duration, expected_seconds)
    log.info("decoded %s: %.1f s of audio in %.2f s", src.name, result.duration, time.monotonic() - started)
    return result


def _short_decode(
    src: Path, *, start: float, seconds: float | None, stream_index: int | None, sample_format: str,
    timeout: float,
) -> tuple[bytes, str, int]:
    """Decode a short stretch to 16 kHz mono in memory: (samples, stderr, return code)."""
    ffmpeg = find_tool("ffmpeg")
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
    if start > 0:
        cmd += ["-ss", f"{start:.6f}"]  # before -i: a fast seek, made sample-exact by ffmpeg
    if seconds is not None:
        cmd += ["-t", f"{seconds:.6f}"]
    cmd += [
        "-i", str(src), "-map", _stream_map(stream_index), "-vn", "-sn", "-dn",
        *MONO_16K_OPTIONS, "-c:a", f"pcm_{sample_format}", "-f", sample_format, "pipe:1",
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise FfmpegMissingError(tool="ffmpeg", detail=str(exc)) from exc
    return done.stdout, done.stderr.decode("utf-8", "replace"), done.returncode


def decodable_seconds(
    src: Path | str,
    *,
    start: float = 0.0,
    seconds: float,
    stream_index: int | None = None,
    timeout: float = SHORT_DECODE_TIMEOUT_SECONDS,
) -> float:
    """How many seconds of audio ffmpeg decodes from ``start`` in a window of ``seconds``.

    A cheap probe of one part of a file (the start, the announced end): a
    healthy file gives about ``seconds``, a damaged or truncated one much less.
    Raises :class:`subprocess.TimeoutExpired` when ffmpeg takes longer than ``timeout``.
    """
    src = Path(src)
    _check_source(src)
    data, stderr, returncode = _short_decode(
        src, start=start, seconds=seconds, stream_index=stream_index, sample_format="s16le", timeout=timeout
    )
    decoded = len(data) / (SAMPLE_BYTES * SAMPLE_RATE)
    if returncode != 0 or stderr.strip():
        log.debug("decoding %s from %.2f s: rc=%s, %.2f s decoded, %s",
                  src.name, start, returncode, decoded, _last_error_line(stderr))
    return decoded


def load_audio(
    path: Path | str,
    *,
    start: float = 0.0,
    end: float | None = None,
    stream_index: int | None = None,
) -> np.ndarray:
    """Decode ``path`` (or the part from ``start`` to ``end`` seconds) to float32 16 kHz mono.

    Holds the whole result in memory: meant for short files and clips. Long
    recordings go through :func:`decode_to_pcm` and :class:`PcmFile`.
    """
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid time range {start}..{end}")
    path = Path(path)
    _check_source(path)
    seconds = None if end is None else end - start
    data, stderr, returncode = _short_decode(
        path, start=start, seconds=seconds, stream_index=stream_index, sample_format="f32le",
        timeout=SHORT_DECODE_TIMEOUT_SECONDS,
    )
    if returncode != 0:
        raise UndecodableAudioError(name=path.name, detail=_last_error_line(stderr))
    usable = len(data) - len(data) % 4
    return np.frombuffer(data[:usable], dtype="<f4").astype(np.float32, copy=True)


class PcmFile:
    """Read access to a decoded 16 kHz mono s16le file through a memory map.

    Only the pages a read touches are loaded, so chunks of a long recording can
    be read (and the whole file scanned block by block) in bounded memory.
    """

    def __init__(self, path: Path | str, *, sample_rate: int = SAMPLE_RATE) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        try:
            size = self.path.stat().st_size
        except FileNotFoundError as exc:
            raise AudioFileNotFoundError(name=self.path.name, detail=str(self.path)) from exc
        #: Number of samples in the file (a stray odd byte is ignored).
        self.samples = size // SAMPLE_BYTES
        self._data: np.ndarray | None
        if self.samples:
            self._data = np.memmap(self.path, dtype=PCM_DTYPE, mode="r", shape=(self.samples,))
        else:  # mmap cannot map an empty file
            self._data = np.zeros(0, dtype=PCM_DTYPE)

    def __repr__(self) -> str:
        return f"PcmFile({str(self.path)!r}, {self.duration:.2f} s)"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.samples

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples / self.sample_rate

    @property
    def pcm16(self) -> np.ndarray:
        """All samples as a read-only int16 array backed by the file (nothing is loaded)."""
        if self._data is None:
            raise ValueError(f"{self.path} is closed")
        return self._data

    def sample_range(self, start: float = 0.0, end: float | None = None) -> tuple[int, int]:
        """Sample indices for a time range in seconds, clamped to the file."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid time range {start}..{end}")
        first = min(round(start * self.sample_rate), self.samples)
        last = self.samples if end is None else min(round(end * self.sample_rate), self.samples)
        return first, max(first, last)

    def read(self, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """Samples from ``start`` to ``end`` seconds as a new float32 array in [-1, 1)."""
        first, last = self.sample_range(start, end)
        out = self.pcm16[first:last].astype(np.float32)
        out *= INT16_SCALE
        return out

    def read_pcm16(self, start: float = 0.0, end: float | None = None) -> bytes:
        """Samples from ``start`` to ``end`` seconds as raw s16le bytes (the wire format)."""
        first, last = self.sample_range(start, end)
        return self.pcm16[first:last].tobytes()

    def blocks(self, block_samples: int) -> Iterator[np.ndarray]:
        """The whole file as consecutive int16 arrays of ``block_samples`` (the last may be shorter).

        Read with plain file reads rather than through the map, so a scan of a
        long recording keeps only one block resident, not every page it touched.
        """
        if block_samples <= 0:
            raise ValueError("block_samples must be positive")
        if self._data is None:
            raise ValueError(f"{self.path} is closed")
        with self.path.open("rb") as handle:
            for first in range(0, self.samples, block_samples):
                count = min(block_samples, self.samples - first)
                yield np.fromfile(handle, dtype=PCM_DTYPE, count=count)

    def close(self) -> None:
        """Drop the memory map (arrays already returned by :meth:`read` stay valid)."""
        self._data = None
