"""Speech recognition backends: the small interface the engine needs, and whisper.cpp behind it.

:class:`Backend` is what :mod:`sttdesk.engine.process` runs inside its child
process; a CTranslate2 (faster-whisper) backend can be added next to
:class:`WhisperCppBackend` without touching the rest.

:class:`WhisperCppBackend` drives whisper.cpp through the bindings that
pywhispercpp ships (``_pywhispercpp``) rather than through ``pywhispercpp.Model``:
``Model.transcribe`` ignores whisper_full's return code and keeps every decoding
parameter of a call for the next one, while the engine must report failures and
give each request exactly its own options. Decoding is greedy unless the
options ask for a beam (see :mod:`sttdesk.engine.options`).

The bindings are imported inside the methods that need them, so that the
parent side of :mod:`sttdesk.engine.process` (which only checks audio and
reads results) never loads whisper.cpp itself.
"""

from __future__ import annotations

import atexit
import collections
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from ..domain.errors import PermanentError, UnsupportedLanguageError
from ..domain.transcript import RecognitionResult, Segment, Word
from .errors import CorruptModelError, EngineError, EngineOutOfMemoryError, ModelError
from .options import DecodeOptions

log = logging.getLogger(__name__)
#: whisper.cpp's own log lines go here (debug level), never to stdout.
whisper_log = logging.getLogger("sttdesk.engine.whispercpp")

SAMPLE_RATE = 16_000
#: Seconds of audio whisper encodes in one pass.
WINDOW_SECONDS = 30.0
#: whisper.cpp does not process less than 100 ms of audio.
MIN_SAMPLES = SAMPLE_RATE // 10
#: First bytes of a whisper.cpp ggml model: "ggml" as a little-endian u32.
GGML_MAGIC = b"lmgg"
#: A whole segment that is only a note about sound: [BLANK_AUDIO], (music), ♪...
_ANNOTATION = re.compile(r"(?:\[[^\]]*\]|\([^)]*\)|[\s♪♫♬♩*-])+")
#: A whisper model file is at least this large (tiny q5 is ~30 MB); smaller is not a model.
MIN_MODEL_BYTES = 1_000_000


class InvalidAudioError(EngineError, PermanentError):
    """The audio handed to the engine is not 16 kHz mono float samples."""

    code = "invalid_engine_audio"
    message_en = "The audio given to the transcription engine is not usable: {detail}"
    message_vi = "Âm thanh đưa vào bộ máy nhận dạng không dùng được: {detail}"


class EngineFailureError(EngineError, PermanentError):
    """whisper.cpp reported an error for a request (not a crash: the engine keeps running)."""

    code = "engine_failed"
    message_en = "The transcription engine could not process this audio: {detail}"
    message_vi = "Bộ máy nhận dạng không xử lý được đoạn âm thanh này: {detail}"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a backend knows about the model it loaded."""

    path: str
    #: Size class as whisper names it: "tiny", "base", "small", ...
    model_type: str
    multilingual: bool
    #: ggml file type as whisper.cpp reports it (0 = f32, 1 = f16, 7 = q8_0, 8 = q5_0, ...).
    ftype: int
    #: Seconds the load took.
    load_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "model_type": self.model_type,
            "multilingual": self.multilingual,
            "ftype": self.ftype,
            "load_seconds": round(self.load_seconds, 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(
            path=str(data["path"]),
            model_type=str(data["model_type"]),
            multilingual=bool(data["multilingual"]),
            ftype=int(data["ftype"]),
            load_seconds=float(data["load_seconds"]),
        )


@runtime_checkable
class Backend(Protocol):
    """A speech recogniser that holds one model and transcribes 16 kHz mono float32 audio."""

    def load(self, model_path: Path, threads: int) -> ModelInfo:
        """Load the model once; raise a :class:`ModelError` if it is missing or damaged."""
        ...

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> RecognitionResult:
        """Recognise ``audio``; times in the result are relative to its first sample."""
        ...

    def close(self) -> None:
        """Free the model; the backend cannot be used afterwards."""
        ...


def check_audio(audio: Any) -> np.ndarray:
    """``audio`` as a contiguous 1-D float32 array, or :class:`InvalidAudioError`.

    Float arrays of another precision are converted; integer PCM is refused
    because its scale is ambiguous (int16 and int32 PCM differ by 65536x).
    """
    if not isinstance(audio, np.ndarray):
        raise InvalidAudioError(f"expected a numpy array, got {type(audio).__name__}")
    if audio.ndim != 1:
        raise InvalidAudioError(f"expected mono samples (1-D), got shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise InvalidAudioError(f"expected float samples in -1..1, got {audio.dtype}")
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    if samples.size and not np.isfinite(samples).all():
        raise InvalidAudioError("the samples contain NaN or infinity")
    return samples


def check_model_file(model_path: Path) -> Path:
    """The model path if it looks like a whisper.cpp model, else a :class:`ModelError`.

    This catches the common mistakes (wrong path, a download that stopped
    early, an HTML error page saved as a model) before whisper.cpp sees them.
    """
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    size = path.stat().st_size
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(GGML_MAGIC))
    except OSError as exc:
        raise ModelError(f"cannot read the model file {path}: {exc.strerror or exc}") from exc
    if magic != GGML_MAGIC:
        raise CorruptModelError(path=str(path), detail="not a whisper.cpp ggml model (bad magic)")
    if size < MIN_MODEL_BYTES:
        raise CorruptModelError(path=str(path), detail=f"only {size} bytes long")
    return path


# --- whisper.cpp logs ---------------------------------------------------------------

# whisper.cpp's log levels (ggml_log_level).
_WHISPER_LOG_LEVELS = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR}
_WHISPER_LOG_ERROR = 4
#: The callback must be unset before the interpreter shuts down: a whisper.cpp log line
#: written during finalisation would call into Python without a thread state and abort.
_log_lock = threading.Lock()
_log_users = 0


def _reset_whisper_log() -> None:
    pw = sys.modules.get("_pywhispercpp")
    if pw is not None:
        pw.whisper_log_set(None)


@contextmanager
def _whisper_logs_to_python(errors: collections.deque[str]) -> Iterator[None]:
    """Route whisper.cpp's log lines to Python logging while the block runs; collect errors.

    whisper.cpp writes its logs to stderr by default, and some failures (a
    model that does not load) are reported only there, so they are caught here
    to become the detail of a typed error. The hook is process-wide: two
    backends working at once in one process would see each other's lines (the
    engine runs one backend per child process).
    """
    import _pywhispercpp as pw

    global _log_users

    def on_log(level: int, text: str) -> None:
        line = text.rstrip()
        if not line:
            return
        whisper_log.log(_WHISPER_LOG_LEVELS.get(level, logging.DEBUG), "%s", line)
        if level >= _WHISPER_LOG_ERROR:
            errors.append(line)

    with _log_lock:
        _log_users += 1
        pw.whisper_log_set(on_log)
    try:
        yield
    finally:
        with _log_lock:
            _log_users -= 1
            if _log_users == 0:
                pw.whisper_log_set(None)


atexit.register(_reset_whisper_log)


# --- tokens to words and segments ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodedToken:
    """One decoded token as whisper.cpp reports it (times in seconds)."""

    id: int
    text: bytes
    probability: float
    start: float
    end: float


def _decode_text(raw: bytes) -> str:
    # Byte-level BPE splits multi-byte characters (Vietnamese diacritics) across tokens,
    # so text is decoded only once whole words have been joined.
    return raw.decode("utf-8", errors="replace")


def words_from_tokens(tokens: Sequence[DecodedToken]) -> list[Word]:
    """Join text tokens into words: a token starting with a space starts a new word.

    Tokens without a leading space (word pieces, punctuation) extend the word
    before them, so "country" + "." gives "country.". Vietnamese syllables are
    space-separated, so each syllable is a word, as whisper writes them. A word
    spans its first token's start to its last token's end; its probability is
    the mean of its tokens'.
    """
    groups: list[list[DecodedToken]] = []
    for token in tokens:
        if not groups or token.text.startswith(b" "):
            groups.append([token])
        else:
            groups[-1].append(token)
    words: list[Word] = []
    for group in groups:
        text = _decode_text(b"".join(t.text for t in group)).strip()
        if not text:
            continue
        probability = float(np.mean([t.probability for t in group]))
        start, end = group[0].start, group[-1].end
        words.append(Word(start=start, end=max(start, end), text=text, probability=probability))
    return words


def is_annotation(text: str) -> bool:
    """True for a segment that only annotates sound: "[BLANK_AUDIO]", "(music)", "♪ ♪".

    Whisper writes such subtitle notes over silence and music. They hold no
    spoken words, so they never reach a transcript. (Suppressing these tokens
    while decoding, as openai-whisper does, makes whisper write a phantom "you"
    over silence instead, which is worse.)
    """
    return bool(_ANNOTATION.fullmatch(text.strip()))


def _clamp_words(words: Sequence[Word], low: float, high: float) -> list[Word]:
    """Words with their times kept inside ``[low, high]`` and never running backwards."""
    result: list[Word] = []
    floor = low
    for word in words:
        start = min(max(word.start, floor), high)
        end = min(max(word.end, start), high)
        result.append(Word(start=start, end=end, text=word.text, probability=word.probability))
        floor = start
    return result


def split_long_segment(segment: Segment, max_chars: int) -> list[Segment]:
    """``segment`` cut at word boundaries into pieces of at most ``max_chars`` characters.

    A single word longer than ``max_chars`` stays whole. Segments without word
    times are returned unchanged: there is nothing to place a cut by.
    """
    if max_chars <= 0 or len(segment.text) <= max_chars or not segment.words:
        return [segment]
    pieces: list[list[Word]] = [[]]
    length = 0
    for word in segment.words:
        extra = len(word.text) + (1 if pieces[-1] else 0)
        if pieces[-1] and length + extra > max_chars:
            pieces.append([])
            length = 0
            extra = len(word.text)
        pieces[-1].append(word)
        length += extra
    result = []
    for index, words in enumerate(pieces):
        start = segment.start if index == 0 else words[0].start
        end = segment.end if index == len(pieces) - 1 else words[-1].end
        result.append(
            Segment(
                start=start,
                end=max(start, end),
                text=" ".join(w.text for w in words),
                words=tuple(words),
                no_speech_prob=segment.no_speech_prob,
            )
        )
    return result


# --- whisper.cpp ---------------------------------------------------------------------


def pick_language(probabilities: dict[str, float], candidates: Sequence[str]) -> str:
    """The likeliest of ``candidates`` that whisper knows; of every language when there are none."""
    known = [code for code in candidates if code in probabilities] or list(probabilities)
    return max(known, key=probabilities.__getitem__)


class WhisperCppBackend:
    """whisper.cpp (through pywhispercpp's bindings) holding one ggml model.

    Not thread-safe: one request at a time, since whisper.cpp keeps one
    decoding state per context. Times come from whisper's timestamp tokens
    (segments) and whisper.cpp's token-level timestamps (words); see
    :mod:`sttdesk.engine.options` for why.
    """

    name = "whispercpp"

    def __init__(self) -> None:
        self._ctx: Any = None
        self._threads = 1
        self._info: ModelInfo | None = None
        self._closed = False

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None before :meth:`load`."""
        return self._info

    def load(self, model_path: Path, threads: int) -> ModelInfo:
        import _pywhispercpp as pw

        if self._closed:
            raise EngineError("the backend is closed")
        if self._ctx is not None:
            raise EngineError("a model is already loaded")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive whole number, not {threads!r}")
        path = check_model_file(Path(model_path))
        params = pw.whisper_context_default_params()
        params.use_gpu = False
        errors: collections.deque[str] = collections.deque(maxlen=20)
        started = time.perf_counter()
        try:
            with _whisper_logs_to_python(errors):
                ctx = pw.whisper_init_from_file_with_params(str(path), params)
        except MemoryError as exc:
            raise ModelError(f"not enough memory to load {path.name}") from exc
        # The bindings wrap a NULL context in a live-looking object; whisper.cpp's error
        # log is the only sign that the load failed.
        if errors:
            raise CorruptModelError(path=str(path), detail="; ".join(errors))
        self._ctx = ctx
        self._threads = threads
        self._info = ModelInfo(
            path=str(path),
            model_type=pw.whisper_model_type_readable(ctx),
            multilingual=bool(pw.whisper_is_multilingual(ctx)),
            ftype=int(pw.whisper_model_ftype(ctx)),
            load_seconds=time.perf_counter() - started,
        )
        log.info(
            "Loaded %s (%s, ftype %d) in %.2f s",
            path.name,
            self._info.model_type,
            self._info.ftype,
            self._info.load_seconds,
        )
        return self._info

    def close(self) -> None:
        import _pywhispercpp as pw

        self._closed = True
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            pw.whisper_free(ctx)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> RecognitionResult:
        import _pywhispercpp as pw

        if self._ctx is None or self._info is None:
            raise EngineError("no model is loaded")
        samples = check_audio(audio)
        duration = samples.size / SAMPLE_RATE
        threads = options.threads or self._threads
        timings: dict[str, float] = {}
        started = time.perf_counter()
        language, probability = self._choose_language(samples, options, threads, timings)
        if samples.size < MIN_SAMPLES:
            # whisper.cpp refuses less than 100 ms of audio; there is no speech to find in it.
            return RecognitionResult(segments=(), language=language, audio_seconds=duration, timings=timings)
        params = self._full_params(options, language, threads)
        errors: collections.deque[str] = collections.deque(maxlen=20)
        decode_started = time.perf_counter()
        try:
            with _whisper_logs_to_python(errors):
                rc = int(pw.whisper_full(self._ctx, params, samples, samples.size))
        except MemoryError as exc:
            raise EngineOutOfMemoryError(str(exc) or "std::bad_alloc") from exc
        timings["decode"] = time.perf_counter() - decode_started
        if rc != 0:
            detail = "; ".join(errors) or f"whisper_full returned {rc}"
            if any("alloc" in line.lower() or "memory" in line.lower() for line in errors):
                raise EngineOutOfMemoryError(detail)
            raise EngineFailureError(detail)
        segments = self._read_segments(options, duration)
        timings["transcribe"] = time.perf_counter() - started
        return RecognitionResult(
            segments=tuple(segments),
            language=language,
            language_probability=probability,
            audio_seconds=duration,
            timings=timings,
        )

    # --- helpers -------------------------------------------------------------------

    def _choose_language(
        self, samples: np.ndarray, options: DecodeOptions, threads: int, timings: dict[str, float]
    ) -> tuple[str, float | None]:
        """The language to decode in, and its probability when it was detected.

        "auto" runs whisper's language detection on the first window and picks
        the likeliest of ``options.auto_languages``. It costs one more encoder
        pass, as it would inside whisper_full.
        """
        assert self._info is not None
        if not self._info.multilingual:
            if options.language not in ("en", "auto"):
                raise UnsupportedLanguageError(
                    f"the model {Path(self._info.path).name} knows English only",
                    language=options.language,
                    supported="en",
                )
            return "en", None
        if options.language != "auto":
            return options.language, None
        if samples.size < MIN_SAMPLES:
            return (options.auto_languages or ("en",))[0], None
        started = time.perf_counter()
        probabilities = self.language_probabilities(samples, threads)
        timings["detect_language"] = time.perf_counter() - started
        best = pick_language(probabilities, options.auto_languages)
        return best, probabilities[best]

    def language_probabilities(self, audio: np.ndarray, threads: int | None = None) -> dict[str, float]:
        """whisper's language detection on the first window of ``audio``: every language's probability.

        It costs one encoder pass, as it would inside whisper_full.
        """
        import _pywhispercpp as pw

        if self._ctx is None:
            raise EngineError("no model is loaded")
        samples = check_audio(audio)
        if samples.size < MIN_SAMPLES:
            raise InvalidAudioError("less than 100 ms of audio has no language to detect")
        window = samples[: int(WINDOW_SECONDS * SAMPLE_RATE)]
        threads = threads or self._threads
        probs = np.zeros(pw.whisper_lang_max_id() + 1, dtype=np.float32)
        errors: collections.deque[str] = collections.deque(maxlen=20)
        try:
            with _whisper_logs_to_python(errors):
                rc = pw.whisper_pcm_to_mel(self._ctx, window, window.size, threads)
                best = pw.whisper_lang_auto_detect(self._ctx, 0, threads, probs) if rc == 0 else -1
        except MemoryError as exc:
            raise EngineOutOfMemoryError(str(exc) or "std::bad_alloc") from exc
        if best < 0:
            raise EngineFailureError("; ".join(errors) or "language detection failed")
        return {pw.whisper_lang_str(index): float(p) for index, p in enumerate(probs)}

    def _full_params(self, options: DecodeOptions, language: str, threads: int) -> Any:
        """whisper_full's parameters for one request, every field set from ``options``.

        A fresh parameter object per request: nothing leaks from one request
        into the next.
        """
        import _pywhispercpp as pw

        strategy = (
            pw.whisper_sampling_strategy.WHISPER_SAMPLING_GREEDY
            if options.greedy
            else pw.whisper_sampling_strategy.WHISPER_SAMPLING_BEAM_SEARCH
        )
        params = pw.whisper_full_default_params(strategy)
        params.n_threads = threads
        params.language = language
        params.detect_language = False
        params.translate = False
        params.no_context = options.no_context
        params.no_timestamps = False
        params.single_segment = False
        params.token_timestamps = options.word_timestamps
        params.max_len = 0
        params.split_on_word = False
        params.print_progress = False
        params.print_realtime = False
        params.print_special = False
        params.print_timestamps = False
        params.temperature = options.temperature
        params.temperature_inc = options.temperature_inc
        params.entropy_thold = options.entropy_threshold
        params.logprob_thold = options.logprob_threshold
        params.no_speech_thold = options.no_speech_threshold
        params.greedy = {"best_of": options.best_of}
        params.beam_search = {"beam_size": options.beam_size or -1, "patience": -1.0}
        if options.initial_prompt:
            params.initial_prompt = options.initial_prompt
        return params

    def _read_segments(self, options: DecodeOptions, duration: float) -> list[Segment]:
        import _pywhispercpp as pw

        ctx = self._ctx
        eot = pw.whisper_token_eot(ctx)
        segments: list[Segment] = []
        for i in range(pw.whisper_full_n_segments(ctx)):
            text_tokens = [t for t in self._read_tokens(i) if t.id < eot]
            text = _decode_text(b"".join(t.text for t in text_tokens)).strip()
            if not text or is_annotation(text):
                if text:
                    log.debug("Dropped the annotation %r (no words)", text)
                continue
            start = min(max(pw.whisper_full_get_segment_t0(ctx, i) / 100.0, 0.0), duration)
            end = min(max(pw.whisper_full_get_segment_t1(ctx, i) / 100.0, start), duration)
            words: tuple[Word, ...] = ()
            if options.word_timestamps:
                words = tuple(_clamp_words(words_from_tokens(text_tokens), start, end))
            segment = Segment(start=start, end=end, text=text, words=words)
            segments.extend(split_long_segment(segment, options.max_segment_chars))
        return segments

    def _read_tokens(self, segment_index: int) -> list[DecodedToken]:
        import _pywhispercpp as pw

        ctx = self._ctx
        tokens = []
        for j in range(pw.whisper_full_n_tokens(ctx, segment_index)):
            data = pw.whisper_full_get_token_data(ctx, segment_index, j)
            tokens.append(
                DecodedToken(
                    id=data.id,
                    text=pw.whisper_token_to_bytes(ctx, data.id),
                    probability=float(data.p),
                    start=data.t0 / 100.0,
                    end=data.t1 / 100.0,
                )
            )
        return tokens
