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
              help="Also use the agent at HOST:PORT (repeatable); its key must be trusted for that address "
                   "('sttdesk agents pair HOST:PORT --key K' or 'sttdesk agents add HOST:PORT --key K').")
@click.option("--host", default=None, help="Address the REST API listens on (default from settings: 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port of the REST API (default from settings: 8765; 0 picks a free one).")
@click.option("--no-api", is_flag=True, help="Run jobs without the REST API.")
@click.option("--show-token", is_flag=True,
              help="Print the API token (needed off loopback) and exit; it is created on first use.")
@click.option("--engine", type=click.Choice(["whisper", "fake"]), default="whisper", hidden=True)
def serve(agents: int | None, threads: int | None, remote_agents: tuple[str, ...], host: str | None,
          port: int | None, no_api: bool, show_token: bool, engine: str) -> None:
    """Run jobs headless with the REST API: resumes unfinished jobs and serves new ones until SIGTERM or Ctrl-C."""
    from ..app import build_core
    from .transcribe import agent_log_level

    if show_token:
        from ..api.auth import load_or_create_token, token_path
        from ..paths import default_paths

        click.echo(load_or_create_token(token_path(default_paths().ensure().data_dir)))
        return

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    core = build_core(pool_agents=agents, pool_threads=threads, engine=engine, agent_log_level=agent_log_level())
    with core:
        for address in remote_agents:
            endpoint = address if "://" in address else f"tcp://{address}"
            core.coordinator.add_agent(endpoint)
        api = None
        if not no_api:
            from ..api.server import ApiServer

            api = ApiServer(core, host=host or core.settings.api.host,
                            port=core.settings.api.port if port is None else port).start()
            note = " (token required: sttdesk serve --show-token)" if api.require_token else ""
            click.echo(f"REST API at {api.url}/api/v1, documented at {api.url}/docs{note}", err=True)
        click.echo(f"sttdesk serving (data: {core.paths.data_dir}); stop with Ctrl-C", err=True)
        try:
            stop.wait()
        finally:
            if api is not None:
                api.stop()
    click.echo("stopped", err=True)
