"""Probing and validating inputs: every bad file gets its own clear, bilingual, permanent error."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sttdesk.audio.errors import (
    AudioFileNotFoundError,
    AudioFileNotReadableError,
    AudioTooLongError,
    EmptyAudioError,
    FileTooLargeError,
    InvalidAudioError,
    NoAudioStreamError,
    TruncatedAudioError,
    UndecodableAudioError,
)
from sttdesk.audio.probe import AudioLimits, measure_duration, validate_input
from sttdesk.domain.errors import SttdeskError, UnsupportedLanguageError
from tests.audio.signals import SOURCE_SECONDS, requires_ffmpeg, run_ffmpeg

pytestmark = requires_ffmpeg


def assert_user_facing(error: SttdeskError, file_name: str | None) -> None:
    """A permanent error with a stable code and distinct English and Vietnamese messages naming the file."""
    assert not error.transient
    assert error.code and error.code != "error"
    english, vietnamese = error.user_message("en"), error.user_message("vi")
    assert english and vietnamese and english != vietnamese
    assert "{" not in english and "{" not in vietnamese  # every placeholder was filled
    if file_name is not None:
        assert file_name in english and file_name in vietnamese
    data = error.to_dict()
    assert data["message_en"] == english and data["message_vi"] == vietnamese


def half_of(path: Path, folder: Path) -> Path:
    """The first half of a file's bytes: an interrupted copy or download."""
    cut = folder / f"half_{path.name}"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return cut


# --- good inputs --------------------------------------------------------------


def test_validate_accepts_a_real_recording(source_clip: Path) -> None:
    info = validate_input(source_clip, "en")
    assert info.duration == pytest.approx(SOURCE_SECONDS, abs=0.01)
    assert info.format_name == "flac"
    assert info.size_bytes == source_clip.stat().st_size
    assert not info.has_video and not info.duration_measured
    stream = info.stream
    assert (stream.codec, stream.sample_rate, stream.channels, stream.bit_depth) == ("flac", 16000, 1, 16)
    assert info.to_dict()["audio_streams"][0]["codec"] == "flac"


@pytest.mark.parametrize("language", ["en", "vi", "auto", " VI "])
def test_supported_languages_are_accepted(language: str, source_clip: Path) -> None:
    assert validate_input(source_clip, language).duration > 14


def test_cover_art_is_not_video(source_clip: Path, tmp_path: Path) -> None:
    song = tmp_path / "with_cover.mp3"
    cover = tmp_path / "cover.png"
    run_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", cover)
    run_ffmpeg("-i", source_clip, "-i", cover, "-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame",
               "-c:v", "png", "-disposition:v", "attached_pic", song)
    info = validate_input(song, "en")
    assert not info.has_video
    assert info.stream.codec == "mp3"


def test_the_default_audio_stream_is_chosen(source_clip: Path, tmp_path: Path) -> None:
    # A film with a commentary track first and the main track marked default.
    film = tmp_path / "two_tracks.mkv"
    run_ffmpeg("-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={SOURCE_SECONDS}", "-i", source_clip,
               "-map", "0:a", "-map", "1:a", "-c:a", "libvorbis",
               "-disposition:a:0", "0", "-disposition:a:1", "default", film)
    info = validate_input(film, "en")
    assert len(info.audio_streams) == 2
    assert info.stream.index == 1 and info.stream.sample_rate == 16000


# --- containers that do not know or tell their length ----------------------------


def test_wav_with_a_streaming_placeholder_size_is_measured(source_clip: Path, tmp_path: Path) -> None:
    wav = tmp_path / "streamed.wav"
    run_ffmpeg("-i", source_clip, wav)
    data = bytearray(wav.read_bytes())
    at = data.find(b"data")
    data[at + 4: at + 8] = struct.pack("<I", 0xFFFFFFFF)  # what a recorder writes before it knows the size
    wav.write_bytes(bytes(data))
    info = validate_input(wav, "en")
    assert info.duration == pytest.approx(SOURCE_SECONDS, abs=0.05)


def test_webm_without_a_duration_is_measured(source_clip: Path, tmp_path: Path) -> None:
    # Written to a pipe, the WebM muxer cannot go back to fill in the duration (like a browser recording).
    webm = tmp_path / "recorded.webm"
    with webm.open("wb") as out:
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(source_clip), "-c:a", "libopus",
                        "-f", "webm", "pipe:1"], stdout=out, check=True)
    info = validate_input(webm, "en")
    assert info.duration_measured
    assert info.duration == pytest.approx(SOURCE_SECONDS, abs=0.1)


def test_mp3_without_a_xing_header_is_measured_not_estimated(source_clip: Path, tmp_path: Path) -> None:
    # Variable bit rate and no frame count: ffprobe would guess the length from the first frame's bit rate.
    mp3 = tmp_path / "vbr.mp3"
    run_ffmpeg("-i", source_clip, "-c:a", "libmp3lame", "-q:a", "7", "-write_xing", "0", mp3)
    info = validate_input(mp3, "en")
    assert info.duration_measured
    assert info.duration == pytest.approx(SOURCE_SECONDS, abs=0.15)
    assert measure_duration(mp3) == pytest.approx(info.duration)


# --- bad inputs -------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileNotFoundError) as caught:
        validate_input(tmp_path / "meeting.m4a", "en")
    assert_user_facing(caught.value, "meeting.m4a")


def test_a_folder_is_not_readable_as_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "recordings.mp3"
    folder.mkdir()
    with pytest.raises(AudioFileNotReadableError) as caught:
        validate_input(folder, "en")
    assert_user_facing(caught.value, "recordings.mp3")


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudioError) as caught:
        validate_input(empty, "en")
    assert_user_facing(caught.value, "empty.wav")


def test_a_valid_file_with_no_samples_is_empty(tmp_path: Path) -> None:
    header_only = tmp_path / "header_only.wav"
    run_ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", header_only)
    with pytest.raises(EmptyAudioError) as caught:
        validate_input(header_only, "en")
    assert_user_facing(caught.value, "header_only.wav")


def test_video_without_sound(tmp_path: Path) -> None:
    silent_film = tmp_path / "screen.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3", "-c:v", "mpeg4", silent_film)
    with pytest.raises(NoAudioStreamError) as caught:
        validate_input(silent_film, "en")
    assert_user_facing(caught.value, "screen.mp4")


@pytest.mark.parametrize("name", ["noise.mp3", "noise.m4a", "noise.wav"])
def test_random_bytes_with_an_audio_name(name: str, tmp_path: Path) -> None:
    fake = tmp_path / name
    fake.write_bytes(np.random.default_rng(7).bytes(200_000))
    with pytest.raises(UndecodableAudioError) as caught:
        validate_input(fake, "en")
    assert not isinstance(caught.value, TruncatedAudioError)
    assert_user_facing(caught.value, name)


@pytest.mark.parametrize("name", ["notes.txt", "settings.toml", "photo.png"])
def test_documents_and_pictures_are_not_recordings(name: str, tmp_path: Path) -> None:
    # ffmpeg opens text as "tty" video or "lrc" lyrics, and a picture as a one-frame video.
    path = tmp_path / name
    if name.endswith(".png"):
        run_ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=64x64", "-frames:v", "1", path)
    else:
        path.write_text("[meeting]\nnotes = \"nothing to hear here\"\n" * 50, encoding="utf-8")
    with pytest.raises(UndecodableAudioError) as caught:
        validate_input(path, "en")
    assert not isinstance(caught.value, NoAudioStreamError)
    assert_user_facing(caught.value, name)


TRUNCATABLE = {
    "mp3": ["-c:a", "libmp3lame"],
    "flac": ["-c:a", "flac"],
    "m4a": ["-c:a", "aac", "-movflags", "+faststart"],  # index first: the data is what is missing
    "mp4": ["-c:a", "aac"],  # index last: cutting the file loses it
    "wav": ["-c:a", "pcm_s16le"],
}


@pytest.mark.parametrize("extension", list(TRUNCATABLE))
def test_a_file_cut_in_half_is_truncated(extension: str, source_clip: Path, tmp_path: Path) -> None:
    whole = tmp_path / f"talk.{extension}"
    run_ffmpeg("-i", source_clip, *TRUNCATABLE[extension], whole)
    assert validate_input(whole, "en").duration == pytest.approx(SOURCE_SECONDS, abs=0.1)

    half = half_of(whole, tmp_path)
    with pytest.raises(TruncatedAudioError) as caught:
        validate_input(half, "en")
    assert_user_facing(caught.value, half.name)
    assert isinstance(caught.value, InvalidAudioError)


def test_a_cut_ogg_file_is_accepted_for_what_it_holds(source_clip: Path, tmp_path: Path) -> None:
    # Ogg announces no length anywhere: half an Ogg file is a valid, shorter recording
    # (only a missing end-of-stream flag hints otherwise, and some recorders never write one).
    whole = tmp_path / "talk.ogg"
    run_ffmpeg("-i", source_clip, "-c:a", "libvorbis", whole)
    info = validate_input(half_of(whole, tmp_path), "en")
    assert 5.0 < info.duration < 9.0


def test_over_the_size_limit(source_clip: Path) -> None:
    limits = AudioLimits(max_bytes=10_000)
    with pytest.raises(FileTooLargeError) as caught:
        validate_input(source_clip, "en", limits=limits)
    assert_user_facing(caught.value, source_clip.name)
    assert "MB" in caught.value.user_message("en")


def test_over_the_duration_limit(source_clip: Path) -> None:
    with pytest.raises(AudioTooLongError) as caught:
        validate_input(source_clip, "en", limits=AudioLimits(max_seconds=10))
    assert_user_facing(caught.value, source_clip.name)
    assert validate_input(source_clip, "en", limits=AudioLimits(max_seconds=15)).duration < 15


def test_the_default_limits_are_2_gb_and_12_hours() -> None:
    limits = AudioLimits()
    assert limits.max_bytes == 2 * 1024**3
    assert limits.max_seconds == 12 * 3600
    with pytest.raises(ValueError):
        AudioLimits(max_bytes=0)


@pytest.mark.parametrize("language", ["fr", "", "english", "zz"])
def test_unsupported_language_is_rejected_before_the_file_is_read(language: str, tmp_path: Path) -> None:
    # Even for a file that does not exist: the cheapest check comes first.
    with pytest.raises(UnsupportedLanguageError) as caught:
        validate_input(tmp_path / "absent.mp3", language)
    assert_user_facing(caught.value, None)
    assert "en" in caught.value.user_message("en")
