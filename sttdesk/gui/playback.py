"""Plays a job's audio from a given time (QtMultimedia), for the transcript view.

The user's own file is played when it is still where it was added from;
otherwise the job's decoded 16 kHz PCM is wrapped in a WAV file in a temp
folder (on a worker thread) and played from there. Both share the
transcript's timeline.
"""

from __future__ import annotations

import logging
import shutil
import struct
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

from .tasks import TaskRunner

log = logging.getLogger(__name__)

#: The format of a job's decoded audio (sttdesk.audio.decode writes 16 kHz mono s16le).
PCM_SAMPLE_RATE = 16_000
PCM_CHANNELS = 1
PCM_SAMPLE_BYTES = 2
#: Largest PCM a WAV header can describe (its sizes are 32-bit).
MAX_WAV_DATA_BYTES = 0xFFFFFFFF - 36
#: Copy buffer for wrapping PCM in a WAV file.
COPY_BUFFER_BYTES = 1 << 20


def wav_header(data_bytes: int, *, sample_rate: int = PCM_SAMPLE_RATE, channels: int = PCM_CHANNELS,
               sample_bytes: int = PCM_SAMPLE_BYTES) -> bytes:
    """A 44-byte RIFF/WAVE header for ``data_bytes`` of little-endian PCM."""
    if not 0 <= data_bytes <= MAX_WAV_DATA_BYTES:
        raise ValueError(f"a WAV file cannot hold {data_bytes} bytes of audio")
    block = channels * sample_bytes
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block,
                                    sample_bytes * 8)
            + b"data" + struct.pack("<I", data_bytes))


def pcm_to_wav(pcm: Path, wav: Path) -> Path:
    """Write ``pcm`` (16 kHz mono s16le) as the WAV file ``wav``; returns ``wav``."""
    size = pcm.stat().st_size
    size -= size % (PCM_CHANNELS * PCM_SAMPLE_BYTES)
    partial = wav.with_suffix(".part")
    with pcm.open("rb") as source, partial.open("wb") as target:
        target.write(wav_header(size))
        remaining = size
        while remaining:
            block = source.read(min(COPY_BUFFER_BYTES, remaining))
            if not block:
                break
            target.write(block)
            remaining -= len(block)
    partial.replace(wav)
    return wav


class JobAudioPlayer(QObject):
    """Plays one job's audio at a time; reports where it is, in seconds."""

    #: The play position moved (seconds on the file's timeline).
    position_changed = Signal(float)
    #: Playing started or stopped.
    playing_changed = Signal(bool)
    #: The audio could not be played: a message for the user.
    failed = Signal(str)

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._player = QMediaPlayer(self)
        self._output = QAudioOutput(self)
        self._player.setAudioOutput(self._output)
        self._job_id: str | None = None
        self._pending_seconds: float | None = None
        self._temp_dir: Path | None = None
        self._player.positionChanged.connect(lambda ms: self.position_changed.emit(ms / 1000.0))
        self._player.playbackStateChanged.connect(
            lambda state: self.playing_changed.emit(state == QMediaPlayer.PlaybackState.PlayingState))
        self._player.mediaStatusChanged.connect(self._status_changed)
        self._player.errorOccurred.connect(self._error)

    @property
    def job_id(self) -> str | None:
        """The job whose audio is loaded."""
        return self._job_id

    @property
    def is_playing(self) -> bool:
        return self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    @property
    def media_player(self) -> QMediaPlayer:
        return self._player

    def play_from(self, job_id: str, seconds: float, *, source: Path | None, pcm: Path | None) -> None:
        """Play ``job_id``'s audio from ``seconds``: its source file if it exists, else its PCM."""
        seconds = max(0.0, seconds)
        if job_id == self._job_id and not self._player.source().isEmpty():
            self._seek_and_play(seconds)
            return
        self.stop()
        self._job_id = job_id
        self._pending_seconds = seconds
        if source is not None and source.is_file():
            self._player.setSource(QUrl.fromLocalFile(str(source)))
            self._player.play()
            return
        if pcm is None:
            self.failed.emit(self.tr("The audio of this job is no longer available."))
            return
        wav = self._temp_folder() / f"{job_id}.wav"
        self._runner.run(lambda: wav if wav.is_file() else pcm_to_wav(pcm, wav),
                         on_done=lambda path: self._wav_ready(job_id, path), on_error=self._wav_failed)

    def toggle(self) -> None:
        """Pause while playing, play again while paused."""
        if self.is_playing:
            self._player.pause()
        elif not self._player.source().isEmpty():
            self._player.play()

    def stop(self) -> None:
        self._player.stop()
        self._pending_seconds = None

    def close(self) -> None:
        """Stop, unload and delete the temp WAV files."""
        self.stop()
        self._player.setSource(QUrl())
        self._job_id = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # --- helpers ----------------------------------------------------------------------

    def _temp_folder(self) -> Path:
        if self._temp_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="sttdesk-play-"))
        return self._temp_dir

    def _wav_ready(self, job_id: str, path: Path) -> None:
        if job_id != self._job_id:  # the user moved on meanwhile
            return
        self._player.setSource(QUrl.fromLocalFile(str(path)))
        self._player.play()

    def _wav_failed(self, error: BaseException) -> None:
        log.warning("could not prepare audio for playback: %s", error)
        self._job_id = None
        self.failed.emit(self.tr("The audio of this job is no longer available."))

    def _seek_and_play(self, seconds: float) -> None:
        self._player.setPosition(int(seconds * 1000))
        self._player.play()

    def _status_changed(self, status: QMediaPlayer.MediaStatus) -> None:
        # A position set before the media is loaded is ignored, so it waits until then.
        if self._pending_seconds is not None and status in (
            QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia
        ):
            seconds, self._pending_seconds = self._pending_seconds, None
            self._seek_and_play(seconds)

    def _error(self, error: QMediaPlayer.Error, message: str) -> None:
        if error == QMediaPlayer.Error.NoError:
            return
        log.warning("playback error %s: %s", error, message)
        self.failed.emit(self.tr("The audio cannot be played: %1").replace("%1", message))
