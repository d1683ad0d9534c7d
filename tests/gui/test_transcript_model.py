"""Transcript rows: segments and gaps in order, edits in place, updates that keep what did not change."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from sttdesk.domain.transcript import PENDING_GAP_CODE, Gap, Segment, Transcript
from sttdesk.gui.transcript_model import (
    FAILED_GAP,
    PENDING_GAP,
    SEGMENT,
    TranscriptColumn,
    TranscriptModel,
    TranscriptRow,
    rows_from_transcript,
)


def transcript(segments: list[tuple[float, float, str]], gaps: list[Gap] = ()) -> Transcript:  # type: ignore[assignment]
    return Transcript(segments=tuple(Segment(a, b, t) for a, b, t in segments), language="en", duration=120.0,
                      gaps=tuple(gaps), complete=not gaps)


def pending(start: float, end: float, index: int) -> Gap:
    return Gap(start, end, index, PENDING_GAP_CODE, "Not transcribed yet.", "Chưa được chép lời.")


def test_rows_are_in_time_order_and_pending_stretches_merge() -> None:
    failed = Gap(30.0, 60.0, 1, "engine_crashed", "The engine crashed.", "Bộ máy bị lỗi.")
    rows = rows_from_transcript(
        transcript([(0.0, 4.0, "Hello."), (4.5, 9.0, "How are you?")],
                   [failed, pending(60.0, 90.0, 2), pending(90.0, 120.0, 3)]),
        frozenset({1}), "vi")

    assert [(row.kind, row.start, row.end) for row in rows] == [
        (SEGMENT, 0.0, 4.0), (SEGMENT, 4.5, 9.0), (FAILED_GAP, 30.0, 60.0), (PENDING_GAP, 60.0, 120.0)]
    assert rows[1].edited and not rows[0].edited
    assert rows[2].text == "Bộ máy bị lỗi."


def test_model_rules_and_what_rows_show(qtmodeltester: Any) -> None:
    model = TranscriptModel()
    failed = Gap(30.0, 60.0, 1, "engine_crashed", "The engine crashed.", "")
    model.set_rows(rows_from_transcript(transcript([(0.0, 4.0, "Hello.")], [failed, pending(60, 90, 2)]),
                                        frozenset(), "en"))
    qtmodeltester.check(model, force_py=True)

    assert model.index(0, TranscriptColumn.TIME).data() == "0:00.0"
    assert model.index(1, TranscriptColumn.TIME).data() == "0:30.0"
    assert model.index(1, TranscriptColumn.TEXT).data() == "Not transcribed: The engine crashed."
    assert model.index(2, TranscriptColumn.TEXT).data() == "Not transcribed yet…"
    assert model.flags(model.index(0, TranscriptColumn.TEXT)) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(model.index(1, TranscriptColumn.TEXT)) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(model.index(0, TranscriptColumn.TIME)) & Qt.ItemFlag.ItemIsEditable


def test_editing_a_segment_asks_to_save_it(qtbot: Any) -> None:
    model = TranscriptModel()
    model.set_rows([TranscriptRow(SEGMENT, 0.0, 4.0, "Helo world.", 0), TranscriptRow(SEGMENT, 4.0, 8.0, "Bye.", 1)])
    requests: list[tuple[int, float, str]] = []
    model.edit_requested.connect(lambda *args: requests.append(args))

    assert model.setData(model.index(1, TranscriptColumn.TEXT), "  Good   bye. ")
    assert not model.setData(model.index(0, TranscriptColumn.TEXT), "   ")  # emptying is not a correction
    assert not model.setData(model.index(0, TranscriptColumn.TIME), "1:00")

    assert requests == [(1, 4.0, "Good bye.")]
    assert model.index(1, TranscriptColumn.TEXT).data() == "Good bye."
    assert model.rows()[1].edited


def test_a_growing_transcript_keeps_unchanged_rows(qtbot: Any, qtmodeltester: Any) -> None:
    model = TranscriptModel()
    first = [TranscriptRow(SEGMENT, 0.0, 4.0, "One.", 0), TranscriptRow(PENDING_GAP, 4.0, 60.0, "…"),
             TranscriptRow(SEGMENT, 60.0, 64.0, "Last.", 1)]
    model.set_rows(first)
    qtmodeltester.check(model, force_py=True)
    removed: list[tuple[int, int]] = []
    inserted: list[tuple[int, int]] = []
    changed: list[int] = []
    model.rowsRemoved.connect(lambda _parent, a, b: removed.append((a, b)))
    model.rowsInserted.connect(lambda _parent, a, b: inserted.append((a, b)))
    model.dataChanged.connect(lambda top, _bottom, _roles: changed.append(top.row()))

    grown = [first[0], TranscriptRow(SEGMENT, 4.0, 8.0, "Two.", 1), TranscriptRow(SEGMENT, 8.0, 12.0, "Three.", 2),
             TranscriptRow(PENDING_GAP, 12.0, 60.0, "…"), TranscriptRow(SEGMENT, 60.0, 64.0, "Last.", 3)]
    model.set_rows(grown)

    assert model.rows() == grown
    # The head row (maybe open in an editor) was never touched; the middle changed, the rest was added.
    assert removed == [] and inserted == [(3, 4)] and changed == [1]
    model.set_rows(grown[:1])
    assert model.rows() == grown[:1] and removed == [(1, 4)]


def test_find_and_the_playing_row(qtbot: Any) -> None:
    model = TranscriptModel()
    model.set_rows([TranscriptRow(SEGMENT, 0.0, 4.0, "Ask not what your Country", 0),
                    TranscriptRow(FAILED_GAP, 4.0, 8.0, "country failed"),
                    TranscriptRow(SEGMENT, 8.0, 12.0, "can do for your country.", 1)])
    assert model.find("COUNTRY") == [0, 2]  # gaps are not text
    assert model.find("  ") == []
    assert model.row_at_time(9.5) == 2 and model.row_at_time(5.0) == -1

    model.set_playing_row(2)
    assert model.index(2, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(0, 0).data(Qt.ItemDataRole.BackgroundRole) is None
