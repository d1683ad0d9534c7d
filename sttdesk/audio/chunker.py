"""Silence-aware chunking: where to cut a recording so that each piece fills one whisper window.

Whisper pads every input to a 30 s window, so a 6 s chunk costs as much as a
29 s one, and a 31 s chunk costs two. The chunker therefore packs speech into
pieces of just under 30 s and cuts them in the silences between sentences, where
no word is split and the merge needs no de-duplication (DESIGN.md §3):

1. **Energy per frame** (10 ms), computed block by block over the decoded file,
   so an hour of audio costs 1.4 MB of levels and no more RAM than one block.
2. **Threshold**: −40 dBFS, raised to the file's noise floor (a low percentile
   of the frame levels) plus a margin, and lowered for quiet recordings so it
   stays well below the speech level. When speech and floor are too close
   (constant noise, a tone, music) there is no usable contrast and the fixed
   grid below is used instead.
3. **Speech and phrases**: frames above the threshold, joined across pauses
   shorter than the minimum silence (1 s), are speech; isolated blips (a click,
   a bump shorter than ``min_speech_seconds``) are not. What lies between, before
   the first and after the last is silence and is never sent to an engine. The
   speech is also split into phrases at shorter pauses (from 0.4 s) that are
   really quiet: 15 dB under the second of speech on each side, which soft
   speech that merely dips under the threshold seldom is.
4. **Packing**: from a chunk's start, the cut goes where it gives the fullest
   chunk not longer than the target (29.5 s): into a silence, or into a short
   pause if that gives at least 4 s more; among cuts nearly as full, the
   longest silence wins (a paragraph break beats a breath). After a cut in a
   short pause the next chunk starts 3 s earlier (at the quietest moment of the
   second before that): a chunk opening with a short sentence fragment is
   misread by whisper without the sentence before it ("M. de Villefort" heard
   as "and develop herd"); after a real silence it needs no such context.
   A silence of 8 s or
   more always ends a chunk, however short. Only when no cut fits the target
   does a chunk grow past it, up to the maximum (45 s), to reach the next
   pause; with none there either, it is cut at the quietest moment of its last
   seconds before the target (a forced cut) and the next chunk starts 3 s
   earlier, so the words at the cut are heard twice and the merge can resolve
   them.
5. **Fixed grid**: 30 s pieces overlapping by 5 s, for signals without contrast
   or on request; pieces holding no sound are still dropped.

Chunks shorter than the minimum (5 s) appear only where nothing else fits, and
a short last chunk is merged into the one before when the two fit the maximum.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..domain.chunks import ChunkSpan, CutKind
from .decode import INT16_SCALE, SAMPLE_RATE, PcmFile

log = logging.getLogger(__name__)

#: Frame levels are clamped here: the level of digital silence.
DIGITAL_SILENCE_DBFS = -100.0
#: Frames at or below this are treated as digital silence (zeros, dither) when estimating the noise floor.
DIGITAL_SILENCE_LIMIT_DBFS = -90.0
#: Speech on each side of a short pause that its quietness is compared with.
PAUSE_CONTEXT_SECONDS = 1.0
#: A chunk after a pause cut starts at the quietest moment of this many seconds before its overlap.
PAUSE_OVERLAP_SEARCH_SECONDS = 1.0
#: Samples converted to float at a time while computing levels (bounds the memory used).
LEVEL_BLOCK_SECONDS = 60.0

#: The time axis of a speech interval list: (start, end) pairs in seconds.
Interval = tuple[float, float]
AudioSource = PcmFile | np.ndarray


class ChunkingMode(str, Enum):
    """How cut points are chosen."""

    #: Cut in silences; forced cuts with overlap where there are none; fixed grid without contrast.
    HYBRID = "hybrid"
    #: Always the fixed grid (fixed_chunk_seconds with fixed_overlap_seconds).
    FIXED = "fixed"


@dataclass(frozen=True, slots=True)
class ChunkerOptions:
    """Tuning of the chunker; defaults are the seed's values (DESIGN.md §3) where it names one."""

    #: Cut strategy; see :class:`ChunkingMode`.
    mode: ChunkingMode = ChunkingMode.HYBRID
    #: Frames below this level are silence (before adapting to the noise floor).
    threshold_dbfs: float = -40.0
    #: The noise floor is this percentile of the frame levels.
    noise_percentile: float = 10.0
    #: The threshold is at least this far above the noise floor.
    noise_margin_db: float = 6.0
    #: The speech level is this percentile of the audible frame levels.
    speech_percentile: float = 99.0
    #: The threshold is lowered (not below floor + margin) to stay this far below the speech level.
    speech_margin_db: float = 15.0
    #: Speech level minus noise floor below this: no usable contrast, the fixed grid is used.
    min_contrast_db: float = 10.0
    #: A recording whose every frame is below this level is silence: it yields no chunks.
    silence_floor_dbfs: float = -60.0
    #: Pauses at least this long are silences: the preferred cut points, and not speech.
    min_silence_seconds: float = 1.0
    #: Shorter pauses, down to this, are cut in too when that fills a window much better.
    min_pause_seconds: float = 0.4
    #: A cut in a pause shorter than a silence must give this much more chunk to be chosen.
    pause_penalty_seconds: float = 4.0
    #: Such a pause must be this much quieter (on average) than the second of speech on each side.
    pause_contrast_db: float = 15.0
    #: Silences at least this long always end a chunk, so none is sent inside a chunk either.
    max_inner_silence_seconds: float = 8.0
    #: Sounds shorter than this, alone between silences, are not speech (clicks, bumps).
    min_speech_seconds: float = 0.15
    #: Silence kept on each side of speech at a cut (at most half the silence): room for
    #: word endings and onsets softer than the threshold, which in a noisy room they often are.
    padding_seconds: float = 0.5
    #: Chunks shorter than this are made only where no other cut fits.
    min_chunk_seconds: float = 5.0
    #: Chunks aim to be at most this long: just under one 30 s whisper window.
    target_chunk_seconds: float = 29.5
    #: No chunk is longer than this (silence cuts past the target, a merged short tail).
    max_chunk_seconds: float = 45.0
    #: A longer silence wins over the fullest cut if its chunk is at most this much shorter.
    silence_slack_seconds: float = 2.0
    #: After a forced cut the next chunk starts this much earlier.
    forced_overlap_seconds: float = 3.0
    #: After a cut in a pause shorter than ``min_silence_seconds`` the next chunk starts at
    #: least this much before the pause's padded end (0: no overlap), so whisper hears the
    #: speech that leads into the chunk's first words.
    pause_overlap_seconds: float = 3.0
    #: A forced cut goes to the quietest moment in this many seconds before the target.
    forced_search_seconds: float = 5.0
    #: Length of the moving window that finds that quietest moment.
    quiet_window_seconds: float = 0.2
    #: Length of the pieces of the fixed grid.
    fixed_chunk_seconds: float = 30.0
    #: Overlap between consecutive pieces of the fixed grid.
    fixed_overlap_seconds: float = 5.0
    #: Length of one energy frame.
    frame_seconds: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", ChunkingMode(self.mode))
        checks = [
            (0 < self.frame_seconds <= 0.1, "frame_seconds must be in (0, 0.1]"),
            (0 < self.min_chunk_seconds <= self.target_chunk_seconds <= self.max_chunk_seconds,
             "need 0 < min_chunk_seconds <= target_chunk_seconds <= max_chunk_seconds"),
            (0 < self.min_pause_seconds <= self.min_silence_seconds,
             "need 0 < min_pause_seconds <= min_silence_seconds"),
            (self.pause_penalty_seconds >= 0, "pause_penalty_seconds must not be negative"),
            (self.max_inner_silence_seconds >= self.min_silence_seconds,
             "max_inner_silence_seconds must not be shorter than min_silence_seconds"),
            (self.min_speech_seconds >= 0, "min_speech_seconds must not be negative"),
            (0 <= self.padding_seconds, "padding_seconds must not be negative"),
            (0 <= self.forced_overlap_seconds < self.target_chunk_seconds - self.forced_search_seconds,
             "forced_overlap_seconds must be shorter than target minus forced_search_seconds"),
            (0 <= self.pause_overlap_seconds < self.min_chunk_seconds,
             "need 0 <= pause_overlap_seconds < min_chunk_seconds"),
            (0 < self.forced_search_seconds < self.target_chunk_seconds,
             "forced_search_seconds must be in (0, target_chunk_seconds)"),
            (self.quiet_window_seconds > 0, "quiet_window_seconds must be positive"),
            (0 <= self.fixed_overlap_seconds < self.fixed_chunk_seconds,
             "need 0 <= fixed_overlap_seconds < fixed_chunk_seconds"),
            (self.fixed_chunk_seconds <= self.max_chunk_seconds, "fixed_chunk_seconds must not exceed the maximum"),
            (0 <= self.noise_percentile < self.speech_percentile <= 100,
             "need 0 <= noise_percentile < speech_percentile <= 100"),
            (self.noise_margin_db >= 0 and self.speech_margin_db >= 0 and self.min_contrast_db >= 0,
             "margins must not be negative"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass(frozen=True, slots=True)
class SilenceAnalysis:
    """What the chunker found in a recording: levels, threshold and where speech is."""

    #: Length of the recording in seconds.
    duration: float
    #: Whether speech and silence could be told apart (False: fixed grid).
    has_contrast: bool
    #: The noise floor estimate (dBFS).
    noise_floor_dbfs: float
    #: The speech level estimate (dBFS); equal to the floor for a silent recording.
    speech_level_dbfs: float
    #: The threshold used (dBFS), or None when there was no contrast.
    threshold_dbfs: float | None
    #: Speech intervals (seconds), sorted, disjoint; empty for a silent recording.
    speech: tuple[Interval, ...]
    #: Level of every frame (dBFS, float32), for the forced-cut search and plots.
    levels: np.ndarray = field(repr=False, compare=False)
    #: Length of one frame of ``levels`` in seconds.
    frame_seconds: float = 0.01
    #: The speech split at every pause (``min_pause_seconds``): where cuts may go.
    phrases: tuple[Interval, ...] = ()

    @property
    def speech_seconds(self) -> float:
        """Total length of the speech intervals."""
        return sum(end - start for start, end in self.speech)


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """The chunks of a recording and the analysis they were cut from."""

    chunks: tuple[ChunkSpan, ...]
    analysis: SilenceAnalysis
    #: The strategy actually used: FIXED when asked or when there was no contrast.
    mode: ChunkingMode


# --- levels -------------------------------------------------------------------


def _float_blocks(source: AudioSource, block_samples: int) -> Iterator[np.ndarray]:
    """The source as consecutive float32 blocks in [-1, 1]."""
    if isinstance(source, PcmFile):
        blocks: Iterator[np.ndarray] = source.blocks(block_samples)
    else:
        data = np.asarray(source)
        if data.ndim != 1:
            raise ValueError("samples must be a 1-D mono array")
        blocks = (data[i:i + block_samples] for i in range(0, data.shape[0], block_samples))
    for block in blocks:
        if block.dtype.kind == "f":
            yield block.astype(np.float32, copy=False)
        elif block.dtype.kind == "i" and block.dtype.itemsize == 2:
            out = block.astype(np.float32)
            out *= INT16_SCALE
            yield out
        else:
            raise ValueError(f"samples must be int16 or float, not {block.dtype}")


def frame_levels(
    source: AudioSource, *, frame_seconds: float = 0.01, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """The RMS level of each frame in dBFS (float32, clamped at −100), in bounded memory.

    A full-scale square wave is 0 dBFS, a full-scale sine −3 dBFS. The last
    frame may be partial; its level is over the samples it has.
    """
    if isinstance(source, PcmFile):
        sample_rate = source.sample_rate
    frame = max(1, round(frame_seconds * sample_rate))
    frames_per_block = max(1, int(LEVEL_BLOCK_SECONDS * sample_rate) // frame)
    powers: list[np.ndarray] = []
    for block in _float_blocks(source, frame * frames_per_block):
        whole = block.shape[0] // frame
        if whole:
            shaped = block[: whole * frame].reshape(whole, frame)
            powers.append(np.einsum("ij,ij->i", shaped, shaped) / frame)
        rest = block[whole * frame:]
        if rest.size:  # only the very last block can have a partial frame
            powers.append(np.array([np.dot(rest, rest) / rest.size], dtype=np.float32))
    if not powers:
        return np.zeros(0, dtype=np.float32)
    power = np.concatenate(powers).astype(np.float32)
    floor = np.float32(10 ** (DIGITAL_SILENCE_DBFS / 10))
    return (10.0 * np.log10(np.maximum(power, floor))).astype(np.float32)


# --- speech / silence -----------------------------------------------------------


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in ``mask``."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def _join(starts: np.ndarray, ends: np.ndarray, min_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Join consecutive ranges whose gap is shorter than ``min_gap`` frames."""
    if starts.size == 0:
        return starts, ends
    breaks = np.flatnonzero(starts[1:] - ends[:-1] >= min_gap)
    return np.concatenate((starts[:1], starts[breaks + 1])), np.concatenate((ends[breaks], ends[-1:]))


def _phrase_frames(levels: np.ndarray, threshold: float, options: ChunkerOptions) -> tuple[np.ndarray, np.ndarray]:
    """Phrases as frame index ranges: loud frames joined across all but real pauses, blips dropped.

    A gap shorter than a silence counts as a pause only if it is much quieter
    than the speech on both sides of it: soft speech (a trailing fricative, a
    low vowel) can stay under the threshold for half a second, but not
    ``pause_contrast_db`` under its neighbours.
    """
    fs = options.frame_seconds
    starts, ends = _runs(levels > threshold)
    starts, ends = _join(starts, ends, max(1, round(options.min_pause_seconds / fs)))
    if starts.size > 1:
        power = np.concatenate(([0.0], np.cumsum(np.power(10.0, levels.astype(np.float64) / 10.0))))

        def mean_db(first: np.ndarray, last: np.ndarray) -> np.ndarray:
            return 10.0 * np.log10((power[last] - power[first]) / np.maximum(last - first, 1) + 1e-12)

        gap_starts, gap_ends = ends[:-1], starts[1:]
        side = round(PAUSE_CONTEXT_SECONDS / fs)
        before = mean_db(np.maximum(gap_starts - side, 0), gap_starts)
        after = mean_db(gap_ends, np.minimum(gap_ends + side, levels.size))
        contrast = np.minimum(before, after) - mean_db(gap_starts, gap_ends)
        short = (gap_ends - gap_starts) < round(options.min_silence_seconds / fs)
        kept_gaps = np.flatnonzero(~(short & (contrast < options.pause_contrast_db)))
        starts = np.concatenate((starts[:1], starts[kept_gaps + 1]))
        ends = np.concatenate((ends[kept_gaps], ends[-1:]))
    keep = (ends - starts) >= max(1, round(options.min_speech_seconds / fs))
    return starts[keep], ends[keep]


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else DIGITAL_SILENCE_DBFS


def _seconds(starts: np.ndarray, ends: np.ndarray, fs: float, duration: float) -> tuple[Interval, ...]:
    return tuple((float(a * fs), min(duration, float(b * fs))) for a, b in zip(starts, ends, strict=True))


def analyse_levels(levels: np.ndarray, duration: float, options: ChunkerOptions = ChunkerOptions()) -> SilenceAnalysis:
    """Estimate floor, speech level and threshold from frame levels, and find the speech."""
    fs = options.frame_seconds
    audible = levels[levels > options.silence_floor_dbfs]
    if audible.size == 0:
        floor = _percentile(levels, options.noise_percentile)
        return SilenceAnalysis(duration, True, floor, floor, None, (), levels, fs)
    speech_level = _percentile(audible, options.speech_percentile)
    # The floor is estimated without digital silence (zero padding, edited-out gaps),
    # which would otherwise hide a noisy room; unless only the zeros give any contrast.
    not_digital = levels[levels > DIGITAL_SILENCE_LIMIT_DBFS]
    floor = _percentile(not_digital, options.noise_percentile)
    if speech_level - floor < options.min_contrast_db:
        floor = _percentile(levels, options.noise_percentile)
    if speech_level - floor < options.min_contrast_db:
        loud = np.flatnonzero(levels > options.silence_floor_dbfs)
        span = (float(loud[0] * fs), min(duration, float((loud[-1] + 1) * fs)))
        return SilenceAnalysis(duration, False, floor, speech_level, None, (span,), levels, fs, (span,))
    threshold = max(options.threshold_dbfs, floor + options.noise_margin_db)
    if threshold > speech_level - options.speech_margin_db:  # a quiet recording
        threshold = max(floor + options.noise_margin_db, speech_level - options.speech_margin_db)
    starts, ends = _phrase_frames(levels, threshold, options)
    phrases = _seconds(starts, ends, fs, duration)
    speech = _seconds(*_join(starts, ends, round(options.min_silence_seconds / fs)), fs, duration)
    return SilenceAnalysis(duration, True, floor, speech_level, threshold, speech, levels, fs, phrases)


def _duration(source: AudioSource, sample_rate: int) -> float:
    if isinstance(source, PcmFile):
        return source.duration
    return np.asarray(source).shape[0] / sample_rate


def analyse(
    source: AudioSource, *, options: ChunkerOptions = ChunkerOptions(), sample_rate: int = SAMPLE_RATE
) -> SilenceAnalysis:
    """Frame levels, threshold and speech intervals of a recording (PcmFile or samples)."""
    levels = frame_levels(source, frame_seconds=options.frame_seconds, sample_rate=sample_rate)
    return analyse_levels(levels, _duration(source, sample_rate), options)


def speech_intervals(
    source: AudioSource, *, options: ChunkerOptions = ChunkerOptions(), sample_rate: int = SAMPLE_RATE
) -> list[Interval]:
    """Where the recording holds speech, as sorted (start, end) seconds; [] for pure silence.

    Pauses shorter than ``min_silence_seconds`` count as speech. Without
    contrast (noise, music) the whole audible span is returned, so that text
    there is not taken for a hallucination over silence.
    """
    return list(analyse(source, options=options, sample_rate=sample_rate).speech)


def speech_seconds(speech: Sequence[Interval], start: float, end: float) -> float:
    """How many seconds of ``[start, end]`` the sorted, disjoint ``speech`` intervals cover."""
    if end <= start or not speech:
        return 0.0
    first = max(0, bisect.bisect_right([s for s, _ in speech], start) - 1)
    covered = 0.0
    for s, e in speech[first:]:
        if s >= end:
            break
        covered += max(0.0, min(e, end) - max(s, start))
    return covered


# --- packing --------------------------------------------------------------------


def _quietest_point(analysis: SilenceAnalysis, lo: float, hi: float, window_seconds: float) -> float:
    """The centre of the quietest ``window_seconds`` between ``lo`` and ``hi`` (the latest on ties)."""
    fs = analysis.frame_seconds
    a, b = int(lo / fs), int(hi / fs)
    window = max(1, round(window_seconds / fs))
    levels = analysis.levels[a:b]
    if levels.size <= window:
        return hi
    power = np.power(10.0, levels.astype(np.float64) / 10.0)
    sums = np.cumsum(np.concatenate(([0.0], power)))
    mean = (sums[window:] - sums[:-window]) / window
    best = mean.size - 1 - int(np.argmin(mean[::-1]))
    return (a + best + window / 2) * fs


def _pack_speech(analysis: SilenceAnalysis, options: ChunkerOptions) -> list[tuple[float, float, CutKind, float]]:
    """Cut the phrases into (start, end, cut, overlap_before) chunks."""
    if not analysis.phrases:
        return []
    starts = np.array([s for s, _ in analysis.phrases])
    ends = np.array([e for _, e in analysis.phrases])
    target, longest, shortest = options.target_chunk_seconds, options.max_chunk_seconds, options.min_chunk_seconds
    # Gap j lies between phrase j and j + 1; a cut there ends one chunk and starts the next.
    gap_lengths = starts[1:] - ends[:-1]
    # A cut in a mere pause must win by a margin of fill over one in a real silence.
    penalties = np.where(gap_lengths < options.min_silence_seconds, options.pause_penalty_seconds, 0.0)
    pads = np.minimum(options.padding_seconds, gap_lengths / 2)
    cut_ends = ends[:-1] + pads
    next_starts = starts[1:] - pads
    final_end = min(analysis.duration, float(ends[-1]) + options.padding_seconds)

    # Silences this long end a chunk wherever they come: whisper is not given them to listen to.
    barriers = np.flatnonzero(gap_lengths >= options.max_inner_silence_seconds)

    chunks: list[tuple[float, float, CutKind, float]] = []
    start = max(0.0, float(starts[0]) - options.padding_seconds)
    overlap = 0.0
    # After a pause cut the next chunk starts before that pause; it must not be cut there again.
    past_gap = 0
    while True:
        first_gap = max(past_gap, int(np.searchsorted(ends[:-1], start, side="right")))
        barrier = barriers[np.searchsorted(barriers, first_gap):][:1]
        last_gap = int(barrier[0]) if barrier.size else cut_ends.size - 1
        reaches_end = not barrier.size  # no long silence before the end of the speech
        if reaches_end and final_end - start <= target:
            chunks.append((start, final_end, CutKind.END, overlap))
            break
        lengths = cut_ends[first_gap:last_gap + 1] - start
        lo = int(np.searchsorted(lengths, shortest, side="left"))
        hi = int(np.searchsorted(lengths, target, side="right"))
        gap: int | None = None
        if hi > lo:  # cuts giving a chunk of min..target: the fullest, or a longer silence nearly as full
            scores = lengths[lo:hi] - penalties[first_gap + lo:first_gap + hi]
            near = np.arange(lo, hi)[scores >= scores.max() - options.silence_slack_seconds]
            gap = int(near[len(near) - 1 - int(np.argmax(gap_lengths[first_gap + near][::-1]))])
        elif hi < lengths.size and lengths[hi] <= longest:  # none fits: the first silence within the maximum
            gap = hi
        elif reaches_end and final_end - start <= longest:  # the speech ends within the maximum
            chunks.append((start, final_end, CutKind.END, overlap))
            break
        elif lo > 0:  # only silences giving a short chunk: better a short chunk than a forced cut
            gap = lo - 1
        if gap is not None:
            j = first_gap + gap
            end = float(cut_ends[j])
            past_gap = j + 1
            if gap_lengths[j] < options.min_silence_seconds and options.pause_overlap_seconds > 0:
                chunks.append((start, end, CutKind.PAUSE, overlap))
                # Start at a quiet moment, so the chunk seldom opens mid-word, and never
                # before the chunk just made.
                latest = float(next_starts[j]) - options.pause_overlap_seconds
                earliest = max(start, latest - PAUSE_OVERLAP_SEARCH_SECONDS)
                resume = _quietest_point(analysis, earliest, latest, options.quiet_window_seconds) if latest > earliest else earliest
                start, overlap = resume, end - resume
            else:
                chunks.append((start, end, CutKind.SILENCE, overlap))
                start, overlap = float(next_starts[j]), 0.0
            continue
        cut = _quietest_point(
            analysis, start + target - options.forced_search_seconds, start + target, options.quiet_window_seconds
        )
        chunks.append((start, cut, CutKind.FORCED, overlap))
        start, overlap = cut - options.forced_overlap_seconds, options.forced_overlap_seconds
    return chunks


def _fixed_grid(analysis: SilenceAnalysis, options: ChunkerOptions) -> list[tuple[float, float, CutKind, float]]:
    """Fixed-size overlapping pieces over the audible span; pieces without speech are dropped."""
    if not analysis.speech:
        return []
    pad = options.padding_seconds
    begin = max(0.0, analysis.speech[0][0] - pad)
    finish = min(analysis.duration, analysis.speech[-1][1] + pad)
    size, overlap = options.fixed_chunk_seconds, options.fixed_overlap_seconds
    grid: list[tuple[float, float, CutKind, float]] = []
    start = begin
    while True:
        if start + size >= finish:
            grid.append((start, finish, CutKind.END, overlap if grid else 0.0))
            break
        grid.append((start, start + size, CutKind.FIXED, overlap if grid else 0.0))
        start += size - overlap
    kept: list[tuple[float, float, CutKind, float]] = []
    for start, end, cut, over in grid:
        if speech_seconds(analysis.speech, start, end) <= 0:
            continue
        follows = bool(kept) and kept[-1][1] > start  # the kept piece before really overlaps this one
        kept.append((start, end, cut, over if follows else 0.0))
    return kept


def _merge_short_tail(
    chunks: list[tuple[float, float, CutKind, float]], options: ChunkerOptions
) -> list[tuple[float, float, CutKind, float]]:
    """Fold a last chunk shorter than the minimum into the previous one when both fit the maximum.

    Not across a silence of ``max_inner_silence_seconds`` or more (the two
    chunk edges hold ``padding_seconds`` of it each).
    """
    if len(chunks) >= 2:
        (p_start, p_end, _, p_over), (t_start, t_end, t_cut, _) = chunks[-2], chunks[-1]
        silence_between = t_start - p_end + 2 * options.padding_seconds
        if (
            t_end - t_start < options.min_chunk_seconds
            and t_end - p_start <= options.max_chunk_seconds
            and silence_between < options.max_inner_silence_seconds
        ):
            return chunks[:-2] + [(p_start, t_end, t_cut, p_over)]
    return chunks


def plan_from_analysis(analysis: SilenceAnalysis, options: ChunkerOptions = ChunkerOptions()) -> ChunkPlan:
    """Chunks for an already analysed recording."""
    fixed = options.mode is ChunkingMode.FIXED or not analysis.has_contrast
    raw = _fixed_grid(analysis, options) if fixed else _pack_speech(analysis, options)
    raw = _merge_short_tail(raw, options)
    chunks = tuple(
        ChunkSpan(index=i, start=round(start, 3), end=round(end, 3), cut=cut, overlap_before=round(over, 3))
        for i, (start, end, cut, over) in enumerate(raw)
    )
    mode = ChunkingMode.FIXED if fixed else ChunkingMode.HYBRID
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%.1f s, floor %.1f dBFS, speech %.1f dBFS, threshold %s, %.1f s of speech -> %d %s chunk(s)",
            analysis.duration, analysis.noise_floor_dbfs, analysis.speech_level_dbfs,
            "none" if analysis.threshold_dbfs is None else f"{analysis.threshold_dbfs:.1f} dBFS",
            analysis.speech_seconds, len(chunks), mode.value,
        )
    return ChunkPlan(chunks=chunks, analysis=analysis, mode=mode)


def plan(
    source: AudioSource, *, options: ChunkerOptions = ChunkerOptions(), sample_rate: int = SAMPLE_RATE
) -> ChunkPlan:
    """Analyse a recording (PcmFile or mono samples) and cut it into chunks."""
    return plan_from_analysis(analyse(source, options=options, sample_rate=sample_rate), options)


def plan_chunks(
    source: AudioSource, *, options: ChunkerOptions = ChunkerOptions(), sample_rate: int = SAMPLE_RATE
) -> list[ChunkSpan]:
    """The chunks to transcribe a recording (PcmFile or mono samples) in; [] for pure silence."""
    return list(plan(source, options=options, sample_rate=sample_rate).chunks)
