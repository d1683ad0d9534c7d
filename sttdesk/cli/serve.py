"""``sttdesk serve``: the coordinator and local pool, headless, until stopped."""

from __future__ import annotations

import signal
import threading

import click


@click.command()
@click.option("--agents", type=click.IntRange(0, 256), default=None,
              help="Local agents to start (default: from settings/CPU; 0: remote agents only).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="whisper.cpp threads per local agent.")
@click.option("--agent", "remote_agents", multiple=True, metavar="HOST:PORT",
              help="Also use the agent at HOST:PORT (repeatable).")
@click.option("--engine", type=click.Choice(["whisper", "fake"]), default="whisper", hidden=True)
def serve(agents: int | None, threads: int | None, remote_agents: tuple[str, ...], engine: str) -> None:
    """Run jobs headless: resumes unfinished jobs and serves new ones until SIGTERM or Ctrl-C."""
    from ..app import build_core
    from .transcribe import agent_log_level

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    core = build_core(pool_agents=agents, pool_threads=threads, engine=engine, agent_log_level=agent_log_level())
    with core:
        for address in remote_agents:
            endpoint = address if "://" in address else f"tcp://{address}"
            core.coordinator.add_agent(endpoint)
        click.echo(f"sttdesk serving (data: {core.paths.data_dir}); stop with Ctrl-C", err=True)
        stop.wait()
    click.echo("stopped", err=True)
