"""Probing and validating an input file with ffprobe before any job exists.

:func:`probe` reads what the container says (duration, streams, codecs) and
rejects what can be judged from that alone. :func:`validate_input` adds the
checks that need a little decoding: the start must decode, and so must the
stretch just before the end the container announces. A file cut short (an
interrupted download or copy, a recorder that crashed) still announces its full
length in the header, but decoding near that end yields nothing; we catch it
there, at the cost of decoding about eight seconds, instead of transcribing half
a file without saying so.

Containers do not always know or tell their length: MediaRecorder WebM files
have none, MP3s without a Xing header get an estimate from the first frame's
bit rate, WAVs written while streaming carry a placeholder size. Then the
duration is *measured* by reading the packets of the audio stream without
decoding them (a quarter of a second for an hour of MP3).
"""

from __future__ import annotations

import json
import logging
import math
import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain.languages import validate_language
from .decode import decodable_seconds, find_tool
from .errors import (
    AudioFileNotFoundError,
    AudioFileNotReadableError,
    AudioTooLongError,
    EmptyAudioError,
    FileTooLargeError,
    NoAudioStreamError,
    TruncatedAudioError,
    UndecodableAudioError,
)

log = logging.getLogger(__name__)

#: Default largest accepted file: 2 GiB.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: Default longest accepted recording: 12 hours.
DEFAULT_MAX_SECONDS = 12 * 3600.0

#: Deadline for ffprobe and for the packet scan that measures a duration.
PROBE_TIMEOUT_SECONDS = 120.0
#: Seconds decoded at the start to prove the file decodes at all.
START_CHECK_SECONDS = 3.0
#: Seconds decoded just before the announced end to prove the file is complete.
END_CHECK_SECONDS = 5.0
#: Share of a check window that must decode (codec delay and seek slack make it a little short).
MIN_DECODED_FRACTION = 0.5
#: A measured length this much shorter than the announced one is a truncation, not rounding.
TRUNCATION_TOLERANCE_SECONDS = 1.0

#: ffprobe's warning when it guessed the duration from a bit rate.
_ESTIMATED_DURATION = "Estimating duration from bitrate"
#: ffmpeg's words for an MP4/MOV whose index (written last) is missing: an unfinished file.
_MISSING_INDEX = re.compile(r"moov atom not found", re.IGNORECASE)
#: Box types an MP4/MOV file starts with: tells a cut-off MP4 from random bytes named .m4a.
_MP4_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
#: ffmpeg's names for formats that are pictures or text, never recordings.
_NOT_MEDIA_FORMATS = ("tty", "image2", "lrc", "srt", "webvtt", "ass")
#: WAV data sizes that writers use as "unknown" placeholders while streaming.
_WAV_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)


@dataclass(frozen=True, slots=True)
class AudioLimits:
    """What an input may weigh and last; larger inputs are rejected before any work."""

    #: Largest file size in bytes.
    max_bytes: int = DEFAULT_MAX_BYTES
    #: Longest recording in seconds.
    max_seconds: float = DEFAULT_MAX_SECONDS

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_seconds <= 0:
            raise ValueError("audio limits must be positive")


@dataclass(frozen=True, slots=True)
class AudioStreamInfo:
    """One audio stream of a container, as ffprobe describes it."""

    #: The stream's index in the container (what ``ffmpeg -map 0:N`` takes).
    index: int
    #: Codec name, e.g. "mp3", "aac", "pcm_s24le", "opus".
    codec: str
    sample_rate: int
    channels: int
    #: Bits per sample for lossless/PCM codecs; None for lossy ones (mp3, aac, opus...).
    bit_depth: int | None
    #: The stream's own duration in seconds, when the container gives one.
    duration: float | None
    #: The stream's language tag (ISO 639), when the container has one.
    language: str | None = None
    #: Whether the container marks it as the default audio stream.
    default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "codec": self.codec,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "bit_depth": self.bit_depth,
            "duration": self.duration,
            "language": self.language,
            "default": self.default,
        }


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What sttdesk knows about an input file before decoding it."""

    path: Path
    size_bytes: int
    #: ffprobe's short container name(s), e.g. "mov,mp4,m4a,3gp,3g2,mj2", "wav", "matroska,webm".
    format_name: str
    #: Length of the recording in seconds (see ``duration_measured``).
    duration: float
    #: The audio streams, in container order; never empty.
    audio_streams: tuple[AudioStreamInfo, ...]
    #: Whether there is a real video stream (cover art pictures do not count).
    has_video: bool
    #: True when the container had no trustworthy length and it was measured from the packets.
    duration_measured: bool = False

    @property
    def stream(self) -> AudioStreamInfo:
        """The audio stream sttdesk transcribes: the default one, else the first."""
        for candidate in self.audio_streams:
            if candidate.default:
                return candidate
        return self.audio_streams[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "format_name": self.format_name,
            "duration": round(self.duration, 3),
            "duration_measured": self.duration_measured,
            "has_video": self.has_video,
            "audio_streams": [s.to_dict() for s in self.audio_streams],
        }


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _bit_depth(stream: dict[str, Any]) -> int | None:
    depth = _int(stream.get("bits_per_raw_sample")) or _int(stream.get("bits_per_sample"))
    return depth or None


def _audio_stream(stream: dict[str, Any]) -> AudioStreamInfo:
    tags = stream.get("tags") or {}
    return AudioStreamInfo(
        index=_int(stream.get("index")),
        codec=str(stream.get("codec_name") or "unknown"),
        sample_rate=_int(stream.get("sample_rate")),
        channels=_int(stream.get("channels")),
        bit_depth=_bit_depth(stream),
        duration=_float(stream.get("duration")),
        language=tags.get("language"),
        default=bool((stream.get("disposition") or {}).get("default")),
    )


def _is_real_video(stream: dict[str, Any]) -> bool:
    disposition = stream.get("disposition") or {}
    return stream.get("codec_type") == "video" and not disposition.get("attached_pic")


def check_file(path: Path | str, *, limits: AudioLimits = AudioLimits()) -> int:
    """Existence, type and size checks that need no ffprobe (they take no time); returns the size.

    Raises AudioFileNotFoundError, AudioFileNotReadableError, EmptyAudioError
    or FileTooLargeError. :func:`probe` runs them first.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise AudioFileNotFoundError(name=path.name, detail=str(path)) from exc
    except OSError as exc:
        raise AudioFileNotReadableError(name=path.name, detail=exc.strerror or str(exc)) from exc
    if not path.is_file():
        raise AudioFileNotReadableError(name=path.name, detail="not a regular file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise AudioFileNotReadableError(name=path.name, detail=exc.strerror or str(exc)) from exc
    if stat.st_size == 0:
        raise EmptyAudioError(name=path.name, detail="0 bytes")
    if stat.st_size > limits.max_bytes:
        raise FileTooLargeError(
            name=path.name, size_mb=stat.st_size / 2**20, limit_mb=limits.max_bytes / 2**20,
            detail=f"{stat.st_size} bytes > {limits.max_bytes}",
        )
    return stat.st_size


def _starts_like_mp4(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(8)[4:8] in _MP4_FIRST_BOXES


def _is_recording_format(format_name: str) -> bool:
    """False for the pictures and text files ffmpeg can also open (png_pipe, tty, lrc...)."""
    names = format_name.split(",")
    return not any(n in _NOT_MEDIA_FORMATS or n.endswith("_pipe") for n in names)


def _run_ffprobe(path: Path) -> tuple[dict[str, Any], str]:
    """ffprobe's JSON description of ``path`` and its warnings."""
    cmd = [
        find_tool("ffprobe"), "-hide_banner", "-loglevel", "warning",
        "-print_format", "json", "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise UndecodableAudioError(name=path.name, detail="ffprobe did not finish in time") from exc
    warnings = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        reason = warnings.strip().splitlines()[-1] if warnings.strip() else f"ffprobe exit code {done.returncode}"
        if _MISSING_INDEX.search(warnings) and _starts_like_mp4(path):
            raise TruncatedAudioError(name=path.name, detail="its index is missing, so it was never finished")
        raise UndecodableAudioError(name=path.name, detail=reason)
    try:
        return json.loads(done.stdout or b"{}"), warnings
    except ValueError as exc:
        raise UndecodableAudioError(name=path.name, detail=f"unreadable ffprobe output: {exc}") from exc


def measure_duration(path: Path | str, *, stream_index: int | None = None) -> float:
    """The end time of the last packet of an audio stream, read without decoding.

    For containers that do not know their length; a truncated file measures
    where its data really stops.
    """
    path = Path(path)
    stream = f"0:{stream_index}" if stream_index is not None else "0:a:0"
    cmd = [
        find_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(path), "-map", stream, "-c", "copy",
        "-progress", "pipe:1", "-nostats", "-f", "null", "-",
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise UndecodableAudioError(name=path.name, detail="measuring the length took too long") from exc
    end_us = 0
    for line in done.stdout.decode("ascii", "replace").splitlines():
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.strip().lstrip("-").isdigit():
            end_us = max(end_us, int(value))
    return end_us / 1e6


def probe(path: Path | str, *, limits: AudioLimits = AudioLimits()) -> AudioInfo:
    """Describe ``path`` with ffprobe, rejecting what the description alone rules out.

    Raises the :mod:`sttdesk.audio.errors` rejections for a missing, unreadable,
    empty or too large file, one ffprobe cannot read, one with no (usable) audio
    stream, and one longer than ``limits.max_seconds``.
    """
    path = Path(path)
    size = check_file(path, limits=limits)
    data, warnings = _run_ffprobe(path)
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    format_name = str(fmt.get("format_name") or "unknown")
    audio = tuple(_audio_stream(s) for s in streams if s.get("codec_type") == "audio")
    has_video = any(_is_real_video(s) for s in streams)
    if not audio:
        if has_video and _is_recording_format(format_name):
            raise NoAudioStreamError(name=path.name, detail="no audio stream")
        raise UndecodableAudioError(name=path.name, detail=f"not a recording (ffmpeg reads it as '{format_name}')")
    chosen = next((s for s in audio if s.default), audio[0])
    if chosen.sample_rate <= 0 or chosen.channels <= 0:
        # ffprobe "found" a stream with no parameters: it guessed a format from noise.
        raise UndecodableAudioError(name=path.name, detail=f"no valid {chosen.codec} audio parameters")

    duration = _float(fmt.get("duration")) or chosen.duration
    measured = False
    if not duration or _ESTIMATED_DURATION in warnings:
        measured_seconds = measure_duration(path, stream_index=chosen.index)
        log.info("%s: container length %s is missing or estimated; measured %.2f s",
                 path.name, duration, measured_seconds)
        duration, measured = measured_seconds, True
    if not duration or duration <= 0:
        raise EmptyAudioError(name=path.name, detail="the audio stream has no samples")
    if duration > limits.max_seconds:
        raise AudioTooLongError(
            name=path.name, hours=duration / 3600, limit_hours=limits.max_seconds / 3600,
            detail=f"{duration:.0f} s > {limits.max_seconds:.0f} s",
        )
    info = AudioInfo(
        path=path,
        size_bytes=size,
        format_name=format_name,
        duration=duration,
        audio_streams=audio,
        has_video=has_video,
        duration_measured=measured,
    )
    log.debug("probed %s: %s", path.name, info)
    return info


def _wav_declared_shortfall(path: Path) -> int:
    """Bytes a WAV's ``data`` chunk announces beyond the end of the file (0 if complete).

    ffmpeg quietly trusts the file size over the header for WAV, so a WAV cut in
    half looks like a complete, shorter recording; only the header knows better.
    Placeholder sizes (written by recorders that stream) are not a shortfall.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0  # RF64, W64 or something ffmpeg called wav: nothing to compare
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"data":
                if chunk_size in _WAV_PLACEHOLDER_SIZES:
                    return 0
                return max(0, offset + 8 + chunk_size - size)
            offset += 8 + chunk_size + (chunk_size & 1)
    return 0


def _check_start(info: AudioInfo) -> None:
    window = min(START_CHECK_SECONDS, info.duration)
    decoded = decodable_seconds(info.path, seconds=window, stream_index=info.stream.index)
    if decoded < window * MIN_DECODED_FRACTION:
        raise UndecodableAudioError(
            name=info.path.name, detail=f"only {decoded:.2f} s of the first {window:.1f} s could be decoded"
        )


def _check_end(info: AudioInfo) -> None:
    window = min(END_CHECK_SECONDS, info.duration)
    start = max(0.0, info.duration - window)
    # Ask for a little more than the window: a container's announced end may be rounded down.
    decoded = decodable_seconds(info.path, start=start, seconds=window + 1.0, stream_index=info.stream.index)
    if decoded >= window * MIN_DECODED_FRACTION:
        return
    real_end = measure_duration(info.path, stream_index=info.stream.index)
    if real_end < info.duration - TRUNCATION_TOLERANCE_SECONDS:
        detail = f"it should last {info.duration:.1f} s but the audio stops at {real_end:.1f} s"
    else:
        detail = f"the last {window:.0f} s cannot be decoded"
    raise TruncatedAudioError(name=info.path.name, detail=detail)


def validate_input(path: Path | str, language: str, *, limits: AudioLimits = AudioLimits()) -> AudioInfo:
    """Everything that must hold before a job is created for ``path``; its :class:`AudioInfo`.

    Checks the language code (:class:`~sttdesk.domain.errors.UnsupportedLanguageError`),
    everything :func:`probe` checks, that the start decodes, and that the file
    is complete: a WAV whose header promises more data than the file holds, or
    any file that decodes to nothing just before its announced end, is
    rejected as truncated.
    """
    validate_language(language)
    info = probe(path, limits=limits)
    if "wav" in info.format_name.split(","):
        missing = _wav_declared_shortfall(info.path)
        if missing:
            raise TruncatedAudioError(
                name=info.path.name, detail=f"{missing} bytes of audio announced in its header are missing"
            )
    try:
        _check_start(info)
        _check_end(info)
    except subprocess.TimeoutExpired:
        # Some containers cannot seek and make ffmpeg read everything up to the end;
        # the decode itself will still fail loudly if the data is bad.
        log.warning("%s: decode checks took too long; accepting the file unchecked", info.path.name)
    log.info("accepted %s: %s, %.1f s, stream %d (%s, %d Hz, %d ch)%s",
             info.path.name, info.format_name, info.duration, info.stream.index, info.stream.codec,
             info.stream.sample_rate, info.stream.channels, ", with video" if info.has_video else "")
    return info

