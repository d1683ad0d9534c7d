"""Playing a job's audio: the WAV wrapper for decoded PCM, and the player seeking where asked."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest

from sttdesk.gui.playback import JobAudioPlayer, pcm_to_wav, wav_header
from sttdesk.gui.tasks import TaskRunner

from .conftest import PLAYBACK_MARKS

pytestmark = PLAYBACK_MARKS

#: Longest wait for the player to reach the asked position, and for ffmpeg to decode the test file.
PLAY_TIMEOUT_MS = 20_000
DECODE_TIMEOUT_S = 60


def test_decoded_pcm_becomes_a_valid_wav(tmp_path: Path) -> None:
    samples = bytes(range(256)) * 125  # 32,000 bytes: one second of 16 kHz s16le
    pcm = tmp_path / "audio.pcm"
    pcm.write_bytes(samples + b"\x01")  # a stray odd byte is not half a sample

    wav = pcm_to_wav(pcm, tmp_path / "audio.wav")

    with wave.open(str(wav)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (16000, 1, 2)
        assert reader.getnframes() == 16000
        assert reader.readframes(16000) == samples
    assert not (tmp_path / "audio.part").exists()


def test_a_wav_header_cannot_describe_more_than_4_gib() -> None:
    assert len(wav_header(0)) == 44
    with pytest.raises(ValueError):
        wav_header(1 << 32)


def _play_and_wait(qtbot: Any, player: JobAudioPlayer, seconds: float, **sources: Path | None) -> list[float]:
    positions: list[float] = []
    player.position_changed.connect(positions.append)
    player.play_from("job", seconds, **sources)
    qtbot.waitUntil(lambda: any(p >= seconds for p in positions), timeout=PLAY_TIMEOUT_MS)
    return positions


def test_the_player_starts_where_asked_from_the_source_file(qtbot: Any, en_audio: Path) -> None:
    runner = TaskRunner()
    player = JobAudioPlayer(runner)
    try:
        positions = _play_and_wait(qtbot, player, 5.0, source=en_audio / "jfk.wav", pcm=None)
        assert player.job_id == "job"
        assert max(positions) >= 5.0
        assert player.media_player.source().toLocalFile() == str(en_audio / "jfk.wav")
    finally:
        player.close()
        runner.close()


def test_without_the_source_file_the_decoded_audio_is_played(qtbot: Any, tmp_path: Path, en_audio: Path) -> None:
    import subprocess

    pcm = tmp_path / "audio.pcm"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(en_audio / "jfk.wav"), "-f", "s16le", "-ac", "1",
                    "-ar", "16000", str(pcm)], check=True, timeout=DECODE_TIMEOUT_S)
    runner = TaskRunner()
    player = JobAudioPlayer(runner)
    try:
        _play_and_wait(qtbot, player, 3.0, source=tmp_path / "moved-away.wav", pcm=pcm)
        assert player.media_player.source().toLocalFile().endswith("job.wav")
    finally:
        player.close()
        runner.close()
