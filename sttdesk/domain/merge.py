"""Chunk results joined into one transcript on the file's timeline, by time.

Each chunk's result has times relative to the chunk; they are shifted by the
chunk's start. Where the chunker cut in a silence the chunks do not share
audio and are simply joined. Where it had to cut mid-speech the next chunk
repeats the last seconds of the previous one (the overlap), and both chunks
transcribe those seconds. A *seam* is resolved in two steps:

1. A cut time is chosen inside the overlap, at the largest pause between
   words (word times of both chunks count; the overlap's edges, where a chunk's
   audio starts or stops mid-word, are avoided, and so is any stretch only one
   chunk transcribed: whisper often drops a chunk's last or first words).
2. The two chunks' words near the overlap are aligned: a weighted longest
   common subsequence over case-folded words without punctuation, where equal
   words pair only when their times agree and different words only when heard
   at the same moment. Every aligned position is a *slot*: a word both chunks
   heard (perhaps differently), or a word only one of them heard.
   The earlier chunk supplies every slot before the cut, the later chunk every
   slot after it, so a word both heard appears once however their times differ,
   and each chunk's unreliable edge is left out.

Because a slot boundary is a prefix of one chunk's words and a suffix of the
other's, each seam comes down to two indices, computed from the two chunks
alone. That makes the merge incremental and independent of arrival order: a
new chunk only touches its own two seams. Segments cut at a seam keep their
words and get their text rebuilt from them.

:func:`merge_word_count_baseline` is the seed's merge ("drop the first N words
of every overlapping chunk"). It exists only as the baseline benchmarks compare
against; the application never uses it.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .chunks import ChunkSpan, CutKind
from .errors import PermanentError, SttdeskError
from .hallucination import GuardReport, HallucinationGuard, validate_speech_intervals
from .textnorm import normalize_token
from .transcript import (
    PENDING_GAP_CODE,
    PENDING_GAP_MESSAGE_EN,
    PENDING_GAP_MESSAGE_VI,
    Gap,
    RecognitionResult,
    Segment,
    Transcript,
    Word,
    estimate_words,
    join_words,
)

__all__ = [
    "DEFAULT_BASELINE_WORDS_PER_SECOND",
    "DEFAULT_EDGE_SECONDS",
    "DEFAULT_SEAM_MARGIN",
    "InvalidChunkPlanError",
    "InvalidChunkResultError",
    "InvalidMergeOptionError",
    "TranscriptAssembler",
    "UnknownChunkError",
    "merge_word_count_baseline",
]

log = logging.getLogger(__name__)

#: Words this far (seconds) outside the overlap still take part in the alignment:
#: two chunks place the same word up to a few hundred milliseconds apart.
DEFAULT_SEAM_MARGIN = 0.5
#: The cut avoids this much (seconds, at most a quarter of the overlap) at each end of
#: the overlap: there one chunk's audio starts or stops mid-word and its words are unreliable.
DEFAULT_EDGE_SECONDS = 0.5
#: Speaking rate the word-count baseline assumes to turn overlap seconds into words.
DEFAULT_BASELINE_WORDS_PER_SECOND = 2.5
#: Two chunks never place the same word further apart than this (seconds); an aligned
#: pair further apart is the same word said twice.
_MAX_SHIFT = 1.0
#: Two different words whose centres are at most this far apart (seconds) may be one
#: word misheard by one of the chunks.
_MISHEARD_SHIFT = 0.5
#: Spans that differ by less than this (seconds) are the same span (rounding in storage).
_SPAN_TOLERANCE = 0.002


class InvalidChunkPlanError(PermanentError):
    """The chunk spans given to the assembler do not describe a recording."""

    code = "invalid_chunk_plan"
    message_en = "Invalid chunk plan: {detail}"
    message_vi = "Kế hoạch chia đoạn không hợp lệ: {detail}"


class InvalidMergeOptionError(PermanentError):
    """A merge tuning value is out of range."""

    code = "invalid_merge_option"
    message_en = "Invalid transcript merge setting: {detail}"
    message_vi = "Thiết lập ghép bản chép lời không hợp lệ: {detail}"


class UnknownChunkError(PermanentError):
    """A result or failure arrived for a chunk the plan does not hold."""

    code = "unknown_chunk"
    message_en = "Chunk {index} is not part of this job: {detail}"
    message_vi = "Đoạn {index} không thuộc công việc này: {detail}"


class InvalidChunkResultError(PermanentError):
    """A chunk's recognition result holds times that are not numbers."""

    code = "invalid_chunk_result"
    message_en = "The result for chunk {index} is invalid: {detail}"
    message_vi = "Kết quả của đoạn {index} không hợp lệ: {detail}"


@dataclass(frozen=True, slots=True)
class _Token:
    """One word of a chunk on the file's timeline, with the segment it came from."""

    word: Word
    segment: int
    #: The word as compared across chunks (case-folded, no punctuation).
    key: str

    @property
    def centre(self) -> float:
        return (self.word.start + self.word.end) / 2


@dataclass(frozen=True, slots=True)
class _ChunkDone:
    """A finished chunk, cleaned and shifted, ready to be merged."""

    span: ChunkSpan
    #: The chunk's segments on the file's timeline.
    segments: tuple[Segment, ...]
    #: Every word of every segment in order (estimated for segments without word times).
    tokens: tuple[_Token, ...]
    #: Index into ``tokens`` of each segment's first word, and its word count.
    first_token: tuple[int, ...]
    word_counts: tuple[int, ...]
    language: str
    report: GuardReport


@dataclass(frozen=True, slots=True)
class _ChunkFailed:
    error_code: str
    message_en: str
    message_vi: str


class TranscriptAssembler:
    """Merges chunk results, arriving in any order, into a :class:`Transcript`.

    ``spans`` is the job's chunk plan (every chunk, in any order). Results and
    failures may arrive in any order and more than once: the latest word about
    a chunk wins (a retried chunk's result replaces its failure).

    :meth:`transcript` has two views:

    * ``partial=True`` (default): every finished chunk, in time order. A chunk
      that failed or is still running shows as a :class:`Gap` where its text
      would be (``error_code`` "pending" for a running one), so text after a
      hole is visible at once.
    * ``partial=False``: the settled prefix only — chunks up to the first one
      still running. Failed chunks inside it are gaps (they are settled too).
      A viewer that streams text in order appends what this view adds.

    In both, the words at the end of the last finished chunk before a running
    one can still change once that neighbour arrives and the seam is resolved.
    When every chunk is settled both views are the same.

    A ``guard`` cleans each result before it is merged; ``speech`` (intervals on
    the file's timeline, from the audio package) lets it drop text over silence.
    """

    def __init__(
        self,
        spans: Iterable[ChunkSpan],
        *,
        language: str | None = None,
        duration: float | None = None,
        source_name: str = "",
        model: str = "",
        guard: HallucinationGuard | None = None,
        speech: Sequence[tuple[float, float]] | None = None,
        seam_margin: float = DEFAULT_SEAM_MARGIN,
        edge_seconds: float = DEFAULT_EDGE_SECONDS,
    ) -> None:
        self._plan = _validated_plan(spans)
        self._duration = max(s.end for s in self._plan) if duration is None else float(duration)
        if not math.isfinite(self._duration) or self._duration < 0:
            raise InvalidChunkPlanError(f"bad duration {duration!r}")
        self._language = language if language and language != "auto" else None
        self._source_name = source_name
        self._model = model
        self._guard = guard
        self._speech = None if speech is None else sorted(validate_speech_intervals(speech))
        for name, value in (("seam_margin", seam_margin), ("edge_seconds", edge_seconds)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InvalidMergeOptionError(f"{name} must be a number of seconds >= 0, not {value!r}")
        self._margin = seam_margin
        self._edge = edge_seconds
        self._done: dict[int, _ChunkDone] = {}
        self._failed: dict[int, _ChunkFailed] = {}
        # Caches: seam k (between chunks k and k+1) -> (keep earlier[:a], keep later[b:]);
        # chunk k -> ((left, right), its segments between those token indices).
        self._seams: dict[int, tuple[int, int]] = {}
        self._pieces: dict[int, tuple[tuple[int, int], tuple[Segment, ...]]] = {}

    # --- what is known --------------------------------------------------------

    @property
    def spans(self) -> tuple[ChunkSpan, ...]:
        return self._plan

    @property
    def done_count(self) -> int:
        return len(self._done)

    @property
    def failed_count(self) -> int:
        return len(self._failed)

    @property
    def pending_indices(self) -> tuple[int, ...]:
        """Chunks with neither a result nor a failure yet."""
        return tuple(i for i in range(len(self._plan)) if i not in self._done and i not in self._failed)

    @property
    def settled(self) -> bool:
        """True when every chunk has a result or a failure."""
        return len(self._done) + len(self._failed) == len(self._plan)

    def guard_report(self) -> GuardReport:
        """What the guard removed from the finished chunks, all together, in time order."""
        report = GuardReport()
        for index in sorted(self._done):
            report = report.merged(self._done[index].report)
        return report

    # --- input ------------------------------------------------------------------

    def add(self, span: ChunkSpan, result: RecognitionResult) -> None:
        """Take the result of chunk ``span`` (times relative to the chunk)."""
        planned = self._planned(span)
        report = GuardReport()
        if self._guard is not None:
            result, report = self._guard.clean(result, speech=self._speech_in(planned))
        done = _prepare(planned, result, report)
        self._failed.pop(planned.index, None)
        self._done[planned.index] = done
        self._invalidate(planned.index)
        log.debug("chunk %d merged in: %d words", planned.index, len(done.tokens))

    def mark_failed(self, span: ChunkSpan, error: BaseException) -> None:
        """Record that chunk ``span`` failed for good; its stretch becomes a :class:`Gap`."""
        planned = self._planned(span)
        if not isinstance(error, SttdeskError):
            error = SttdeskError(f"{type(error).__name__}: {error}")
        self._done.pop(planned.index, None)
        self._failed[planned.index] = _ChunkFailed(error.code, error.user_message("en"), error.user_message("vi"))
        self._invalidate(planned.index)
        log.debug("chunk %d marked failed: %s", planned.index, error.code)

    def mark_pending(self, span: ChunkSpan) -> None:
        """Forget what is known about chunk ``span`` (it is being transcribed again)."""
        planned = self._planned(span)
        self._done.pop(planned.index, None)
        self._failed.pop(planned.index, None)
        self._invalidate(planned.index)

    # --- output -----------------------------------------------------------------

    def transcript(self, *, partial: bool = True) -> Transcript:
        """The merged transcript; see the class docstring for the two views."""
        count = len(self._plan)
        if not partial:
            pending = self.pending_indices
            count = pending[0] if pending else count
        segments: list[Segment] = []
        gaps: list[Gap] = []
        dropped: dict[str, int] = defaultdict(int)
        seconds_by_language: dict[str, float] = defaultdict(float)
        for index in range(count):
            done = self._done.get(index)
            if done is None:
                gaps.append(self._gap(index))
                continue
            _append_joined(segments, self._piece(index))
            for kind, n in done.report.counts.items():
                dropped[kind] += n
            if done.language:
                seconds_by_language[done.language] += done.span.duration
        language = self._language or max(seconds_by_language, key=seconds_by_language.__getitem__, default="")
        return Transcript(
            segments=tuple(segments),
            language=language,
            duration=self._duration,
            source_name=self._source_name,
            model=self._model,
            dropped=dict(dropped),
            gaps=tuple(gaps),
            complete=len(self._done) == len(self._plan),
        )

    # --- internals ----------------------------------------------------------------

    def _planned(self, span: ChunkSpan) -> ChunkSpan:
        if not 0 <= span.index < len(self._plan):
            raise UnknownChunkError(f"the plan has chunks 0..{len(self._plan) - 1}", index=span.index)
        planned = self._plan[span.index]
        if abs(planned.start - span.start) > _SPAN_TOLERANCE or abs(planned.end - span.end) > _SPAN_TOLERANCE:
            raise UnknownChunkError(
                f"span {span.start:.3f}-{span.end:.3f} s differs from the plan's "
                f"{planned.start:.3f}-{planned.end:.3f} s",
                index=span.index,
            )
        return planned

    def _speech_in(self, span: ChunkSpan) -> list[tuple[float, float]] | None:
        if self._speech is None:
            return None
        return [
            (max(a, span.start) - span.start, min(b, span.end) - span.start)
            for a, b in self._speech
            if b > span.start and a < span.end
        ]

    def _invalidate(self, index: int) -> None:
        for seam in (index - 1, index):
            self._seams.pop(seam, None)
        for piece in (index - 1, index, index + 1):
            self._pieces.pop(piece, None)

    def _seam(self, index: int) -> tuple[int, int]:
        """(a, b): chunk ``index`` keeps its tokens before a, chunk ``index + 1`` from b on."""
        cached = self._seams.get(index)
        if cached is None:
            earlier, later = self._done[index], self._done[index + 1]
            cached = _resolve_seam(earlier, later, margin=self._margin, edge=self._edge)
            self._seams[index] = cached
        return cached

    def _piece(self, index: int) -> tuple[Segment, ...]:
        done = self._done[index]
        left = self._seam(index - 1)[1] if index - 1 in self._done else 0
        right = self._seam(index)[0] if index + 1 in self._done else len(done.tokens)
        cached = self._pieces.get(index)
        if cached is not None and cached[0] == (left, right):
            return cached[1]
        segments = _segments_between(done, left, right)
        self._pieces[index] = ((left, right), segments)
        return segments

    def _gap(self, index: int) -> Gap:
        span = self._plan[index]
        start, end = span.start, span.end
        if index > 0:
            before = self._plan[index - 1]
            if before.end > span.start:
                start = before.end if index - 1 in self._done else (span.start + before.end) / 2
        if index + 1 < len(self._plan):
            after = self._plan[index + 1]
            if after.start < span.end:
                end = after.start if index + 1 in self._done else (after.start + span.end) / 2
        failed = self._failed.get(index)
        if failed is None:
            code, en, vi = PENDING_GAP_CODE, PENDING_GAP_MESSAGE_EN, PENDING_GAP_MESSAGE_VI
        else:
            code, en, vi = failed.error_code, failed.message_en, failed.message_vi
        return Gap(start=start, end=max(start, end), chunk_index=index, error_code=code, message_en=en, message_vi=vi)


# --- preparing one chunk -------------------------------------------------------------


def _validated_plan(spans: Iterable[ChunkSpan]) -> tuple[ChunkSpan, ...]:
    plan = sorted(spans, key=lambda s: s.index)
    if not plan:
        raise InvalidChunkPlanError("the plan has no chunks")
    for position, span in enumerate(plan):
        if span.index != position:
            raise InvalidChunkPlanError(f"chunk indices must run 0..{len(plan) - 1} without repeats")
        values = (span.start, span.end, span.overlap_before)
        if not all(math.isfinite(v) for v in values) or span.start < 0 or span.end <= span.start:
            raise InvalidChunkPlanError(f"chunk {span.index} has a bad span {span.start!r}..{span.end!r}")
        if not 0 <= span.overlap_before <= span.duration:
            raise InvalidChunkPlanError(f"chunk {span.index} has a bad overlap {span.overlap_before!r}")
        if position and (span.start < plan[position - 1].start or span.end <= plan[position - 1].end):
            raise InvalidChunkPlanError(f"chunk {span.index} does not come after chunk {span.index - 1}")
    return tuple(plan)


def _prepare(span: ChunkSpan, result: RecognitionResult, report: GuardReport) -> _ChunkDone:
    """Shift a chunk's result onto the file's timeline and index its words."""
    segments: list[Segment] = []
    tokens: list[_Token] = []
    first_token: list[int] = []
    word_counts: list[int] = []
    for segment in result.segments:
        values = [segment.start, segment.end, *(v for w in segment.words for v in (w.start, w.end))]
        if not all(math.isfinite(v) for v in values):
            raise InvalidChunkResultError("a time is not a finite number", index=span.index)
        shifted = _clamped(segment, span.duration).shifted(span.start)
        words = estimate_words(shifted)
        if not words:
            continue
        first_token.append(len(tokens))
        word_counts.append(len(words))
        tokens += (_Token(w, len(segments), normalize_token(w.text) or w.text.casefold()) for w in words)
        segments.append(shifted)
    return _ChunkDone(
        span=span,
        segments=tuple(segments),
        tokens=tuple(tokens),
        first_token=tuple(first_token),
        word_counts=tuple(word_counts),
        language=result.language,
        report=report,
    )


def _clamped(segment: Segment, length: float) -> Segment:
    """The segment with every time inside 0..length: engines overshoot padded audio."""

    def clamp(t: float) -> float:
        return min(max(t, 0.0), length)

    words = tuple(replace(w, start=clamp(w.start), end=max(clamp(w.end), clamp(w.start))) for w in segment.words)
    start = clamp(segment.start)
    return replace(segment, start=start, end=max(clamp(segment.end), start), words=words)


# --- resolving one seam ----------------------------------------------------------------


def _resolve_seam(earlier: _ChunkDone, later: _ChunkDone, *, margin: float, edge: float) -> tuple[int, int]:
    """Where the earlier chunk's words stop and the later chunk's start, as token indices."""
    overlap_start, overlap_end = later.span.start, earlier.span.end
    if overlap_end <= overlap_start:
        return len(earlier.tokens), 0  # nothing heard twice: join as they are
    # The earlier chunk's words near the overlap (a suffix) and the later chunk's (a prefix).
    a0 = len(earlier.tokens)
    while a0 > 0 and earlier.tokens[a0 - 1].word.end > overlap_start - margin:
        a0 -= 1
    b1 = 0
    while b1 < len(later.tokens) and later.tokens[b1].word.start < overlap_end + margin:
        b1 += 1
    tail, head = earlier.tokens[a0:], later.tokens[:b1]
    if not tail or not head:
        return len(earlier.tokens), 0  # only one chunk heard anything here: keep it all
    cut = _cut_time(tail, head, *_cut_window(tail, head, overlap_start, overlap_end, edge))
    if earlier.span.cut is CutKind.SILENCE:
        # A silence cut repeats no speech: words are split by time, nothing is aligned.
        slots = [(i, 0, t.centre) for i, t in enumerate(tail)] + [(len(tail), j, t.centre) for j, t in enumerate(head)]
    else:
        slots = _slots(tail, head)
    for i, j, when in slots:
        if when >= cut:
            switch = (i, j)
            break
    else:
        switch = (len(tail), len(head))
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "seam %d|%d: cut at %.2f s, dropped %r | %r",
            earlier.span.index,
            later.span.index,
            cut,
            [t.word.text for t in tail[switch[0] :]],
            [t.word.text for t in head[: switch[1]]],
        )
    return a0 + switch[0], switch[1]


def _cut_window(
    tail: Sequence[_Token], head: Sequence[_Token], start: float, end: float, edge: float
) -> tuple[float, float]:
    """Where the cut may go: inside the overlap, where both chunks heard words.

    Whisper often stops a little before a chunk's end or starts a little after
    its beginning; words only one chunk heard there must come from that chunk,
    so the cut stays after the later chunk's first word and before the earlier
    chunk's last. The overlap's edges are avoided when that leaves room.
    """
    # Word centres, not edges: the slots are placed by centre, and two chunks'
    # times for one word straddling the cut may overlap by a jitter's width.
    heard_until = max(t.centre for t in tail)
    heard_from = min(t.centre for t in head)
    if heard_until <= heard_from:
        middle = (heard_until + heard_from) / 2
        return middle, middle  # nobody heard anything twice: any cut between keeps all
    inset = min(edge, (end - start) / 4)
    lo, hi = max(start + inset, heard_from), min(end - inset, heard_until)
    if lo >= hi:
        lo, hi = max(start, heard_from), min(end, heard_until)
    return lo, hi


def _cut_time(tail: Sequence[_Token], head: Sequence[_Token], lo: float, hi: float) -> float:
    """The middle of the longest pause between ``lo`` and ``hi``, words of both chunks counted."""
    if hi <= lo:
        return lo
    spans = sorted(
        (max(t.word.start, lo), min(t.word.end, hi)) for t in (*tail, *head) if t.word.end > lo and t.word.start < hi
    )
    centre = (lo + hi) / 2
    best_length, best_cut = -1.0, centre
    for gap_start, gap_end in _free_spans(spans, lo, hi):
        length = gap_end - gap_start
        middle = (gap_start + gap_end) / 2
        # Equal pauses (or none at all) go to the one nearest the window's centre.
        if length > best_length + 1e-9 or (
            abs(length - best_length) <= 1e-9 and abs(middle - centre) < abs(best_cut - centre)
        ):
            best_length, best_cut = length, middle
    return best_cut


def _free_spans(spans: Sequence[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """The stretches of lo..hi that no span covers (``spans`` sorted by start)."""
    free: list[tuple[float, float]] = []
    cursor = lo
    for start, end in spans:
        if start > cursor:
            free.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < hi:
        free.append((cursor, hi))
    return free


#: Alignment scores: the same word heard by both chunks is worth between 1 and 2 (more
#: the closer their times), one word heard differently at most 0.5 (less the further
#: apart): a repeated word seconds away or a chain of near misses never outweighs
#: the pairing whose times agree.
_SAME_WORD_SCORE = 1.0
_MISHEARD_SCORE = 0.5


def _pair_score(a: _Token, b: _Token, mutual: tuple[float, float]) -> float | None:
    """How much aligning ``a`` with ``b`` is worth; None when they cannot be one word.

    Different words pair only inside ``mutual``, the stretch both chunks
    transcribed: outside it a word has no counterpart to be misheard as.
    """
    shift = abs(a.centre - b.centre)
    if a.key == b.key and shift <= _MAX_SHIFT:
        return _SAME_WORD_SCORE * (2.0 - shift / _MAX_SHIFT)
    if a.word.end > mutual[0] and b.word.start < mutual[1] and shift < _MISHEARD_SHIFT:
        return _MISHEARD_SCORE * (1.0 - shift / _MISHEARD_SHIFT)
    return None


def _slots(tail: Sequence[_Token], head: Sequence[_Token]) -> list[tuple[int, int, float]]:
    """Aligned positions of the two word runs as (tail index, head index, time).

    Switching from the earlier chunk to the later at slot (i, j) keeps
    ``tail[:i]`` and ``head[j:]``. The alignment is a weighted longest common
    subsequence: equal words pair up when their times agree (within
    ``_MAX_SHIFT``), different words only when heard at the same moment (one
    chunk misheard); a common word ("the") is never paired with the same word
    said seconds later. Unpaired words between two pairs become slots of their
    own, in time order.
    """
    n, m = len(tail), len(head)
    mutual = (head[0].word.start, max(t.word.end for t in tail)) if tail and head else (0.0, 0.0)
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, above = score[i], score[i - 1]
        for j in range(1, m + 1):
            best = max(above[j], row[j - 1])
            pair = _pair_score(tail[i - 1], head[j - 1], mutual)
            if pair is not None:
                best = max(best, above[j - 1] + pair)
            row[j] = best
    # Trace back, collecting pairs (tail index, head index) from the end.
    pairs: list[tuple[int, int]] = []
    i, j = n, m
    while i > 0 and j > 0:
        pair = _pair_score(tail[i - 1], head[j - 1], mutual)
        if pair is not None and math.isclose(score[i][j], score[i - 1][j - 1] + pair):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif math.isclose(score[i][j], score[i - 1][j]):
            i -= 1
        else:
            j -= 1
    pairs.reverse()
    slots: list[tuple[int, int, float]] = []
    i = j = 0
    for pi, pj in [*pairs, (n, m)]:
        slots += _unpaired_slots(tail, head, i, pi, j, pj)
        if pi < n:
            slots.append((pi, pj, (tail[pi].centre + head[pj].centre) / 2))
        i, j = pi + 1, pj + 1
    return slots


def _unpaired_slots(
    tail: Sequence[_Token], head: Sequence[_Token], i: int, i2: int, j: int, j2: int
) -> list[tuple[int, int, float]]:
    """Slots for the words between two pairs, each chunk's words in their own order, by time."""
    slots: list[tuple[int, int, float]] = []
    while i < i2 or j < j2:
        if j >= j2 or (i < i2 and tail[i].centre <= head[j].centre):
            slots.append((i, j, tail[i].centre))
            i += 1
        else:
            slots.append((i, j, head[j].centre))
            j += 1
    return slots


# --- building segments -------------------------------------------------------------------


def _segments_between(done: _ChunkDone, left: int, right: int) -> tuple[Segment, ...]:
    """The chunk's segments made of its tokens ``left:right``; cut segments rebuilt from words."""
    out: list[Segment] = []
    index = left
    while index < right:
        seg_index = done.tokens[index].segment
        stop = index
        while stop < right and done.tokens[stop].segment == seg_index:
            stop += 1
        segment = done.segments[seg_index]
        first, count = done.first_token[seg_index], done.word_counts[seg_index]
        if index == first and stop == first + count:
            out.append(segment)
        else:
            words = [t.word for t in done.tokens[index:stop]]
            start = segment.start if index == first else words[0].start
            end = segment.end if stop == first + count else max(w.end for w in words)
            out.append(
                replace(
                    segment,
                    start=start,
                    end=max(end, start),
                    text=join_words(w.text for w in words),
                    words=tuple(words) if segment.words else (),
                )
            )
        index = stop
    # Engines' word times can make neighbouring segments overlap a little; viewers and
    # subtitle layout expect segments in strict time order.
    for position in range(1, len(out)):
        previous, current = out[position - 1], out[position]
        if current.start < previous.end:
            out[position - 1] = replace(previous, end=max(previous.start, current.start))
    return tuple(out)


def _append_joined(segments: list[Segment], piece: Sequence[Segment]) -> None:
    """Append a chunk's segments, trimming the boundary so segments never overlap in time."""
    if not piece:
        return
    first = piece[0]
    if segments and first.start < segments[-1].end:
        last = segments[-1]
        if first.start > last.start:
            segments[-1] = replace(last, end=first.start)
        else:
            first = replace(first, start=last.end, end=max(first.end, last.end))
    segments.append(first)
    segments.extend(piece[1:])


# --- the baseline ---------------------------------------------------------------------------


def merge_word_count_baseline(
    chunks: Iterable[tuple[ChunkSpan, RecognitionResult]],
    *,
    words_per_second: float = DEFAULT_BASELINE_WORDS_PER_SECOND,
    language: str = "",
    duration: float | None = None,
) -> Transcript:
    """The seed's merge, kept ONLY as a benchmark baseline: never use it for users.

    Every chunk is shifted to the file's timeline; a chunk that overlaps the one
    before loses its first ``round(overlap_before * words_per_second)`` words,
    whatever was actually said. It ignores word times, so it drops too much or
    too little whenever the speaking rate differs from the assumed one.
    """
    if not (math.isfinite(words_per_second) and words_per_second >= 0):
        raise InvalidChunkPlanError(f"bad words_per_second {words_per_second!r}")
    ordered = sorted(chunks, key=lambda c: c[0].index)
    segments: list[Segment] = []
    for span, result in ordered:
        to_drop = round(span.overlap_before * words_per_second) if span.overlap_before > 0 else 0
        for segment in result.segments:
            shifted = segment.shifted(span.start)
            words = estimate_words(shifted)
            if to_drop >= len(words):
                to_drop -= len(words)
                continue
            if to_drop:
                kept = words[to_drop:]
                shifted = replace(
                    shifted,
                    start=kept[0].start,
                    text=join_words(w.text for w in kept),
                    words=tuple(kept) if shifted.words else (),
                )
                to_drop = 0
            segments.append(shifted)
    end = duration if duration is not None else max((s.end for s, _ in ordered), default=0.0)
    languages = [r.language for _, r in ordered if r.language]
    return Transcript(
        segments=tuple(segments),
        language=language or (max(set(languages), key=languages.count) if languages else ""),
        duration=end,
    )
