"""``sttdesk-agent``: the headless worker that transcribes chunks for sttdesk coordinators.

The same program runs in the app's local pool (on loopback, ``--port 0``) and
on spare office PCs (``--port 7878`` on the LAN). When it is listening it
prints one line to stdout::

    sttdesk-agent <agent id> listening on tcp://HOST:PORT

(with ``--port 0`` the real port), logs to stderr in a form journald keeps
well, and on SIGTERM or SIGINT finishes its running chunks (up to ``--grace``
seconds), hands the rest back, says goodbye and exits 0.

``--engine fake`` is a test and benchmark aid: a deterministic engine that needs
no model file, answers with text derived from the audio (its length and CRC-32),
and can be slowed down (``--fake-delay``, ``--fake-speed``) or told to fail
(``--fake-fail CODE``, ``--fake-fail-count N``). It announces the model
``fake`` plus any ``--fake-model NAME[:SHA256]``, and with ``--fake-store`` the
models of ``--models-dir`` too (so model provisioning can be tested and
measured without whisper's cost).

Models a coordinator needs and this agent lacks are fetched from that
coordinator into ``--models-dir`` (``--no-model-fetch`` turns that off).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import zmq

from .. import __version__
from ..domain.errors import SttdeskError
from ..paths import default_paths
from ..protocol import DEFAULT_AGENT_PORT
from .engines import (
    FAKE_FAILURES,
    FakeEngineSettings,
    fake_engine_factory,
    whisper_engine,
)
from .identity import make_identity
from .models import (
    ChainedCatalog,
    FixedCatalog,
    LocalModel,
    ModelCatalog,
    StoreCatalog,
    fake_model,
)
from .parent_watch import watch_parent
from .provisioning import ModelInstaller
from .runtime import DEFAULT_GRACE_SECONDS, AgentRuntime
from .transport import agent_endpoint, bound_endpoint, make_agent_socket

log = logging.getLogger("sttdesk.agent")

#: Name of the fake engine's default model.
FAKE_MODEL_NAME = "fake"
#: Most slots and threads an agent accepts (far beyond any office PC; catches typos).
MAX_SLOTS = 256
MAX_THREADS = 256
#: Exit codes: 0 clean stop, 1 could not start (bad setup, port taken), 2 bad command line.
EXIT_OK = 0
EXIT_FAILED = 1

# syslog priorities for journald's "<N>" line prefix.
_JOURNAL_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _JournalFormatter(logging.Formatter):
    """Prefixes each line with its syslog priority, which journald turns into the entry's level."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _JOURNAL_PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 4)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def _stderr_is_journal() -> bool:
    """True when systemd connected stderr to the journal (it says so in JOURNAL_STREAM)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        info = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


def setup_logging(level: str) -> None:
    """Log to stderr: timestamps on a terminal; none under journald or a pipe (they add their own)."""
    handler = logging.StreamHandler(sys.stderr)
    if _stderr_is_journal():
        handler.setFormatter(_JournalFormatter("%(levelname)s %(name)s: %(message)s"))
    elif sys.stderr.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _positive_int(limit: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be from 1 to {limit}")
        return value

    return parse


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be from 0 (any free port) to 65535")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be zero or more seconds")
    return value


def _fake_model(text: str) -> LocalModel:
    name, _, sha256 = text.partition(":")
    if not name or (sha256 and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256))):
        raise argparse.ArgumentTypeError("expected NAME or NAME:SHA256 (64 lowercase hex digits)")
    return fake_model(name, sha256 or None)


def build_parser() -> argparse.ArgumentParser:
    paths = default_paths()
    parser = argparse.ArgumentParser(
        prog="sttdesk-agent",
        description="Transcribe audio chunks for sttdesk coordinators on this computer.",
    )
    where = parser.add_argument_group("where to listen")
    where.add_argument("--host", "--interface", dest="host", default="*",
                       help="address or network interface name to listen on (default: all, '*')")
    where.add_argument("--port", type=_port, default=DEFAULT_AGENT_PORT,
                       help=f"TCP port (default {DEFAULT_AGENT_PORT}; 0 picks a free one and prints it)")
    where.add_argument("--bind", metavar="ENDPOINT",
                       help="full ZeroMQ endpoint, e.g. tcp://192.168.1.20:7878 (overrides --host/--port)")
    work = parser.add_argument_group("work")
    work.add_argument("--slots", type=_positive_int(MAX_SLOTS), default=os.cpu_count() or 1,
                      help="chunks transcribed at once (default: one per CPU core)")
    work.add_argument("--threads", type=_positive_int(MAX_THREADS), default=1,
                      help="CPU threads per chunk (default 1: single-thread slots cope best with other load)")
    work.add_argument("--grace", type=_seconds, default=DEFAULT_GRACE_SECONDS,
                      help=f"seconds running chunks get to finish on shutdown (default {DEFAULT_GRACE_SECONDS:.0f})")
    work.add_argument("--engine", choices=("whisper", "fake"), default="whisper",
                      help="'whisper' (default) or 'fake', a test and benchmark aid needing no model")
    store = parser.add_argument_group("files and identity")
    store.add_argument("--data-dir", type=Path, default=paths.data_dir,
                       help=f"where the agent keeps its id (default {paths.data_dir})")
    store.add_argument("--models-dir", type=Path, default=paths.models_dir,
                       help=f"installed whisper models (default {paths.models_dir})")
    store.add_argument("--no-model-fetch", action="store_true",
                       help="never fetch missing models from coordinators (install them by hand)")
    store.add_argument("--name", help="name shown to coordinators (default: this computer's host name)")
    store.add_argument("--id", dest="agent_id", help="agent id (default: kept in the data folder)")
    store.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    store.add_argument("--version", action="version", version=f"sttdesk-agent {__version__}")
    # The app's local pool: exit when the app is gone, however it ended (see parent_watch).
    store.add_argument("--exit-with-parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    fake = parser.add_argument_group("fake engine (tests and benchmarks; only with --engine fake)")
    fake.add_argument("--fake-delay", type=_seconds, default=0.0, help="seconds each chunk takes")
    fake.add_argument("--fake-speed", type=_seconds, default=0.0,
                      help="simulated speed in multiples of real time (0: instant)")
    fake.add_argument("--fake-fail", choices=sorted(FAKE_FAILURES), help="fail chunks with this error")
    fake.add_argument("--fake-fail-count", type=int, default=0,
                      help="fail only the first N chunks (default 0: every chunk)")
    fake.add_argument("--fake-model", type=_fake_model, action="append", default=[],
                      metavar="NAME[:SHA256]", help="announce this model too (repeatable)")
    fake.add_argument("--fake-store", action="store_true",
                      help="also announce the models of --models-dir, and fetch missing ones into it")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the agent until it is stopped; the exit code is 0 after a clean stop."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fake_fail_count < 0:
        parser.error("--fake-fail-count cannot be negative")
    fake_options = (args.fake_delay, args.fake_speed, args.fake_fail, args.fake_fail_count, args.fake_model,
                    args.fake_store)
    if args.engine != "fake" and any(fake_options):
        parser.error("the --fake-* options need --engine fake")
    setup_logging(args.log_level)
    if args.exit_with_parent:
        watch_parent(args.exit_with_parent)

    catalog: ModelCatalog
    store_catalog: StoreCatalog | None = None
    if args.engine == "fake":
        catalog = FixedCatalog([fake_model(FAKE_MODEL_NAME), *args.fake_model])
        if args.fake_store:
            store_catalog = StoreCatalog(args.models_dir)
            catalog = ChainedCatalog(catalog, store_catalog)
        factory = fake_engine_factory(FakeEngineSettings(
            delay_seconds=args.fake_delay, speed=args.fake_speed,
            fail_code=args.fake_fail, fail_count=args.fake_fail_count,
        ))
        log.warning("using the FAKE engine: transcripts are made up (test and benchmark use only)")
    else:
        catalog = store_catalog = StoreCatalog(args.models_dir)
        factory = whisper_engine
        if not catalog.models():
            log.warning("no models installed in %s: they are fetched from coordinators as needed",
                        args.models_dir)
    installer = None
    if store_catalog is not None and not args.no_model_fetch:
        installer = ModelInstaller(args.models_dir, rescan=store_catalog.rescan)

    identity = make_identity(args.data_dir, name=args.name, agent_id=args.agent_id)
    endpoint = args.bind or agent_endpoint(args.host, args.port)
    context = zmq.Context()
    try:
        sock = make_agent_socket(context, endpoint)
    except SttdeskError as exc:
        log.error("%s", exc.user_message("en"))
        context.term()
        return EXIT_FAILED

    runtime = AgentRuntime(
        sock, identity, catalog, factory,
        slots=args.slots, threads=args.threads, grace_seconds=args.grace, installer=installer,
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        runtime.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    print(f"sttdesk-agent {identity.agent_id} listening on {bound_endpoint(sock)}", flush=True)
    clean = runtime.run()
    if clean:
        context.term()
        return EXIT_OK
    # A slot thread is stuck in its engine: terminating the context would wait for it forever.
    log.warning("a slot did not stop: exiting without waiting for it")
    logging.shutdown()
    sys.stdout.flush()
    os._exit(EXIT_OK)


if __name__ == "__main__":
    sys.exit(main())
