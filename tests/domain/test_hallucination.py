"""The hallucination guard: phantom phrases, loops, text over silence."""

from __future__ import annotations

import pytest

from sttdesk.domain.hallucination import (
    DropKind,
    GuardOptions,
    GuardReport,
    HallucinationGuard,
    InvalidGuardOptionError,
    InvalidSpeechIntervalError,
    PhantomPhrase,
)
from sttdesk.domain.transcript import RecognitionResult, Segment, Word


def seg(
    text: str, start: float, end: float, *, words: bool = True, nsp: float | None = None, prob: float = 0.9
) -> Segment:
    """A segment whose words share its span evenly."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    timed = tuple(Word(start + i * step, start + (i + 1) * step, t, prob) for i, t in enumerate(tokens))
    return Segment(start, end, text, timed if words else (), nsp)


def result(*segments: Segment, language: str = "en") -> RecognitionResult:
    return RecognitionResult(segments=segments, language=language, audio_seconds=30.0)


GUARD = HallucinationGuard()


@pytest.mark.parametrize(
    "phantom",
    [
        "Thanks for watching!",
        "Thank you for watching.",
        "Please subscribe.",
        "Subtitles by the Amara.org community",
        "Hãy subscribe cho kênh Ghiền Mì Gõ Để không bỏ lỡ những video hấp dẫn",
        "Hãy đăng ký kênh để ủng hộ nhé!",
        "Cảm ơn các bạn đã theo dõi.",
        "Hẹn gặp lại các bạn trong những video tiếp theo.",
        "Subtitle by Nguyễn Văn A",
        "*Subscribe*",
        "những video hấp dẫn",
    ],
)
@pytest.mark.parametrize("with_words", [True, False])
def test_whole_phantom_segments_are_dropped(phantom: str, with_words: bool) -> None:
    real = seg("The meeting starts at nine.", 0.0, 3.0, words=with_words)
    cleaned, report = GUARD.clean(result(real, seg(phantom, 3.5, 6.0, words=with_words)))
    assert [s.text for s in cleaned.segments] == ["The meeting starts at nine."]
    assert report.counts[DropKind.PHANTOM_PHRASE.value] == 1
    assert report.dropped[0].text == phantom
    assert report.dropped[0].start == pytest.approx(3.5)


def test_segment_final_phantom_is_cut_off_and_the_sentence_kept() -> None:
    cleaned, report = GUARD.clean(result(seg("So that is the plan. Thanks for watching!", 0.0, 4.0)))
    (segment,) = cleaned.segments
    assert segment.text == "So that is the plan."
    assert segment.end == pytest.approx(segment.words[-1].end)
    assert report.counts["phantom_phrase"] == 1


def test_chained_phantoms_all_go() -> None:
    cleaned, report = GUARD.clean(result(seg("Done. Thanks for watching. Please subscribe.", 0, 4)))
    assert [s.text for s in cleaned.segments] == ["Done."]
    assert report.counts["phantom_phrase"] == 2


@pytest.mark.parametrize(
    "sentence",
    [
        "We thank you for watching the children last night.",
        "He said thanks for watching the kids.",
        "Nobody wants to subscribe to my channel idea",
        "I read the subtitles by myself.",
        "Chúng tôi cảm ơn các bạn đã theo dõi suốt buổi họp hôm nay.",
        "Anh ấy bảo hãy đăng ký kênh",  # mid-sentence: the phrase does not start a sentence
        "Remember to subscribe before Friday.",
        "Kênh này có những video hấp dẫn về lịch sử.",
    ],
)
def test_real_sentences_are_kept(sentence: str) -> None:
    cleaned, report = GUARD.clean(result(seg(sentence, 0, 4)))
    assert cleaned.segments[0].text == sentence
    assert report.total == 0


def test_repeated_ngram_loop_keeps_one_occurrence() -> None:
    text = "I think that we should go. we should go. we should go. we should go. we should go. Right?"
    cleaned, report = GUARD.clean(result(seg(text, 0, 10)))
    assert cleaned.segments[0].text == "I think that we should go. Right?"
    assert report.counts["repetition"] == 1
    assert report.dropped[0].text.count("we should go.") == 4


def test_loop_across_segments_and_single_word_loops() -> None:
    cleaned, report = GUARD.clean(
        result(seg("okay okay okay", 0, 2), seg("okay okay and then", 2, 4), seg("no no no stop", 4, 6))
    )
    # Five "okay" across two segments are one loop; three "no" are below the threshold.
    assert [s.text for s in cleaned.segments] == ["okay", "and then", "no no no stop"]
    assert report.counts["repetition"] == 1


def test_repeated_segments_collapse() -> None:
    line = "This sentence is much longer than any n-gram the guard checks."
    cleaned, report = GUARD.clean(result(*(seg(line, i * 3.0, i * 3.0 + 3) for i in range(5)), seg("Next.", 15, 16)))
    assert [s.text for s in cleaned.segments] == [line, "Next."]
    assert report.counts["repetition"] == 1
    twice, report2 = GUARD.clean(result(seg("Yes.", 0, 1), seg("Yes.", 1, 2)))
    assert len(twice.segments) == 2 and report2.total == 0


def test_text_over_silence_is_dropped() -> None:
    speech = [(0.0, 4.0), (20.0, 25.0)]
    cleaned, report = GUARD.clean(
        result(seg("Real words here.", 0.5, 3.8), seg("Thank you.", 10.0, 12.0), seg("More real words.", 20.2, 24.0)),
        speech=speech,
    )
    assert [s.text for s in cleaned.segments] == ["Real words here.", "More real words."]
    assert report.counts["silence"] == 1
    # A segment that only touches speech within the padding still counts as over silence.
    _, edge = GUARD.clean(result(seg("edge", 4.2, 8.0)), speech=speech)
    assert edge.counts["silence"] == 1
    # No intervals known: nothing is judged; an empty list: all of it is silence.
    assert GUARD.clean(result(seg("Thank you.", 10, 12)), speech=None)[1].total == 0
    assert GUARD.clean(result(seg("Thank you.", 10, 12)), speech=[])[1].counts["silence"] == 1


def test_no_speech_needs_both_signals() -> None:
    cleaned, report = GUARD.clean(
        result(
            seg("mumble", 0, 1, nsp=0.9, prob=0.1),
            seg("clear words", 1, 2, nsp=0.9, prob=0.95),
            seg("unsure words", 2, 3, nsp=0.1, prob=0.1),
            seg("no word times", 3, 4, words=False, nsp=0.95),
        )
    )
    assert [s.text for s in cleaned.segments] == ["clear words", "unsure words", "no word times"]
    assert report.counts["no_speech"] == 1


def test_clean_result_is_returned_untouched() -> None:
    original = result(seg("Hello there.", 0, 1), Segment(1, 2, "no words"), language="vi")
    cleaned, report = GUARD.clean(original, speech=[(0, 2)])
    assert cleaned == original
    assert report.total == 0 and report.dropped == []


def test_reports_merge_and_serialise() -> None:
    _, a = GUARD.clean(result(seg("Thanks for watching!", 0, 2)))
    _, b = GUARD.clean(result(seg("x x x x x", 0, 2)))
    merged = a.merged(b)
    assert merged.counts == {"silence": 0, "no_speech": 0, "phantom_phrase": 1, "repetition": 1}
    assert [d["kind"] for d in merged.to_dict()["dropped"]] == ["phantom_phrase", "repetition"]
    assert GuardReport().total == 0


def test_custom_phrases_and_thresholds() -> None:
    guard = HallucinationGuard(GuardOptions(phrases=(PhantomPhrase("Bye now"),), loop_min_repeats=2))
    cleaned, report = guard.clean(result(seg("Thanks for watching!", 0, 2), seg("go go now. Bye now.", 2, 4)))
    assert [s.text for s in cleaned.segments] == ["Thanks for watching!", "go now."]
    assert report.counts == {"silence": 0, "no_speech": 0, "phantom_phrase": 1, "repetition": 1}


@pytest.mark.parametrize(
    "options",
    [
        {"loop_min_repeats": 1},
        {"loop_max_ngram": 0},
        {"segment_loop_min_repeats": 1},
        {"min_speech_ratio": 1.5},
        {"no_speech_threshold": -0.1},
        {"low_probability_threshold": 2},
        {"speech_padding": -1.0},
        {"speech_padding": float("nan")},
        {"max_open_tail_words": -1},
    ],
)
def test_bad_options_are_rejected(options: dict[str, object]) -> None:
    with pytest.raises(InvalidGuardOptionError) as info:
        GuardOptions(**options)  # type: ignore[arg-type]
    assert info.value.code == "invalid_guard_option"
    assert next(iter(options)) in info.value.user_message("vi")


@pytest.mark.parametrize("speech", [[(2.0, 1.0)], [(0.0,)], [("a", "b")], [(0.0, float("inf"))], [None]])
def test_bad_speech_intervals_are_rejected(speech: list[object]) -> None:
    with pytest.raises(InvalidSpeechIntervalError) as info:
        GUARD.clean(result(seg("hello", 0, 1)), speech=speech)  # type: ignore[arg-type]
    assert info.value.code == "invalid_speech_interval"
