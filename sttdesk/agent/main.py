"""``sttdesk-agent``: the headless worker that transcribes chunks for sttdesk coordinators.

The same program runs in the app's local pool (on loopback, ``--port 0``) and
on spare office PCs (``--port 7878`` on the LAN). When it is listening it
prints one line to stdout::

    sttdesk-agent <agent id> listening on tcp://HOST:PORT key <CURVE public key>

(with ``--port 0`` the real port), announces itself on the LAN through
zeroconf (``_sttdesk-agent._tcp.local.``; not when it listens on loopback only,
nor with ``--no-announce``), keeps a status file in its data folder for
``sttdesk-agent status``, logs to stderr one line per event with the level name
(no colours; journald gets syslog priorities), and on SIGTERM or SIGINT
withdraws its announcement, finishes its running chunks (up to ``--grace``
seconds), hands the rest back, says goodbye and exits 0.

Where it listens: ``--interface NAME|ADDRESS`` (repeatable) binds those
interfaces' addresses and announces them; without it, ``--host`` (default
``*``: every IPv4 address) and the addresses of every interface that is up and
not loopback are announced.

``--engine fake`` is a test and benchmark aid: a deterministic engine that needs
no model file, answers with text derived from the audio (its length and CRC-32),
and can be slowed down (``--fake-delay``, ``--fake-speed``) or told to fail
(``--fake-fail CODE``, ``--fake-fail-count N``). It announces the model
``fake`` plus any ``--fake-model NAME[:SHA256]``, and with ``--fake-store`` the
models of ``--models-dir`` too (so model provisioning can be tested and
measured without whisper's cost).

Models a coordinator needs and this agent lacks are fetched from that
coordinator into ``--models-dir`` (``--no-model-fetch`` turns that off).

Every link is CURVE-encrypted with the agent's key pair (kept in
``DATA_DIR/keys``); only coordinators in its trust list get work. They get
there by pairing (the agent logs a code), by ``sttdesk-agent trust KEY``, or,
for this run only, by ``--trust-key KEY`` (how the app trusts its own loopback
agents). ``sttdesk-agent key|trust|revoke|trusted|pairing`` are the admin's
commands (see :mod:`sttdesk.agent.admin`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import zmq

from .. import __version__
from ..announcement import AgentAnnouncement
from ..domain.errors import SttdeskError
from ..paths import default_paths
from ..protocol import DEFAULT_AGENT_PORT, PROTOCOL_VERSION
from ..security.keys import KeyPair, key_directory, load_or_create_keypair, parse_public_key
from ..security.pairing import OPEN_CODES_FILE, PairingDesk, PairingOffer, write_open_codes
from ..security.trust import TRUSTED_COORDINATORS_FILE, TrustStore
from .admin import run_admin
from .announce import Announcer
from .engines import (
    FAKE_FAILURES,
    FakeEngineSettings,
    fake_engine_factory,
    whisper_engine,
)
from .errors import AgentBindError
from .identity import AgentIdentity, make_identity
from .interfaces import (
    InterfaceAddress,
    bind_host,
    default_addresses,
    resolve_interfaces,
)
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
from .status import (
    AgentStatusReport,
    RuntimeStatus,
    describe,
    read_status,
    remove_status,
    write_status,
)
from .transport import ZapHandler, agent_endpoint, bound_endpoint, make_agent_socket

log = logging.getLogger("sttdesk.agent")

#: Name of the fake engine's default model.
FAKE_MODEL_NAME = "fake"
#: Most slots and threads an agent accepts (far beyond any office PC; catches typos).
MAX_SLOTS = 256
MAX_THREADS = 256
#: Exit codes: 0 clean stop, 1 could not start (bad setup, port taken), 2 bad command line.
EXIT_OK = 0
EXIT_FAILED = 1
#: ``sttdesk-agent status``: the agent is not running (LSB's "program is not running").
EXIT_NOT_RUNNING = 3

# syslog priorities for journald's "<N>" line prefix.
_JOURNAL_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _OneLineFormatter(logging.Formatter):
    """One line per event: a traceback's lines are joined with " | ", so a log reader
    (journalctl, grep) keeps an error and its cause together."""

    def format(self, record: logging.LogRecord) -> str:
        return " | ".join(line for line in super().format(record).splitlines() if line.strip())


class _JournalFormatter(_OneLineFormatter):
    """Prefixes the line with its syslog priority, which journald turns into the entry's level."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _JOURNAL_PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 4)
        return f"<{priority}>{super().format(record)}"


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
        handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
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


def _public_key(text: str) -> bytes:
    try:
        return parse_public_key(text)
    except SttdeskError as exc:
        raise argparse.ArgumentTypeError(exc.user_message("en")) from None


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
    where.add_argument("--host", default="*",
                       help="one address to listen on (default '*': every IPv4 address)")
    where.add_argument("--interface", dest="interfaces", action="append", default=[],
                       metavar="NAME|ADDRESS",
                       help="listen and announce on this network interface or address only "
                            "(repeatable; default: every interface that is up and not loopback)")
    where.add_argument("--no-announce", action="store_true",
                       help="do not announce this agent on the LAN (coordinators add it by address)")
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
                       help=f"where the agent keeps its id, keys and status file (default {paths.data_dir})")
    store.add_argument("--models-dir", type=Path, default=paths.models_dir,
                       help=f"installed whisper models (default {paths.models_dir})")
    store.add_argument("--no-model-fetch", action="store_true",
                       help="never fetch missing models from coordinators (install them by hand)")
    store.add_argument("--name", help="name shown to coordinators (default: this computer's host name)")
    store.add_argument("--trust-key", type=_public_key, action="append", default=[], metavar="KEY",
                       help="also serve the coordinator with this CURVE public key, for this run only "
                            "(repeatable; 'sttdesk-agent trust KEY' keeps it)")
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


def build_status_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sttdesk-agent status",
        description="Show whether the agent that keeps its files in DATA_DIR runs, and what it does.",
    )
    parser.add_argument("--data-dir", type=Path, default=default_paths().data_dir,
                        help="the running agent's --data-dir (default: the same default as the agent's)")
    return parser


def status_main(argv: list[str]) -> int:
    """``sttdesk-agent status``: print the status file; exit 0 when the agent runs, 3 when not."""
    args = build_status_parser().parse_args(argv)
    running, lines = describe(read_status(args.data_dir))
    for line in lines:
        print(line)
    return EXIT_OK if running else EXIT_NOT_RUNNING


def _listen(context: zmq.Context, args: argparse.Namespace, keys: KeyPair,
            zap: ZapHandler) -> tuple[zmq.Socket, list[str], list[InterfaceAddress]]:
    """Bind the CURVE-server ROUTER where the options say; returns it, its endpoints and the chosen interfaces.

    Several ``--interface`` addresses share one port: the first bind picks it (``--port 0``).
    Raises AgentBindError or AgentInterfaceError.
    """
    if args.bind:
        sock = make_agent_socket(context, args.bind, keys=keys, zap=zap)
        return sock, [bound_endpoint(sock)], []
    if not args.interfaces:
        sock = make_agent_socket(context, agent_endpoint(args.host, args.port), keys=keys, zap=zap)
        return sock, [bound_endpoint(sock)], []
    chosen = resolve_interfaces(args.interfaces)
    first, *others = chosen
    sock = make_agent_socket(context, f"tcp://{bind_host(first)}:{args.port if args.port else '*'}",
                             keys=keys, zap=zap)
    port = int(bound_endpoint(sock).rsplit(":", 1)[1])
    for address in others:
        endpoint = f"tcp://{bind_host(address)}:{port}"
        try:
            if address.version == 6:
                sock.setsockopt(zmq.IPV6, 1)
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise AgentBindError(exc.strerror, endpoint=endpoint) from exc
    return sock, [f"tcp://{bind_host(a)}:{port}" for a in chosen], chosen


def _announced_addresses(args: argparse.Namespace, chosen: list[InterfaceAddress]):  # type: ignore[no-untyped-def]
    """What to announce, looked at again at every check (None: do not announce at all)."""
    if args.no_announce or args.bind:
        return None
    if chosen:
        return lambda: [a for a in chosen if a.usable]
    if args.host in ("*", "0.0.0.0"):
        return lambda: default_addresses()
    try:
        fixed = resolve_interfaces([args.host])
    except SttdeskError:
        return None  # a host name: the agent listens, but there is nothing to announce
    if not any(a.usable for a in fixed):
        return None  # loopback (the app's own pool): nobody else could reach it
    return lambda: [a for a in fixed if a.usable]


def _announcement(identity: AgentIdentity, catalog: ModelCatalog, store_catalog: StoreCatalog | None,
                  args: argparse.Namespace, public_key: str, key_fingerprint: str):  # type: ignore[no-untyped-def]
    def card() -> AgentAnnouncement:
        if store_catalog is not None:
            store_catalog.rescan()  # a model installed by hand or provisioned since the last look
        return AgentAnnouncement(
            agent_id=identity.agent_id, name=identity.name, protocol=PROTOCOL_VERSION,
            version=identity.version, slots=args.slots, threads=args.threads,
            models=tuple(sorted(m.name for m in catalog.models())), cpu=identity.cpu,
            public_key=public_key, fingerprint=key_fingerprint,
        )

    return card


def main(argv: list[str] | None = None) -> int:
    """Run the agent until it is stopped; the exit code is 0 after a clean stop."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["status"]:
        return status_main(argv[1:])
    admin = run_admin(argv)
    if admin is not None:
        return admin
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fake_fail_count < 0:
        parser.error("--fake-fail-count cannot be negative")
    fake_options = (args.fake_delay, args.fake_speed, args.fake_fail, args.fake_fail_count, args.fake_model,
                    args.fake_store)
    if args.engine != "fake" and any(fake_options):
        parser.error("the --fake-* options need --engine fake")
    if args.interfaces and (args.bind or args.host != "*"):
        parser.error("--interface cannot be combined with --host or --bind")
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
    installer = None
    if store_catalog is not None and not args.no_model_fetch:
        installer = ModelInstaller(args.models_dir, rescan=store_catalog.rescan)
    if args.engine != "fake" and not catalog.models():
        log.warning("no models installed in %s: %s", args.models_dir,
                    "they are fetched from coordinators as needed" if installer
                    else "every chunk will fail until one is")

    identity = make_identity(args.data_dir, name=args.name, agent_id=args.agent_id)
    keys_dir = key_directory(args.data_dir)
    try:
        keys = load_or_create_keypair(keys_dir)
        trust = TrustStore(keys_dir / TRUSTED_COORDINATORS_FILE)
    except SttdeskError as exc:
        log.error("%s", exc.user_message("en"))
        return EXIT_FAILED
    for key in args.trust_key:
        trust.trust_for_session(key, name="trusted on the command line")
    if not trust.peers():
        log.warning("no coordinator is trusted yet: pair one with 'sttdesk agents pair' on its computer")
    context = zmq.Context()
    zap = ZapHandler(context).start()
    try:
        sock, endpoints, chosen = _listen(context, args, keys, zap)
    except SttdeskError as exc:
        log.error("%s", exc.user_message("en"))
        zap.stop()
        context.term()
        return EXIT_FAILED
    port = int(endpoints[0].rsplit(":", 1)[1])
    started = time.time()

    announcer: Announcer | None = None
    addresses = _announced_addresses(args, chosen)
    if addresses is not None:
        announcer = Announcer(
            _announcement(identity, catalog, store_catalog, args, keys.public.decode("ascii"), keys.fingerprint),
            port=port, addresses=addresses,
        )
    else:
        log.info("not announcing on the LAN (%s)", "--no-announce" if args.no_announce else "loopback only")

    def on_status(status: RuntimeStatus) -> None:
        announced = announcer.state() if announcer is not None else None
        write_status(args.data_dir, AgentStatusReport(
            agent_id=identity.agent_id, name=identity.name, version=identity.version, pid=os.getpid(),
            started=started, updated=time.time(), endpoints=tuple(endpoints),
            announced_as=announced.instance if announced else "",
            announced_addresses=announced.addresses if announced else (),
            models=tuple(m.name for m in catalog.models()), runtime=status, fingerprint=keys.fingerprint,
        ))

    codes_path = keys_dir / OPEN_CODES_FILE

    def publish_codes(offers: list[PairingOffer]) -> None:
        write_open_codes(codes_path, offers)

    publish_codes([])  # codes of an earlier run died with it
    runtime = AgentRuntime(
        sock, identity, catalog, factory,
        trust=trust, pairing=PairingDesk(keys.public, agent_label=f"{identity.name} ({identity.agent_id})"),
        on_pairing_change=publish_codes,
        slots=args.slots, threads=args.threads, grace_seconds=args.grace, installer=installer,
        on_status=on_status,
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        if announcer is not None:
            announcer.withdraw()  # coordinators stop counting on it at once
        runtime.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log.info("agent %s listening on %s (key fingerprint %s)", identity.agent_id, ", ".join(endpoints),
             keys.fingerprint)
    print(f"sttdesk-agent {identity.agent_id} listening on {endpoints[0]} key {keys.public.decode('ascii')}",
          flush=True)
    if announcer is not None:
        announcer.start()
    try:
        clean = runtime.run()
    finally:
        if announcer is not None:
            announcer.stop()
        remove_status(args.data_dir, os.getpid())
        publish_codes([])
        zap.stop()
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
