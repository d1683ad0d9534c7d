"""``sttdesk transcribe``: transcribe files with the local pool, a live progress bar, then export."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from ..domain.errors import SttdeskError
from ..domain.exporters import available_formats, write_export
from ..domain.jobs import JobState
from ..service.job_service import JobRequest

#: How often the progress display is refreshed from the store (seconds).
REFRESH_SECONDS = 0.3


def agent_log_level() -> str:
    """The local agents' --log-level: as verbose as this command was asked to be (-v, -vv)."""
    level = logging.getLogger().getEffectiveLevel()
    return "debug" if level <= logging.DEBUG else "info" if level <= logging.INFO else "warning"


def parse_formats(value: str) -> list[str]:
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in available_formats()]
    if unknown or not formats:
        raise click.BadParameter(
            f"unknown format(s) {', '.join(unknown) or value!r}; choose from {', '.join(available_formats())}"
        )
    return formats


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-l", "--language", default=None, help="en, vi or auto (default from settings: auto).")
@click.option("-m", "--model", default=None, help="Model name (see 'sttdesk models list').")
@click.option("-f", "--formats", default="txt,json,srt,vtt", show_default=True,
              help="Comma-separated export formats.")
@click.option("-o", "--output-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for the exports (default: beside each input file).")
@click.option("--agents", type=click.IntRange(1, 256), default=None,
              help="Local agents to start (default: one per core).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="whisper.cpp threads per local agent.")
@click.option("--engine", type=click.Choice(["whisper", "fake"]), default="whisper", hidden=True,
              help="Engine of the local agents ('fake' is a test and benchmark aid).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def transcribe(files: tuple[Path, ...], language: str | None, model: str | None, formats: str,
               output_dir: Path | None, agents: int | None, threads: int | None, engine: str,
               quiet: bool) -> None:
    """Transcribe FILES and write TXT/JSON/SRT/VTT exports.

    An interrupted run is picked up again: running the same command resumes
    the unfinished job of each file instead of starting over.
    """
    from ..app import build_core

    fmt_list = parse_formats(formats)
    console = Console(stderr=True, quiet=quiet)
    errors = Console(stderr=True)
    core = build_core(pool_agents=agents, pool_threads=threads, engine=engine, foreground=True,
                      agent_log_level=agent_log_level())
    try:
        core.claim()  # before any file is queued: another running sttdesk would not see them
    except SttdeskError:
        core.stop()
        raise
    language = language or core.settings.processing.default_language
    jobs: dict[str, Path] = {}
    failures = 0
    # Files are checked and queued before the agents start: a bad file fails at once.
    for path in files:
        try:
            job_id = core.service.find_unfinished(path, language=language, model=model)
            if job_id:
                console.print(f"Resuming the unfinished job {job_id} for {escape(path.name)}")
                core.service.continue_job(job_id)
            else:
                job_id = core.service.add(JobRequest(path=path, language=language, model=model))
            jobs[job_id] = path
        except SttdeskError as exc:
            failures += 1
            errors.print(f"[red]{escape(str(path))}: {escape(exc.user_message('en'))}[/red]")
    if not jobs:
        core.stop()
        raise SystemExit(1)
    _tell_about_other_jobs(core, jobs, console)
    with core:
        failures += _follow(core, jobs, console, fmt_list, output_dir)
    if failures:
        raise SystemExit(1)


def _tell_about_other_jobs(core, jobs: dict[str, Path], console: Console) -> None:
    """Say so when the agents will also work on unfinished jobs already in the job table.

    The job table is shared by every front end: jobs queued in the app, or left
    by an interrupted run of another file, go on alongside these files (fairly
    shared), which makes this run slower than the user may expect.
    """
    others = [view for view in core.service.list(states=[JobState.PENDING.value, JobState.PROCESSING.value],
                                                 limit=1000)
              if view.id not in jobs]
    if others:
        names = ", ".join(escape(view.name) for view in others[:3]) + (", …" if len(others) > 3 else "")
        console.print(f"Also working on {len(others)} earlier unfinished job(s) from the job table ({names}); "
                      "'sttdesk jobs list' shows them, 'sttdesk jobs cancel ID' stops one.")


def _follow(core, jobs: dict[str, Path], console: Console, formats: list[str],
            output_dir: Path | None) -> int:
    """Show progress until every job ends; export the completed ones. Returns failures."""
    changed = threading.Event()
    unsubscribe = core.events.subscribe(lambda event: changed.set())
    failures = 0
    finished: set[str] = set()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("chunks"), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            tasks = {job_id: progress.add_task(path.name, total=None) for job_id, path in jobs.items()}
            while len(finished) < len(jobs):
                changed.wait(REFRESH_SECONDS)
                changed.clear()
                for job_id, path in jobs.items():
                    if job_id in finished:
                        continue
                    view = core.service.get(job_id)
                    progress.update(tasks[job_id], total=view.chunks_total or None,
                                    completed=view.chunks_done)
                    state = JobState(view.state)
                    if state is JobState.COMPLETED:
                        finished.add(job_id)
                        written = _export(core, job_id, path, formats, output_dir)
                        progress.console.print(f"[green]{escape(path.name)}[/green]: "
                                               + escape(", ".join(map(str, written))))
                    elif state in (JobState.FAILED, JobState.CANCELLED):
                        finished.add(job_id)
                        failures += 1
                        # failures are shown even with --quiet
                        report = progress.console if not console.quiet else Console(stderr=True)
                        message = view.error_en or f"the job was {state.value.lower()}"
                        report.print(f"[red]{escape(path.name)}: {escape(message)}[/red]")
                        if view.chunks_done:
                            written = _export(core, job_id, path, formats, output_dir, suffix=".partial")
                            report.print("  partial transcript: " + escape(", ".join(map(str, written))))
                        if state is JobState.FAILED:
                            report.print(f"  retry with: sttdesk jobs retry {job_id}")
    finally:
        unsubscribe()
    return failures


def _export(core, job_id: str, source: Path, formats: list[str], output_dir: Path | None,
            suffix: str = "") -> list[Path]:
    transcript = core.service.transcript(job_id, partial=bool(suffix))
    folder = output_dir or source.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = folder / f"{source.stem}{suffix}.{fmt}"
        write_export(transcript, fmt, target)
        written.append(target)
    return written
