"""Decoding every container/codec users bring to 16 kHz mono PCM, and reading it back."""

from __future__ import annotations

import os
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sttdesk.audio.decode import (
    SAMPLE_RATE,
    DecodedAudio,
    PcmFile,
    decode_to_pcm,
    find_tool,
    load_audio,
)
from sttdesk.audio.errors import (
    AudioFileNotFoundError,
    AudioTooLongError,
    DecodeCancelledError,
    DecodeOutputError,
    FfmpegMissingError,
    UndecodableAudioError,
)
from sttdesk.audio.probe import probe
from tests.audio.signals import SOURCE_SECONDS, requires_ffmpeg, run_ffmpeg, write_wav

pytestmark = requires_ffmpeg

#: A small moving picture for the video containers (users drop screen recordings and phone videos).
VIDEO = ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={SOURCE_SECONDS}"]
#: Both channels carry the recording at its own level (ffmpeg's "-ac 2" would lower each by 3 dB).
STEREO = ["-af", "pan=stereo|c0=c0|c1=c0"]
#: (id, output file name, ffmpeg arguments; SRC is replaced by the real recording).
FORMATS = [
    ("wav-u8-8k", "u8.wav", ["-i", "SRC", "-c:a", "pcm_u8", "-ar", "8000"]),
    ("wav-s16-44k-stereo", "s16.wav", ["-i", "SRC", "-c:a", "pcm_s16le", "-ar", "44100", *STEREO]),
    ("wav-s24-48k-stereo", "s24.wav", ["-i", "SRC", "-c:a", "pcm_s24le", "-ar", "48000", *STEREO]),
    ("wav-s32-22k", "s32.wav", ["-i", "SRC", "-c:a", "pcm_s32le", "-ar", "22050"]),
    ("wav-f32-96k", "f32.wav", ["-i", "SRC", "-c:a", "pcm_f32le", "-ar", "96000"]),
    ("mp3", "a.mp3", ["-i", "SRC", "-c:a", "libmp3lame", "-b:a", "96k", "-ar", "44100", *STEREO]),
    ("m4a-aac", "a.m4a", ["-i", "SRC", "-c:a", "aac", "-b:a", "64k", "-ar", "44100"]),
    ("aac-adts", "a.aac", ["-i", "SRC", "-c:a", "aac", "-b:a", "64k", "-ar", "44100"]),
    ("mp4-video", "v.mp4", [*VIDEO, "-i", "SRC", "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
                            "-preset", "ultrafast", "-c:a", "aac", "-ar", "48000", *STEREO]),
    ("mov-video", "v.mov", [*VIDEO, "-i", "SRC", "-map", "0:v", "-map", "1:a", "-c:v", "mpeg4",
                            "-c:a", "aac", "-ar", "44100"]),
    ("mkv", "a.mkv", ["-i", "SRC", "-c:a", "libvorbis", "-ar", "44100", *STEREO]),
    ("webm", "a.webm", ["-i", "SRC", "-c:a", "libopus", "-b:a", "48k"]),
    ("ogg-vorbis", "a.ogg", ["-i", "SRC", "-c:a", "libvorbis", "-ar", "32000"]),
    ("ogg-opus", "a.opus", ["-i", "SRC", "-c:a", "libopus", "-b:a", "32k"]),
    ("flac", "a.flac", ["-i", "SRC", "-c:a", "flac", "-ar", "48000", "-sample_fmt", "s32"]),
    ("wma", "a.wma", ["-i", "SRC", "-c:a", "wmav2", "-b:a", "64k", "-ar", "44100"]),
]


def make_format(source: Path, folder: Path, name: str, args: list[str]) -> Path:
    out = folder / name
    run_ffmpeg(*[str(source) if a == "SRC" else a for a in args], out)
    return out


def envelope(samples: np.ndarray) -> np.ndarray:
    """Level per 20 ms in dB, floored at -45 dBFS (below which 8-bit and lossy codecs add their own noise).

    Compares recordings whatever the codec did to the waveform's phase.
    """
    frame = SAMPLE_RATE // 50
    frames = samples[: samples.size // frame * frame].reshape(-1, frame).astype(np.float64)
    return np.maximum(10 * np.log10((frames**2).mean(axis=1) + 1e-10), -45.0)


def best_alignment(reference: np.ndarray, decoded: np.ndarray, *, max_lag: int = 5) -> tuple[float, int]:
    """(correlation, lag in 20 ms frames) of the two envelopes at their best lag within ±max_lag.

    Codecs without gapless metadata (raw ADTS AAC, WMA) start a few tens of
    milliseconds late; that is the file, not the decoder.
    """
    ref, got = envelope(reference), envelope(decoded)
    n = min(ref.size, got.size) - max_lag
    scores = [(float(np.corrcoef(ref[max_lag:n], got[max_lag + lag:n + lag])[0, 1]), lag)
              for lag in range(-max_lag, max_lag + 1)]
    return max(scores)


@pytest.fixture(scope="module")
def reference(source_clip: Path) -> np.ndarray:
    return load_audio(source_clip)


@pytest.mark.parametrize(("name", "args"), [(f[1], f[2]) for f in FORMATS], ids=[f[0] for f in FORMATS])
def test_every_format_decodes_to_the_same_audio(
    name: str, args: list[str], source_clip: Path, reference: np.ndarray, tmp_path: Path
) -> None:
    made = make_format(source_clip, tmp_path, name, args)
    decoded = decode_to_pcm(made, tmp_path / "audio.pcm")

    assert decoded.sample_rate == SAMPLE_RATE
    assert decoded.duration == pytest.approx(SOURCE_SECONDS, abs=0.05)
    assert (tmp_path / "audio.pcm").stat().st_size == decoded.samples * 2
    with decoded.open() as pcm:
        samples = pcm.read()
    # The same speech at (nearly) the same times at the same level.
    correlation, lag = best_alignment(reference, samples)
    assert correlation > 0.9
    assert abs(lag) <= 3  # at most 60 ms of codec delay
    level_change = 10 * np.log10(np.mean(samples.astype(np.float64) ** 2) / np.mean(reference.astype(np.float64) ** 2))
    assert abs(level_change) < 1.0  # two equal channels average to the same level: not summed, not attenuated


def test_video_containers_are_probed_as_video_with_audio(source_clip: Path, tmp_path: Path) -> None:
    made = make_format(source_clip, tmp_path, "v.mp4", {f[1]: f[2] for f in FORMATS}["v.mp4"])
    info = probe(made)
    assert info.has_video
    assert info.stream.codec == "aac" and info.stream.channels == 2 and info.stream.sample_rate == 48000


@pytest.mark.parametrize(("codec", "depth"), [("pcm_u8", 8), ("pcm_s16le", 16), ("pcm_s24le", 24), ("pcm_s32le", 32)])
def test_wav_bit_depth_is_reported(codec: str, depth: int, source_clip: Path, tmp_path: Path) -> None:
    made = tmp_path / f"{codec}.wav"
    run_ffmpeg("-i", source_clip, "-c:a", codec, made)
    info = probe(made)
    assert info.stream.bit_depth == depth
    assert info.stream.codec == codec
    assert not info.has_video


def test_stereo_is_mixed_down_not_reduced_to_one_channel(reference: np.ndarray, tmp_path: Path) -> None:
    # Speech only on the right channel: taking the left channel alone would give silence.
    stereo = tmp_path / "right_only.wav"
    mono = write_wav(tmp_path / "mono.wav", reference)
    run_ffmpeg("-i", mono, "-af", "pan=stereo|c0=0*c0|c1=c0", stereo)
    samples = decode_to_pcm(stereo, tmp_path / "audio.pcm").open().read()
    correlation, lag = best_alignment(reference, samples)
    assert correlation > 0.95 and lag == 0
    # Averaged with a silent channel: half the amplitude (-6 dB), not nothing.
    level_change = 10 * np.log10(np.mean(samples.astype(np.float64) ** 2) / np.mean(reference.astype(np.float64) ** 2))
    assert level_change == pytest.approx(-6.0, abs=0.5)


def test_decode_is_atomic_and_leaves_no_temporary_file_on_failure(tmp_path: Path) -> None:
    bad = tmp_path / "noise.mp3"
    bad.write_bytes(np.random.default_rng(1).bytes(50_000))
    dest = tmp_path / "job" / "audio.pcm"
    with pytest.raises(UndecodableAudioError) as caught:
        decode_to_pcm(bad, dest)
    assert caught.value.user_message("en") != caught.value.user_message("vi")
    assert "noise.mp3" in caught.value.user_message("vi")
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_decode_reports_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    long_file = tmp_path / "tone.flac"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=600", long_file)

    reports: list[tuple[float, float | None]] = []
    done = decode_to_pcm(
        long_file, tmp_path / "full.pcm", progress=lambda s, total: reports.append((s, total)),
        expected_seconds=600.0, block_bytes=64 * 1024,
    )
    assert done.duration == pytest.approx(600.0, abs=0.01)
    assert reports[-1] == (pytest.approx(600.0, abs=0.01), 600.0)
    assert [s for s, _ in reports] == sorted(s for s, _ in reports)

    calls = 0

    def cancel_after_a_few_blocks() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    dest = tmp_path / "cancelled" / "audio.pcm"
    with pytest.raises(DecodeCancelledError):
        decode_to_pcm(long_file, dest, cancel=cancel_after_a_few_blocks, block_bytes=64 * 1024)
    assert not dest.exists() and list(dest.parent.iterdir()) == []

    # A threading.Event works as the cancel check too (what a job's cancel button sets).
    stop = threading.Event()
    stop.set()
    with pytest.raises(DecodeCancelledError):
        decode_to_pcm(long_file, dest, cancel=stop.is_set)


def test_decode_memory_stays_bounded(tmp_path: Path) -> None:
    # 20 minutes decode to 38 MB of PCM; the Python side must hold only a block or two.
    long_file = tmp_path / "long.flac"
    run_ffmpeg("-f", "lavfi", "-i", "anoisesrc=sample_rate=16000:amplitude=0.1:duration=1200", long_file)
    tracemalloc.start()
    try:
        decoded = decode_to_pcm(long_file, tmp_path / "audio.pcm", fsync=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.samples * 2 > 35_000_000
    assert peak < 8_000_000


def test_decode_stops_a_recording_longer_than_allowed(tmp_path: Path) -> None:
    src = tmp_path / "tone.wav"
    run_ffmpeg("-f", "lavfi", "-i", "sine=sample_rate=16000:duration=120", src)
    dest = tmp_path / "audio.pcm"
    with pytest.raises(AudioTooLongError):
        decode_to_pcm(src, dest, max_seconds=60, block_bytes=32 * 1024)
    assert not dest.exists()


def test_decode_errors_for_missing_input_and_unwritable_output(source_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(AudioFileNotFoundError) as caught:
        decode_to_pcm(tmp_path / "gone.mp3", tmp_path / "audio.pcm")
    assert "gone.mp3" in caught.value.user_message("en")

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DecodeOutputError) as caught_out:
        decode_to_pcm(source_clip, blocker / "audio.pcm")
    assert caught_out.value.transient  # a full disk or missing folder may be fixed; the input is fine


def test_ffmpeg_missing_has_an_install_hint(source_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("STTDESK_FFMPEG_DIR", raising=False)
    with pytest.raises(FfmpegMissingError) as caught:
        decode_to_pcm(source_clip, tmp_path / "audio.pcm")
    assert "apt install ffmpeg" in caught.value.user_message("en")
    assert "Hãy cài FFmpeg" in caught.value.user_message("vi")
    assert not caught.value.transient
    with pytest.raises(FfmpegMissingError):
        probe(source_clip)


def test_ffmpeg_dir_setting_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("ffmpeg", "ffprobe"):
        os.symlink(find_tool(name), tools / name)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("STTDESK_FFMPEG_DIR", str(tools))
    assert find_tool("ffmpeg") == str(tools / "ffmpeg")


def test_pcm_file_reads_time_ranges_without_loading_everything(source_clip: Path, reference: np.ndarray,
                                                               tmp_path: Path) -> None:
    decoded = decode_to_pcm(source_clip, tmp_path / "audio.pcm")
    assert isinstance(decoded, DecodedAudio)
    with PcmFile(decoded.path) as pcm:
        assert pcm.samples == decoded.samples == reference.size
        assert isinstance(pcm.pcm16, np.memmap)
        part = pcm.read(2.0, 3.5)
        assert part.dtype == np.float32 and part.size == int(1.5 * SAMPLE_RATE)
        np.testing.assert_allclose(part, reference[2 * SAMPLE_RATE: int(3.5 * SAMPLE_RATE)], atol=1 / 32768)
        raw = pcm.read_pcm16(2.0, 3.5)
        assert len(raw) == part.size * 2
        np.testing.assert_array_equal(np.frombuffer(raw, "<i2") / 32768.0, part)
        # Ranges past the end are clamped; reversed ones are refused.
        assert pcm.read(13.0, 99.0).size == pcm.samples - 13 * SAMPLE_RATE
        with pytest.raises(ValueError):
            pcm.read(3.0, 2.0)
        blocks = list(pcm.blocks(SAMPLE_RATE))
        assert sum(b.size for b in blocks) == pcm.samples
        assert len(blocks) == -(-pcm.samples // SAMPLE_RATE)


def test_pcm_file_of_an_empty_decode_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "audio.pcm"
    empty.write_bytes(b"")
    with PcmFile(empty) as pcm:
        assert pcm.samples == 0 and pcm.duration == 0.0
        assert pcm.read().size == 0
        assert list(pcm.blocks(1000)) == []


def test_load_audio_clips_a_time_range(source_clip: Path, reference: np.ndarray) -> None:
    assert reference.dtype == np.float32 and reference.ndim == 1
    assert reference.size / SAMPLE_RATE == pytest.approx(SOURCE_SECONDS, abs=0.001)
    clip = load_audio(source_clip, start=4.0, end=6.5)
    assert clip.size == pytest.approx(2.5 * SAMPLE_RATE, abs=2)
    np.testing.assert_allclose(clip, reference[4 * SAMPLE_RATE: 4 * SAMPLE_RATE + clip.size], atol=1e-4)
    with pytest.raises(ValueError):
        load_audio(source_clip, start=5.0, end=1.0)
    with pytest.raises(AudioFileNotFoundError):
        load_audio(source_clip.with_name("absent.flac"))
