"""The hybrid chunker on real speech: window-filling silence cuts, forced and fixed cuts, no silence sent."""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sttdesk.audio.chunker import (
    ChunkerOptions,
    ChunkingMode,
    analyse,
    frame_levels,
    plan,
    plan_chunks,
    speech_intervals,
    speech_seconds,
)
from sttdesk.audio.decode import SAMPLE_RATE, PcmFile, decode_to_pcm
from sttdesk.domain.chunks import ChunkSpan, CutKind
from tests.audio.signals import (
    requires_ffmpeg,
    silence,
    speech_with_pauses,
    squeeze_pauses,
    write_wav,
)

DEFAULTS = ChunkerOptions()
#: Level of the speech in the built signals: -23 dBFS RMS.
SPEECH_RMS = 10 ** (-23 / 20)


def noise(duration: float, dbfs: float, *, seed: int = 3) -> np.ndarray:
    """White noise whose RMS is ``dbfs``."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 10 ** (dbfs / 20), round(duration * SAMPLE_RATE)).astype(np.float32)


def assert_well_formed(chunks: list[ChunkSpan], duration: float, options: ChunkerOptions = DEFAULTS) -> None:
    """Indices in order, inside the file, no longer than the maximum, overlaps only after pause/forced/fixed cuts."""
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert 0.0 <= chunk.start < chunk.end <= duration + 1e-6
        assert chunk.duration <= options.max_chunk_seconds + 1e-6
        assert ChunkSpan.from_dict(chunk.to_dict()) == chunk
    for before, after in itertools.pairwise(chunks):
        assert after.start > before.start
        if before.cut is CutKind.SILENCE:
            assert after.start >= before.end and after.overlap_before == 0.0
        elif before.cut in (CutKind.PAUSE, CutKind.FORCED, CutKind.FIXED):
            assert after.overlap_before == pytest.approx(max(0.0, before.end - after.start), abs=1e-3)
        if before.cut is CutKind.PAUSE:  # the next chunk hears the speech leading into its first words
            assert after.overlap_before >= options.pause_overlap_seconds
    if chunks:
        assert chunks[-1].cut in (CutKind.END, CutKind.FIXED, CutKind.FORCED, CutKind.SILENCE)


def assert_covers(chunks: list[ChunkSpan], spans: list[tuple[float, float]]) -> None:
    """Every (start, end) of real speech lies inside the union of the chunks: nothing is lost."""
    covered = sorted((c.start, c.end) for c in chunks)
    for start, end in spans:
        position = start
        for c_start, c_end in covered:
            if c_start <= position < c_end:
                position = c_end
            if position >= end:
                break
        assert position >= end, f"speech {start:.2f}-{end:.2f} s is not in any chunk"


class Built:
    """A test signal and where its speech and its inserted silences are."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.speech: list[tuple[float, float]] = []
        self.silences: list[tuple[float, float]] = []
        self.length = 0

    def add(self, samples: np.ndarray, *, is_speech: bool) -> Built:
        start = self.length / SAMPLE_RATE
        self.parts.append(samples)
        self.length += samples.size
        (self.speech if is_speech else self.silences).append((start, self.length / SAMPLE_RATE))
        return self

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate(self.parts)

    @property
    def duration(self) -> float:
        return self.length / SAMPLE_RATE


@pytest.fixture(scope="module")
def speech_and_long_silences(clips: list[np.ndarray]) -> Built:
    """Pause-free real speech in pieces of 8-16 s, separated by 1.5-3 s silences at known places.

    Each speaker is brought to -23 dBFS RMS, as in one recording of a meeting,
    so added noise sets a known signal-to-noise ratio.
    """
    rng = np.random.default_rng(11)
    built = Built()
    for clip in clips[:14]:
        speech = squeeze_pauses(clip)
        speech *= SPEECH_RMS / np.sqrt(np.mean(speech.astype(np.float64) ** 2))
        built.add(speech, is_speech=True)
        built.add(silence(rng.uniform(1.5, 3.0)), is_speech=False)
    return built


# --- the seed's cases (§6.6) -------------------------------------------------------


@requires_ffmpeg
def test_ten_seconds_make_one_chunk(en_audio: Path, tmp_path: Path) -> None:
    decoded = decode_to_pcm(en_audio / "1081-125237-0000.flac", tmp_path / "audio.pcm")
    with decoded.open() as pcm:
        chunks = plan_chunks(pcm)
        speech = speech_intervals(pcm)
    assert decoded.duration == pytest.approx(10.34, abs=0.01)
    assert len(chunks) == 1
    assert chunks[0].cut is CutKind.END and chunks[0].overlap_before == 0.0
    assert chunks[0].start <= speech[0][0] and chunks[0].end >= speech[-1][1]


def test_sixty_seconds_make_two_to_four_chunks(clips: list[np.ndarray]) -> None:
    samples = speech_with_pauses(clips, 60.0, seed=1)
    chunks = plan_chunks(samples)
    assert 2 <= len(chunks) <= 4
    assert_well_formed(chunks, 60.0)
    assert all(c.duration <= DEFAULTS.max_chunk_seconds for c in chunks)


def test_ten_minutes_make_about_thirty_second_chunks(clips: list[np.ndarray]) -> None:
    samples = speech_with_pauses(clips, 600.0, seed=2)
    result = plan(samples)
    chunks = list(result.chunks)
    assert_well_formed(chunks, 600.0)
    speech = result.analysis.speech_seconds
    # Chunks fill whisper's 30 s window: as few as the speech allows, not many more.
    assert math.ceil(speech / DEFAULTS.target_chunk_seconds) <= len(chunks) <= 600 / 20
    assert np.mean([c.duration for c in chunks]) >= 20.0
    assert sum(c.duration > 30.0 for c in chunks) <= 2  # past the window only where no silence fits
    assert_covers(chunks, list(result.analysis.speech))


def test_cuts_fall_inside_the_silences(speech_and_long_silences: Built) -> None:
    built = speech_and_long_silences
    chunks = plan_chunks(built.samples)
    assert_well_formed(chunks, built.duration)
    assert all(c.cut in (CutKind.SILENCE, CutKind.END) for c in chunks)
    for before, after in itertools.pairwise(chunks):
        # Both the end of one chunk and the start of the next lie in the same inserted silence.
        holding = [s for s in built.silences if s[0] <= before.end <= s[1] and s[0] <= after.start <= s[1]]
        assert len(holding) == 1, f"cut {before.end:.2f}/{after.start:.2f} s is not in an inserted silence"
    assert_covers(chunks, built.speech)
    # Speech is packed to fill the window, not cut at every silence.
    assert len(chunks) < len(built.silences) / 1.5
    assert all(c.duration <= DEFAULTS.target_chunk_seconds + 1e-6 for c in chunks[:-1])


def test_silence_is_never_sent(speech_and_long_silences: Built) -> None:
    built = speech_and_long_silences
    samples = np.concatenate([silence(25.0), built.samples[: 40 * SAMPLE_RATE], silence(70.0),
                              built.samples[40 * SAMPLE_RATE: 70 * SAMPLE_RATE], silence(30.0)])
    duration = samples.size / SAMPLE_RATE
    chunks = plan_chunks(samples)
    assert_well_formed(chunks, duration)
    pad = DEFAULTS.padding_seconds
    # Leading, trailing and the long inner silence are outside every chunk (but for the padding).
    assert chunks[0].start >= 25.0 - pad - 1e-6
    assert chunks[-1].end <= duration - 30.0 + pad + 1e-6
    assert not any(c.start < 65.0 + pad and c.end > 135.0 - pad for c in chunks)
    assert sum(speech_seconds([(65.0 + pad, 135.0 - pad)], c.start, c.end) for c in chunks) == 0.0


def test_no_silence_at_all_gives_forced_cuts_with_overlap(continuous_speech: np.ndarray) -> None:
    result = plan(continuous_speech)
    chunks = list(result.chunks)
    duration = continuous_speech.size / SAMPLE_RATE
    assert result.mode is ChunkingMode.HYBRID
    assert_well_formed(chunks, duration)
    assert len(chunks) >= 3
    forced = chunks[:-1]
    assert all(c.cut is CutKind.FORCED for c in forced)
    for before, after in itertools.pairwise(chunks):
        assert after.overlap_before == pytest.approx(DEFAULTS.forced_overlap_seconds)
        assert after.start == pytest.approx(before.end - DEFAULTS.forced_overlap_seconds, abs=1e-3)
    levels = result.analysis.levels
    fs = result.analysis.frame_seconds
    for chunk in forced:
        # One window each, cut at the quietest moment of the search window, not blindly at the limit.
        assert chunk.duration <= DEFAULTS.target_chunk_seconds + 1e-6
        assert chunk.duration >= DEFAULTS.target_chunk_seconds - DEFAULTS.forced_search_seconds - 1e-6
        window = levels[int((chunk.start + 24.5) / fs): int((chunk.start + 29.5) / fs)]
        at_cut = levels[int((chunk.end - 0.1) / fs): int((chunk.end + 0.1) / fs)]
        assert np.mean(at_cut) < np.percentile(window, 25)
    assert_covers(chunks, [(0.0, duration)])


@pytest.mark.parametrize("kind", ["tone", "noise"])
def test_no_contrast_falls_back_to_fixed_overlapping_pieces(kind: str) -> None:
    t = np.arange(100 * SAMPLE_RATE) / SAMPLE_RATE
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32) if kind == "tone" else noise(100.0, -25.0)
    result = plan(samples)
    chunks = list(result.chunks)
    assert result.mode is ChunkingMode.FIXED and not result.analysis.has_contrast
    assert_well_formed(chunks, 100.0)
    assert [c.start for c in chunks] == pytest.approx([0.0, 25.0, 50.0, 75.0])
    assert [c.cut for c in chunks] == [CutKind.FIXED] * 3 + [CutKind.END]
    assert [c.overlap_before for c in chunks] == [0.0, 5.0, 5.0, 5.0]
    assert chunks[-1].end == pytest.approx(100.0)


def test_fixed_mode_on_request_skips_silent_pieces(speech_and_long_silences: Built) -> None:
    built = speech_and_long_silences
    samples = np.concatenate([built.samples[: 50 * SAMPLE_RATE], silence(80.0), built.samples[: 20 * SAMPLE_RATE]])
    options = ChunkerOptions(mode=ChunkingMode.FIXED)
    result = plan(samples, options=options)
    chunks = list(result.chunks)
    assert result.mode is ChunkingMode.FIXED
    assert_well_formed(chunks, samples.size / SAMPLE_RATE, options)
    assert all(c.duration <= 30.0 + 1e-6 for c in chunks)
    # No piece lies wholly in the 80 s silence; the first piece after it does not claim an overlap.
    assert not any(c.start >= 50.0 and c.end <= 130.0 for c in chunks)
    after_gap = next(c for c in chunks if c.start >= 50.0)
    assert after_gap.overlap_before == 0.0
    assert_covers(chunks, [(s, e) for s, e in result.analysis.speech])


def test_pure_silence_gives_no_chunks() -> None:
    assert plan_chunks(silence(120.0)) == []
    assert speech_intervals(silence(120.0)) == []
    dithered = noise(120.0, -85.0)  # digital silence with dither, as many editors export it
    assert plan_chunks(dithered) == []
    assert plan_chunks(np.zeros(0, dtype=np.float32)) == []


@pytest.mark.parametrize("noise_dbfs", [-45.0, -35.0, -30.0])  # 22, 12 and 7 dB below the speech
def test_a_noisy_floor_still_finds_the_pauses(speech_and_long_silences: Built, noise_dbfs: float) -> None:
    built = speech_and_long_silences
    noisy = built.samples + noise(built.duration, noise_dbfs)
    result = plan(noisy)
    chunks = list(result.chunks)
    assert result.analysis.threshold_dbfs is not None
    assert result.analysis.threshold_dbfs >= noise_dbfs  # adapted upward, above the noise
    assert all(c.cut in (CutKind.SILENCE, CutKind.END) for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert any(s[0] <= before.end <= s[1] and s[0] <= after.start <= s[1] for s in built.silences)
    assert_covers(chunks, built.speech)


def test_a_quiet_recording_is_not_taken_for_silence(speech_and_long_silences: Built) -> None:
    built = speech_and_long_silences
    quiet = built.samples * 10 ** (-30 / 20)  # speech at -53 dBFS RMS, peaks near -45, under the -40 default
    result = plan(quiet)
    assert result.analysis.threshold_dbfs is not None and result.analysis.threshold_dbfs < -40.0
    assert_covers(list(result.chunks), built.speech)
    assert len(result.chunks) == len(plan_chunks(built.samples))


def test_short_real_pauses_are_cut_in_when_there_are_no_silences(continuous_speech: np.ndarray) -> None:
    # Phrases of 6-8 s separated by half-second pauses: no 1 s silence anywhere.
    rng = np.random.default_rng(5)
    built = Built()
    position = 0
    while position + 8 * SAMPLE_RATE < continuous_speech.size:
        length = round(rng.uniform(6.0, 8.0) * SAMPLE_RATE)
        built.add(continuous_speech[position:position + length], is_speech=True)
        built.add(silence(0.5), is_speech=False)
        position += length
    result = plan(built.samples)
    chunks = list(result.chunks)
    assert_well_formed(chunks, built.duration)
    # No forced cut: every cut is in a half-second pause, so the next chunk starts a few seconds
    # earlier (on a quiet moment) and whisper hears the sentence before its first words.
    assert all(c.cut in (CutKind.PAUSE, CutKind.END) for c in chunks) and len(chunks) > 2
    for before, after in itertools.pairwise(chunks):
        assert any(a <= before.end <= b for a, b in built.silences)
        latest = before.end - DEFAULTS.pause_overlap_seconds  # a half-second pause is cut in its middle
        assert latest - 1.0 - 0.05 <= after.start <= latest + 0.05
        assert after.start > before.start + DEFAULTS.min_chunk_seconds - DEFAULTS.pause_overlap_seconds
    # Without the overlap the chunks meet in the pauses, as after silences.
    bare = plan_chunks(built.samples, options=ChunkerOptions(pause_overlap_seconds=0.0))
    assert all(c.cut in (CutKind.SILENCE, CutKind.END) and c.overlap_before == 0.0 for c in bare)
    for before, after in itertools.pairwise(bare):
        assert any(a <= before.end <= b and a <= after.start <= b for a, b in built.silences)
    assert all(c.duration <= DEFAULTS.target_chunk_seconds + 1e-6 for c in chunks)
    assert_covers(chunks, built.speech)
    # Pauses are places to cut, not silence: the speech intervals run through them.
    assert len(result.analysis.speech) == 1
    # With pauses not allowed as cuts, the same speech needs forced cuts.
    strict = plan_chunks(built.samples, options=ChunkerOptions(min_pause_seconds=1.0))
    assert any(c.cut is CutKind.FORCED for c in strict)


@pytest.mark.parametrize(("speech_before", "expected_cut"), [(20.0, "pause"), (24.0, "silence")])
def test_a_silence_is_preferred_to_a_pause_unless_the_pause_fills_much_more(
    continuous_speech: np.ndarray, speech_before: float, expected_cut: str
) -> None:
    s = continuous_speech
    first = s[: round(speech_before * SAMPLE_RATE)]
    middle = s[30 * SAMPLE_RATE: round((30 + 27.0 - speech_before - 1.2) * SAMPLE_RATE)]
    samples = np.concatenate([first, silence(1.2), middle, silence(0.5), s[60 * SAMPLE_RATE: 90 * SAMPLE_RATE]])
    silence_at = (speech_before, speech_before + 1.2)
    pause_at = (27.0, 27.5)
    chunks = plan_chunks(samples)
    low, high = silence_at if expected_cut == "silence" else pause_at
    assert low <= chunks[0].end <= high
    if expected_cut == "silence":  # nothing before a real silence is needed to understand what follows
        assert chunks[0].cut is CutKind.SILENCE and low <= chunks[1].start <= high
    else:  # after a mere pause the next chunk hears the last seconds before it again
        assert chunks[0].cut is CutKind.PAUSE
        latest = chunks[0].end - DEFAULTS.pause_overlap_seconds
        assert latest - 1.0 - 0.05 <= chunks[1].start <= latest + 0.05


def test_a_long_inner_silence_ends_a_chunk_even_when_both_sides_would_fit(continuous_speech: np.ndarray) -> None:
    s = continuous_speech
    samples = np.concatenate([s[: 6 * SAMPLE_RATE], silence(12.0), s[10 * SAMPLE_RATE: 18 * SAMPLE_RATE]])
    chunks = plan_chunks(samples)
    assert [c.cut for c in chunks] == [CutKind.SILENCE, CutKind.END]
    assert chunks[0].end <= 6.0 + DEFAULTS.padding_seconds + 0.05
    assert chunks[1].start >= 18.0 - DEFAULTS.padding_seconds - 0.05
    # Allowed to listen through 12 s of silence, the chunker sends one window.
    assert len(plan_chunks(samples, options=ChunkerOptions(max_inner_silence_seconds=15.0))) == 1


def test_a_short_last_chunk_joins_the_previous_one(continuous_speech: np.ndarray) -> None:
    samples = np.concatenate([continuous_speech[: 28 * SAMPLE_RATE], silence(1.5),
                              continuous_speech[40 * SAMPLE_RATE: 42 * SAMPLE_RATE]])
    chunks = plan_chunks(samples)
    assert len(chunks) == 1 and chunks[0].cut is CutKind.END
    assert chunks[0].end == pytest.approx(samples.size / SAMPLE_RATE, abs=0.3)
    # With a maximum that does not allow it, the tail stays a chunk of its own, cut in the silence.
    strict = ChunkerOptions(max_chunk_seconds=30.0)
    split = plan_chunks(samples, options=strict)
    assert [c.cut for c in split] == [CutKind.SILENCE, CutKind.END]
    assert 28.0 <= split[0].end <= 29.5 and split[1].duration < 5.0


def test_the_fullest_window_wins_but_a_longer_silence_nearly_as_full_is_preferred(
    continuous_speech: np.ndarray,
) -> None:
    s = continuous_speech
    # Speech 0-12, a 3 s pause, speech 15-26, a 1.1 s pause, speech 27.1-50.
    samples = np.concatenate([s[: 12 * SAMPLE_RATE], silence(3.0), s[20 * SAMPLE_RATE: 31 * SAMPLE_RATE],
                              silence(1.1), s[40 * SAMPLE_RATE: 63 * SAMPLE_RATE]])
    chunks = plan_chunks(samples)
    assert 26.0 <= chunks[0].end <= 27.1  # the 1.1 s pause: a 26 s chunk beats a 12 s one
    slack = ChunkerOptions(silence_slack_seconds=15.0)
    assert 12.0 <= plan_chunks(samples, options=slack)[0].end <= 15.0  # the 3 s pause, when allowed to trade fill


def test_speech_intervals_mark_speech_and_exclude_the_silences(speech_and_long_silences: Built) -> None:
    built = speech_and_long_silences
    intervals = speech_intervals(built.samples)
    assert intervals == sorted(intervals)
    assert all(a < b for a, b in intervals)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(intervals))
    for start, end in built.silences:
        if end - start >= 1.2:
            assert speech_seconds(intervals, start + 0.1, end - 0.1) == 0.0
    heard = sum(speech_seconds(intervals, a, b) for a, b in built.speech)
    assert heard >= 0.97 * sum(b - a for a, b in built.speech)


def test_speech_seconds_sums_overlaps() -> None:
    speech = [(1.0, 2.0), (3.0, 5.0), (8.0, 9.0)]
    assert speech_seconds(speech, 0.0, 10.0) == pytest.approx(4.0)
    assert speech_seconds(speech, 1.5, 3.5) == pytest.approx(1.0)
    assert speech_seconds(speech, 5.0, 8.0) == 0.0
    assert speech_seconds(speech, 4.0, 4.0) == 0.0
    assert speech_seconds([], 0.0, 1.0) == 0.0


@requires_ffmpeg
def test_a_pcm_file_and_its_samples_give_the_same_plan(speech_and_long_silences: Built, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "speech.wav", speech_and_long_silences.samples)
    decoded = decode_to_pcm(wav, tmp_path / "audio.pcm")
    with PcmFile(decoded.path) as pcm:
        from_file = plan_chunks(pcm)
        int16 = np.array(pcm.pcm16)
    assert from_file == plan_chunks(int16)
    assert from_file == plan_chunks(int16.astype(np.float32) / 32768.0)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
@requires_ffmpeg
def test_synthetic_speech_with_marked_pauses_end_to_end(tmp_path: Path) -> None:
    # Sentences separated by 2.5 s breaks; espeak-ng writes 22 kHz audio that is resampled on decode.
    sentence = "The committee reviewed the budget for the new library and agreed to meet again next week."
    ssml = "<speak>" + "".join(f"{sentence} <break time=\"2500ms\"/>" for _ in range(8)) + "</speak>"
    wav = tmp_path / "tts.wav"
    subprocess.run(["espeak-ng", "-m", "-w", str(wav), ssml], check=True, capture_output=True)
    decoded = decode_to_pcm(wav, tmp_path / "audio.pcm")
    with decoded.open() as pcm:
        result = plan(pcm)
    speech = result.analysis.speech
    pauses = [(a_end, b_start) for (_, a_end), (b_start, _) in itertools.pairwise(speech)]
    assert sum(1 for a, b in pauses if b - a > 2.0) >= 7  # the eight sentences are found as speech
    for before, after in zip(result.chunks, result.chunks[1:]):
        assert before.cut is CutKind.SILENCE
        assert any(a <= before.end and after.start <= b for a, b in pauses if b - a > 2.0)
    assert all(c.duration <= DEFAULTS.target_chunk_seconds for c in result.chunks)


def test_frame_levels_are_in_dbfs() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    sine = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    assert np.median(frame_levels(sine)) == pytest.approx(-3.01, abs=0.05)
    assert np.median(frame_levels(0.01 * sine)) == pytest.approx(-43.01, abs=0.05)
    assert frame_levels(np.zeros(SAMPLE_RATE, np.float32)).max() == pytest.approx(-100.0)
    int16 = (sine * 32767).astype(np.int16)
    np.testing.assert_allclose(frame_levels(int16), frame_levels(sine), atol=0.01)
    assert frame_levels(sine[:1605]).size == 11  # ten whole 10 ms frames and a partial one
    with pytest.raises(ValueError):
        frame_levels(np.zeros((2, 100), np.float32))


def test_analysis_reports_floor_and_threshold(speech_and_long_silences: Built) -> None:
    noisy = speech_and_long_silences.samples + noise(speech_and_long_silences.duration, -35.0)
    analysis = analyse(noisy)
    assert analysis.noise_floor_dbfs == pytest.approx(-35.0, abs=1.5)
    assert analysis.threshold_dbfs == pytest.approx(-35.0 + DEFAULTS.noise_margin_db, abs=1.5)
    assert analysis.speech_level_dbfs > analysis.threshold_dbfs + 10


@pytest.mark.parametrize(
    "bad",
    [
        {"min_chunk_seconds": 40.0},
        {"target_chunk_seconds": 50.0},
        {"forced_overlap_seconds": 30.0},
        {"pause_overlap_seconds": -1.0},
        {"pause_overlap_seconds": 5.0},
        {"fixed_overlap_seconds": 30.0},
        {"min_silence_seconds": 0.0},
        {"min_pause_seconds": 2.0},
        {"max_inner_silence_seconds": 0.5},
        {"noise_percentile": 100.0},
        {"mode": "sometimes"},
    ],
)
def test_inconsistent_options_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ChunkerOptions(**bad)  # type: ignore[arg-type]


def test_mode_may_be_given_as_text_from_settings() -> None:
    assert ChunkerOptions(mode="fixed").mode is ChunkingMode.FIXED  # type: ignore[arg-type]
