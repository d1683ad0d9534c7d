"""The model manager on a real model store in a temp folder: list, import, default, remove, install, cancel."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sttdesk.engine.catalog import Catalog, load_catalog
from sttdesk.engine.store import ModelStatus, ModelStore
from sttdesk.gui.models_dialog import ModelsDialog
from sttdesk.gui.models_model import ModelColumn
from sttdesk.gui.tasks import TaskRunner

from .model_files import TINY_Q8_HEADER, serve_files, write_model


@pytest.fixture(scope="module")
def tiny_q8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file with whisper tiny's exact shape as q8_0 (zero weights, about 43 MB)."""
    return write_model(tmp_path_factory.mktemp("tiny") / "ggml-tiny-q8_0.bin", TINY_Q8_HEADER)


@pytest.fixture
def runners() -> Iterator[tuple[TaskRunner, TaskRunner]]:
    serial, parallel = TaskRunner(threads=1), TaskRunner(threads=2)
    yield serial, parallel
    serial.close()
    parallel.close()


def open_dialog(qtbot: Any, store: ModelStore, runners: tuple[TaskRunner, TaskRunner]) -> ModelsDialog:
    dialog = ModelsDialog(store, *runners)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.model.rowCount() > 0, timeout=10_000)
    return dialog


def catalog_serving(path: Path, base_url: str) -> Catalog:
    """The real catalog's tiny-q8_0 entry, pointing at ``base_url`` and checking this file's bytes."""
    data = path.read_bytes()
    entry = dataclasses.replace(load_catalog().get("tiny-q8_0"), url=f"{base_url}/ggml-tiny-q8_0.bin",
                                size_bytes=len(data), sha1=hashlib.sha1(data).hexdigest(), sha256=None)
    return Catalog([entry])


def test_import_make_default_and_remove(qtbot: Any, tmp_path: Path, runners: Any) -> None:
    store = ModelStore(tmp_path / "models")
    dialog = open_dialog(qtbot, store, runners)
    catalog_rows = dialog.model.rowCount()
    assert catalog_rows == len(store.catalog)
    assert "recommended" in dialog.intro.text()
    assert not dialog.install_button.isEnabled() and not dialog.remove_button.isEnabled()

    mini = write_model(tmp_path / "downloads" / "ggml-my-model.bin")
    dialog.choose_file = lambda: mini
    dialog.import_file()
    qtbot.waitUntil(lambda: dialog.model.row_of("my-model") >= 0 and not dialog.busy, timeout=20_000)
    assert store.get("my-model").size == mini.stat().st_size
    assert dialog.selected_name() == "my-model"
    row = dialog.model.row_of("my-model")
    assert dialog.model.index(row, ModelColumn.STATUS).data() == "Installed"

    chosen: list[str] = []
    dialog.default_chosen.connect(chosen.append)
    assert dialog.default_button.isEnabled()
    dialog.default_button.click()
    qtbot.waitUntil(lambda: chosen == ["my-model"], timeout=10_000)
    assert store.default_name == "my-model"
    qtbot.waitUntil(lambda: "default" in dialog.model.index(dialog.model.row_of("my-model"),
                                                            ModelColumn.STATUS).data(), timeout=10_000)

    dialog.installed_only.setChecked(True)
    assert dialog.proxy.rowCount() == 1

    questions: list[str] = []
    dialog.confirm = lambda title, text, yes: questions.append(text) or True
    dialog.select("my-model")
    dialog.remove_button.click()
    qtbot.waitUntil(lambda: dialog.model.row_of("my-model") < 0, timeout=10_000)
    assert "my-model" in questions[0]
    assert not store.is_installed("my-model") and dialog.proxy.rowCount() == 0


def test_importing_a_file_that_is_no_model_says_why(qtbot: Any, tmp_path: Path, runners: Any) -> None:
    store = ModelStore(tmp_path / "models")
    dialog = open_dialog(qtbot, store, runners)
    bogus = tmp_path / "notes.bin"
    bogus.write_bytes(b"these are meeting notes, not a model" * 100)
    dialog.choose_file = lambda: bogus
    dialog.import_file()
    qtbot.waitUntil(lambda: not dialog.busy and bool(dialog.status.text()), timeout=10_000)
    assert "notes.bin" in dialog.status.text()
    assert store.list() == []


@pytest.mark.slow
def test_install_downloads_with_progress(qtbot: Any, tmp_path: Path, runners: Any, tiny_q8: Path) -> None:
    with serve_files({"/ggml-tiny-q8_0.bin": tiny_q8.read_bytes()}) as url:
        store = ModelStore(tmp_path / "models", catalog=catalog_serving(tiny_q8, url))
        dialog = open_dialog(qtbot, store, runners)
        dialog.select("tiny-q8_0")
        assert dialog.install_button.isEnabled()
        dialog.install_button.click()
        assert dialog.busy and dialog.progress_box.isVisibleTo(dialog) and dialog.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=60_000)

    assert store.get("tiny-q8_0").size == tiny_q8.stat().st_size
    assert dialog.status.text() == "Installed: tiny-q8_0"
    # the table is read again off the GUI thread once the install is done: it follows a moment later
    qtbot.waitUntil(lambda: dialog.model.rows()[0].status is ModelStatus.INSTALLED, timeout=10_000)
    assert not dialog.install_button.isEnabled()  # the selected model is installed now
    assert dialog.progress.maximum() == 1000 and dialog.progress.value() == 1000


@pytest.mark.slow
def test_cancel_an_install(qtbot: Any, tmp_path: Path, runners: Any, tiny_q8: Path) -> None:
    with serve_files({"/ggml-tiny-q8_0.bin": tiny_q8.read_bytes()}, delay=0.05) as url:
        store = ModelStore(tmp_path / "models", catalog=catalog_serving(tiny_q8, url))
        dialog = open_dialog(qtbot, store, runners)
        dialog.select("tiny-q8_0")
        dialog.install_button.click()
        qtbot.waitUntil(lambda: 0 < dialog.progress.value() < 1000, timeout=30_000)
        dialog.cancel_button.click()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)

    assert "cancelled" in dialog.status.text()
    assert not store.is_installed("tiny-q8_0")
    assert dialog.install_button.isEnabled()
