"""``sttdesk jobs``: list, inspect, export, cancel, retry and remove jobs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from ..domain.exporters import available_formats, export, write_export

#: Piped output is read by scripts and people alike: never wrap an id in the middle.
PIPED_WIDTH = 200

console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


def _core():
    from ..app import build_core

    return build_core(pool_agents=0)


def _when(seconds: float | None) -> str:
    return "" if not seconds else time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@click.group()
def jobs() -> None:
    """Transcription jobs in the job table."""


@jobs.command("list")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["PENDING", "PROCESSING", "PAUSED", "COMPLETED", "FAILED", "CANCELLED"],
                                case_sensitive=False), help="Only jobs in this state (repeatable).")
@click.option("--limit", default=50, show_default=True)
def list_jobs(states: tuple[str, ...], limit: int) -> None:
    """List jobs, newest first."""
    core = _core()
    table = Table("file", "state", "progress", "duration", "language", "model", "created")
    table.columns.insert(0, Column("id", no_wrap=True))
    for view in core.service.list(states=[s.upper() for s in states] or None, limit=limit):
        table.add_row(view.id, escape(view.name), view.state, f"{view.chunks_done}/{view.chunks_total}",
                      _duration(view.duration), view.detected_language or view.language, view.model,
                      _when(view.created_at))
    console.print(table)


@jobs.command("show")
@click.argument("job_id")
def show(job_id: str) -> None:
    """Show one job's details."""
    view = _core().service.get(job_id)
    table = Table(show_header=False)
    rows = [
        ("id", view.id), ("file", view.path), ("state", view.state),
        ("progress", f"{view.chunks_done}/{view.chunks_total} chunks"
                     + (f", {view.chunks_failed} failed" if view.chunks_failed else "")
                     + (f", {view.chunks_running} running" if view.chunks_running else "")),
        ("duration", _duration(view.duration)),
        ("language", view.language + (f" (detected {view.detected_language})" if view.detected_language else "")),
        ("model", view.model), ("retries", str(view.retries)),
        ("created", _when(view.created_at)), ("started", _when(view.started_at)),
        ("finished", _when(view.finished_at)),
    ]
    if view.eta_seconds is not None:
        rows.append(("time left", _duration(view.eta_seconds)))
    if view.agents:
        rows.append(("agents", ", ".join(view.agents)))
    if view.error_code:
        rows += [("error", f"{view.error_en} [{view.error_code}]"), ("lỗi", view.error_vi or "")]
    for key, value in rows:
        table.add_row(key, escape(value))
    console.print(table)


@jobs.command("result")
@click.argument("job_id")
@click.option("-f", "--format", "fmt", default="txt", show_default=True,
              type=click.Choice(available_formats()))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@click.option("--partial", is_flag=True, help="Allow the transcript of an unfinished job.")
def result(job_id: str, fmt: str, output: Path | None, partial: bool) -> None:
    """Print or save a job's transcript."""
    service = _core().service
    view = service.get(job_id)
    if view.state != "COMPLETED" and not partial:
        raise click.ClickException(
            f"job {job_id} is {view.state}; add --partial for the text transcribed so far")
    transcript = service.transcript(job_id, partial=partial)
    if output:
        write_export(transcript, fmt, output)
        click.echo(str(output))
    else:
        sys.stdout.write(export(transcript, fmt))


@jobs.command("cancel")
@click.argument("job_ids", nargs=-1, required=True)
def cancel(job_ids: tuple[str, ...]) -> None:
    """Cancel jobs (their finished text is kept)."""
    service = _core().service
    for job_id in job_ids:
        service.cancel(job_id)
        click.echo(f"{job_id} cancelled")


@jobs.command("rm")
@click.argument("job_ids", nargs=-1, required=True)
def remove(job_ids: tuple[str, ...]) -> None:
    """Remove jobs and their files."""
    service = _core().service
    for job_id in job_ids:
        service.delete(job_id)
        click.echo(f"{job_id} removed")


@jobs.command("retry")
@click.argument("job_id")
@click.option("--no-wait", is_flag=True, help="Only requeue; a running 'sttdesk serve' or app picks it up.")
@click.option("-f", "--formats", default="txt,json,srt,vtt", show_default=True)
@click.option("-o", "--output-dir", type=click.Path(path_type=Path, file_okay=False), default=None)
def retry(job_id: str, no_wait: bool, formats: str, output_dir: Path | None) -> None:
    """Put a failed job's failed parts back in the queue and (by default) run it to the end."""
    from ..app import build_core
    from .transcribe import _follow, parse_formats

    fmt_list = parse_formats(formats)
    if no_wait:
        count = _core().service.retry_failed(job_id)
        click.echo(f"{job_id}: {count} part(s) queued again")
        return
    core = build_core(foreground=True)
    with core:
        view = core.service.get(job_id)
        core.service.continue_job(job_id)
        failures = _follow(core, {job_id: Path(view.path)}, Console(stderr=True), fmt_list, output_dir)
    if failures:
        raise SystemExit(1)
