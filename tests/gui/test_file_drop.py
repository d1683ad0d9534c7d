"""What a drop means: files as dropped, media files found inside folders."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl

from sttdesk.gui.file_drop import expand_paths, local_paths


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_give_their_media_files_in_order_and_dropped_files_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "interviews"
    b = touch(folder / "b.MP3")
    a = touch(folder / "day1" / "a.m4a")
    touch(folder / "notes.docx")
    touch(folder / ".hidden.wav")
    touch(folder / ".cache" / "c.wav")
    odd = touch(tmp_path / "recording.dat")  # dropped on its own: tried whatever its name

    files = expand_paths([folder, odd, b])

    assert files == [b, a, odd]


def test_a_huge_folder_stops_at_the_limit(tmp_path: Path) -> None:
    for index in range(10):
        touch(tmp_path / f"{index:02d}.wav")
    assert [p.name for p in expand_paths([tmp_path], limit=3)] == ["00.wav", "01.wav", "02.wav"]


def test_only_local_urls_count(tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "a.wav")), QUrl("https://example.com/b.wav")])
    assert local_paths(mime) == [tmp_path / "a.wav"]
    text_only = QMimeData()
    text_only.setText("hello")
    assert local_paths(text_only) == []
