"""Decoding options for one transcription request, and how they travel on the wire.

Greedy decoding is the default (``beam_size=None``), as in pywhispercpp
(whisper-cli defaults to beam 5). On our chunks beam 5 took 1.57x the CPU
time of greedy for no better WER (3.5-4.0 % against 3.8 %; the temperature
fallback samples, so beam runs vary). Beam search is there for whoever gives a
``beam_size``.

Timestamps: whisper's own, window after window
----------------------------------------------
A chunk of up to 30 s should cost one encoder pass (DESIGN.md §9). whisper.cpp's
normal timestamp mode, used here, encodes a second window only when the
decoder stopped before the end of the audio: it then seeks to the last
timestamp token and decodes the rest. The ways around that second pass all
lost text or word times (``python -m benchmarks.engine --strategies``: 22
chunks of 14-29 s joined from the clips of tests/data/en, 473 s, base f16,
greedy, one thread, strategies interleaved chunk by chunk, CPU seconds):

============================== ===== ====== ==================== ===================
strategy                       CPU   WER    clip onset/end error word start vs
                                            (mean, s)            faster-whisper (s)
============================== ===== ====== ==================== ===================
timestamps, seek (**used**)    93.5  3.80 % 0.36 / 0.35          0.24
single_segment (one pass)      83.2  5.78 % 0.41 / 0.48          0.61
no_timestamps (one pass)       83.9  6.36 % no word times        --
no_timestamps + DTW            94.5  6.36 % 0.67 / 0.83          0.05
timestamps + DTW               113.3 4.05 % 0.67 / 0.49          0.06
beam 5 (timestamps, seek)      147.2 3.96 % 0.35 / 0.44          0.23
============================== ===== ====== ==================== ===================

The one-pass modes save 11 % but drop text: whisper often ends its first pass
a phrase early (``<|24.32|>`` then end-of-text in a 28 s chunk), and only the
seek decodes the rest ("...and traversed by a brook."). "Clip onset/end
error" is how far the first and last word of each joined clip lie from where
its speech starts and ends by energy: whisper.cpp's token-level timestamps,
which it snaps to the audio energy, place word edges better than DTW, whose
words have no gaps between them; DTW agrees with faster-whisper (the same
alignment method) but needs flash attention off, +21 % here. So segment times
come from whisper's timestamp tokens and word times from whisper.cpp's
token-level timestamps; chunks that end in silence rarely need a second pass
(3 of these 22 did).

Whole windows, not fitted ones
------------------------------
whisper.cpp can encode a window shorter than 30 s (``audio_ctx``), and the
encoder is most of a chunk's time, so fitting the window to the audio (its
length plus 3 s, at least 10 s) looked like a cheap speed-up. It is not free
(base q8_0, greedy, one thread, same run, whole vs fitted):

============================== ============== =============== =======
audio                          time           WER             change
============================== ============== =============== =======
the 22 chunks above            88.9 → 72.5 s  4.19 → 5.35 %   +1.2 pt
36 English dev utterances      131.4 → 74.1 s 3.78 → 4.44 %   +0.7 pt
42 Vietnamese dev utterances   128.9 → 43.7 s 36.96 → 37.97 % +1.0 pt
fitting only the second passes 85.8 → 82.2 s  4.19 → 4.77 %   +0.6 pt
============================== ============== =============== =======

and the weaker q5_0 model looped on the short silence after the audio (2 of
18 utterances). Windows that are not a multiple of 256 positions were worse
still: whisper.cpp's decoder then also read what the previous, longer window
left behind, so the same audio gave other words depending on the request
before it. Accuracy comes first here, so every window is whole.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..domain.errors import PermanentError
from ..domain.languages import validate_language
from .errors import EngineError

#: Whisper's decoding temperature for the first try (0 = always the most likely token).
DEFAULT_TEMPERATURE = 0.0
#: Added to the temperature each time a decode fails the entropy or log-probability check.
DEFAULT_TEMPERATURE_INC = 0.2
#: Candidates sampled per fallback temperature when decoding greedily (whisper's default).
DEFAULT_BEST_OF = 5
#: A decode whose token entropy exceeds this is treated as a repetition loop and retried hotter.
DEFAULT_ENTROPY_THRESHOLD = 2.4
#: A decode whose mean token log-probability is below this is retried hotter.
DEFAULT_LOGPROB_THRESHOLD = -1.0
#: Above this no-speech probability (with a low log-probability) a window is treated as silence.
DEFAULT_NO_SPEECH_THRESHOLD = 0.6
#: Languages "auto" chooses between: the ones sttdesk transcribes.
DEFAULT_AUTO_LANGUAGES = ("en", "vi")
#: Largest beam whisper.cpp supports (its decoder array has 8 slots; wider beams are rejected).
MAX_BEAM_SIZE = 8
#: Upper bound for threads per request; more than the machine has only slows whisper.cpp down.
MAX_THREADS = 256


class InvalidDecodeOptionsError(EngineError, PermanentError):
    """Decoding options that cannot be used (wrong type or out of range)."""

    code = "invalid_decode_options"
    message_en = "Invalid transcription options: {detail}"
    message_vi = "Tuỳ chọn nhận dạng không hợp lệ: {detail}"


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """How to transcribe one piece of audio.

    Every field has a plain JSON type so the options can travel to an agent
    (:meth:`to_dict` / :meth:`from_dict`). Invalid values raise
    :class:`InvalidDecodeOptionsError` (or ``UnsupportedLanguageError`` for the
    language) when the object is built.
    """

    #: "en", "vi" or "auto" (detect between ``auto_languages``).
    language: str = "auto"
    #: None decodes greedily (the default, and what the figures assume); 2..8 runs beam search.
    beam_size: int | None = None
    #: Candidates sampled at each fallback temperature when decoding greedily.
    best_of: int = DEFAULT_BEST_OF
    #: Text the decoder sees before the audio: names, spellings, style. None for none.
    initial_prompt: str | None = None
    #: whisper.cpp threads for this request; None uses the engine's own setting.
    threads: int | None = None
    #: First decoding temperature.
    temperature: float = DEFAULT_TEMPERATURE
    #: Temperature step for the fallback when a decode looks bad; 0 disables the fallback.
    temperature_inc: float = DEFAULT_TEMPERATURE_INC
    #: Entropy above which a decode counts as a repetition loop (triggers the fallback).
    entropy_threshold: float = DEFAULT_ENTROPY_THRESHOLD
    #: Mean log-probability below which a decode counts as failed (triggers the fallback).
    logprob_threshold: float = DEFAULT_LOGPROB_THRESHOLD
    #: No-speech probability above which a low-confidence window is dropped as silence.
    no_speech_threshold: float = DEFAULT_NO_SPEECH_THRESHOLD
    #: Do not feed text decoded from earlier windows back as a prompt. Chunks are independent
    #: requests anyway; this only matters inside audio longer than 30 s, where carried context
    #: is what makes whisper repeat itself.
    no_context: bool = True
    #: Return words with times and probabilities (segments always have times).
    word_timestamps: bool = True
    #: Decode again, alone, any stretch of speech the first decode left without words (see
    #: :mod:`sttdesk.engine.coverage`). Off gives whisper's output as it is, for comparisons.
    coverage_check: bool = True
    #: Split segments longer than this many characters at word boundaries; 0 keeps whisper's.
    max_segment_chars: int = 0
    #: The languages "auto" picks from; empty means any language the model knows.
    auto_languages: tuple[str, ...] = DEFAULT_AUTO_LANGUAGES

    def __post_init__(self) -> None:
        object.__setattr__(self, "language", validate_language(self.language))
        if self.beam_size is not None:
            _check_int("beam_size", self.beam_size, 2, MAX_BEAM_SIZE)
        _check_int("best_of", self.best_of, 1, MAX_BEAM_SIZE)
        if self.threads is not None:
            _check_int("threads", self.threads, 1, MAX_THREADS)
        _check_int("max_segment_chars", self.max_segment_chars, 0, 100_000)
        _check_float("temperature", self.temperature, 0.0, 1.0)
        _check_float("temperature_inc", self.temperature_inc, 0.0, 1.0)
        _check_float("entropy_threshold", self.entropy_threshold, 0.0, 100.0)
        _check_float("logprob_threshold", self.logprob_threshold, -100.0, 0.0)
        _check_float("no_speech_threshold", self.no_speech_threshold, 0.0, 1.0)
        for name in ("no_context", "word_timestamps", "coverage_check"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidDecodeOptionsError(f"{name} must be true or false")
        if self.initial_prompt is not None and not isinstance(self.initial_prompt, str):
            raise InvalidDecodeOptionsError("initial_prompt must be text")
        if isinstance(self.auto_languages, str) or not all(
            isinstance(code, str) and code.strip() for code in self.auto_languages
        ):
            raise InvalidDecodeOptionsError("auto_languages must be a list of language codes")
        object.__setattr__(self, "auto_languages", tuple(code.strip().lower() for code in self.auto_languages))

    @property
    def greedy(self) -> bool:
        """True when decoding greedily (no beam search)."""
        return self.beam_size is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        data = asdict(self)
        data["auto_languages"] = list(self.auto_languages)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> DecodeOptions:
        """Options from a dict received on the wire; unknown keys are an error, missing ones default."""
        if not isinstance(data, dict):
            raise InvalidDecodeOptionsError("options must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise InvalidDecodeOptionsError(f"unknown option(s): {', '.join(unknown)}")
        values = dict(data)
        if "auto_languages" in values and isinstance(values["auto_languages"], list):
            values["auto_languages"] = tuple(values["auto_languages"])
        return cls(**values)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    # bool is an int subclass; "beam_size": true is a mistake, not a 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidDecodeOptionsError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


def _check_float(name: str, value: Any, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidDecodeOptionsError(f"{name} must be a number from {low} to {high}, not {value!r}")
