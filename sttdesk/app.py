"""The one place that builds the concrete objects and wires them together.

Front ends call :func:`build_core` and then talk to ``core.service`` only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Self

from .cluster.coordinator import Coordinator
from .cluster.leasing import LeaseManager, ModelRef
from .cluster.provisioning import ModelFile
from .domain.errors import SttdeskError
from .engine.store import ModelStore
from .instance import InstanceLock
from .paths import AppPaths, default_paths
from .security.keys import key_directory, load_or_create_keypair
from .security.trust import TRUSTED_AGENTS_FILE, TrustStore
from .service.agent_directory import AgentDirectory
from .service.events import EventBus, EventKind, ServiceEvent
from .service.job_service import JobService
from .service.local_pool import LocalPool, default_pool_shape
from .service.preparer import JobPreparer
from .service.timers import Timers
from .settings import FALLBACK_MODEL, Settings, load_settings, update_settings_file
from .store.repository import JobStore

log = logging.getLogger(__name__)

DATABASE_FILE_NAME = "sttdesk.db"


@dataclass
class Core:
    """Everything a running sttdesk needs; start it, use ``service``, stop it."""

    settings: Settings
    paths: AppPaths
    store: Any
    models: ModelStore
    events: EventBus
    service: JobService
    coordinator: Coordinator
    pool: LocalPool | None
    timers: Timers
    #: Remote agents: found on the LAN, or added by address (front ends add/remove them here).
    agents: AgentDirectory
    _started: bool = field(default=False, repr=False)
    _lock: InstanceLock | None = field(default=None, repr=False)

    def claim(self) -> None:
        """Become the one process running jobs from this data folder, or raise AlreadyRunningError.

        :meth:`start` claims too; front ends that queue files before starting
        claim first, so that a second sttdesk says so before it touches the table.
        """
        if self._lock is None:
            self._lock = InstanceLock(self.paths.data_dir)
        self._lock.acquire()

    def start(self) -> Self:
        if self._started:
            return self
        self.claim()
        try:
            self.coordinator.start()
            self.service.resume()
            if self.pool is not None:
                self.pool.start()
            self.agents.start()
            self.timers.start()
        except BaseException:
            if self._lock is not None:  # a failed start must not keep others out
                self._lock.release()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        """Stop what runs (also after a failed or skipped start) and close the store."""
        if self._started:
            self._started = False
            self.timers.stop()
            self.agents.stop()
            if self.pool is not None:
                self.pool.stop()
            self.coordinator.stop()
        self.service.close()
        self.events.close()
        self.store.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_core(
    *,
    settings: Settings | None = None,
    paths: AppPaths | None = None,
    pool_agents: int | None = None,
    pool_threads: int | None = None,
    engine: str = "whisper",
    agent_args: tuple[str, ...] = (),
    agent_log_level: str = "warning",
    foreground: bool = False,
    discovery: bool | None = None,
    clock: Any = time.time,
) -> Core:
    """Build (not start) the core: store, service, coordinator, local pool and timers.

    ``engine="fake"`` starts local agents with the fake engine (tests and
    benchmarks); they announce every model of the store under its real
    checksum, so jobs naming an installed model resolve as with whisper.
    ``agent_args`` go to every local agent's command line as they are (e.g.
    ``("--fake-fail", "engine_crashed")``); ``agent_log_level`` is their
    ``--log-level``. ``discovery`` overrides ``[network] discovery`` (browsing the LAN
    for agents).
    """
    paths = (paths or default_paths()).ensure()
    settings = settings or load_settings(paths=paths)
    store = JobStore(paths.data_dir / DATABASE_FILE_NAME)
    models = ModelStore(paths.models_dir)
    events = EventBus()
    jobs_dir = paths.data_dir / "jobs"

    def resolve_model(name: str) -> ModelRef:
        try:
            installed = models.get(name)
        except SttdeskError:  # removed since the job was added: agents announcing the name may take it
            return ModelRef(name=name, sha256=None)
        return ModelRef(name=name, sha256=installed.sha256)

    def model_file(name: str, sha256: str) -> ModelFile | None:
        # What agents that lack a model fetch from here: only a whole, checked file.
        try:
            installed = models.get(name)
            path = models.path_for(name)
        except SttdeskError:
            return None
        if installed.sha256 != sha256:
            return None
        return ModelFile(name=name, sha256=sha256, size=installed.size, path=path)

    def model_exists(name: str) -> None:
        models.get(name)  # raises ModelNotInstalledError / UnknownModelError

    def default_model() -> str:
        if settings.processing.default_model:
            return settings.processing.default_model
        try:
            return models.default_name or FALLBACK_MODEL
        except SttdeskError:  # a damaged manifest: add() reports it when it looks the model up
            return FALLBACK_MODEL

    def validate_options(options: dict[str, Any]) -> None:
        from .engine.options import DecodeOptions

        if engine == "fake":
            # the fake engine's own per-job switches (delay, failure) are for it alone
            options = {key: value for key, value in options.items() if key != "fake"}
        DecodeOptions.from_dict(options)

    service_holder: dict[str, JobService] = {}
    directory_holder: dict[str, AgentDirectory] = {}

    def on_coordinator_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "agents_trust_changed":  # paired or revoked, here or by the CLI beside us
            directory = directory_holder.get("directory")
            if directory is not None:
                directory.retrust()
            return
        service = service_holder.get("service")
        if service is not None:
            service.on_coordinator_event(kind, data)

    def read_audio(job: Any, chunk: Any) -> bytes:
        from .audio.decode import PcmFile

        return PcmFile(jobs_dir / job.id / "audio.pcm").read_pcm16(chunk.start, chunk.end)

    leases = LeaseManager(
        store, read_audio=read_audio, resolve_model=resolve_model, policy=settings.retry,
        clock=clock, on_event=on_coordinator_event,
    )
    # The app's CURVE identity and the agents it trusts (paired or added by an admin).
    keys_dir = key_directory(paths.data_dir)
    keys = load_or_create_keypair(keys_dir)
    trust = TrustStore(keys_dir / TRUSTED_AGENTS_FILE)
    coordinator = Coordinator(leases, clock=clock, on_event=on_coordinator_event, model_files=model_file,
                              keys=keys, trust=trust)

    def preparer_factory(**callbacks: Any) -> JobPreparer:
        return JobPreparer(
            store, jobs_dir=jobs_dir, chunker_options=settings.chunking,
            max_chunks=settings.processing.max_chunks_per_job,
            deadline_seconds=settings.processing.chunk_timeout_seconds, clock=clock, limits=settings.limits,
            **callbacks,
        )

    default_options: dict[str, Any] = {}
    if settings.processing.beam_size > 0:
        default_options["beam_size"] = settings.processing.beam_size
    service = JobService(
        store, preparer_factory=preparer_factory, model_exists=model_exists,
        default_model=default_model, default_options=default_options, validate_options=validate_options,
        limits=settings.limits, events=events, coordinator=coordinator, clock=clock,
    )
    service_holder["service"] = service

    agents, threads = default_pool_shape(foreground=foreground)
    agents = pool_agents if pool_agents is not None else (settings.processing.pool_agents or agents)
    threads = pool_threads or settings.processing.pool_threads or threads
    pool = None
    if agents > 0:
        # Local agents serve this app's key for their run; the app learns each one's key
        # from its listening line (a pipe only the app reads) and trusts it as local.
        # "=": a Z85 key may start with "-", which would read as an option.
        extra_args = (f"--trust-key={keys.public.decode('ascii')}", *agent_args)
        if engine == "fake":
            extra_args = fake_model_args(models) + extra_args
        pool_holder: dict[str, LocalPool] = {}

        def on_local_agent(endpoint: str) -> None:
            coordinator.add_agent(endpoint, local=True, server_key=pool_holder["pool"].server_key(endpoint))

        pool = LocalPool(
            agents=agents, threads=threads, models_dir=paths.models_dir, data_dir=paths.data_dir,
            on_endpoint=on_local_agent,
            on_gone=lambda endpoint: coordinator.remove_agent(endpoint, crashed=True), engine=engine, extra_args=extra_args,
            log_level=agent_log_level,
        )
        pool_holder["pool"] = pool

    def purge() -> None:
        days = settings.monitoring.dead_letter_days
        removed = store.purge_dead_letters(older_than=clock() - days * 86400)
        if removed:
            log.info("purged %d dead letter(s) older than %.0f days", removed, days)

    def check_alerts() -> None:
        for alert in alerts_from(store.metrics(now=clock()), settings):
            events.publish(ServiceEvent(kind=EventKind.ALERT, data=alert))

    timers = Timers(sweep=coordinator.sweep, purge=purge, check_alerts=check_alerts)
    agents_directory = AgentDirectory(
        coordinator, events, manual=settings.network.agents,
        save_manual=lambda addresses: update_settings_file("network", {"agents": addresses}, paths=paths),
        browser_factory=_agent_browser if (settings.network.discovery if discovery is None else discovery)
        else None,
        trust_store=trust, keys=keys, coordinator_id=coordinator.coordinator_id, coordinator_name=coordinator.name,
    )
    directory_holder["directory"] = agents_directory
    return Core(settings=settings, paths=paths, store=store, models=models, events=events,
                service=service, coordinator=coordinator, pool=pool, timers=timers, agents=agents_directory)


def _agent_browser(on_change: Any) -> Any:
    from .cluster.discovery import AgentBrowser

    return AgentBrowser(on_change)


def fake_model_args(models: ModelStore) -> tuple[str, ...]:
    """``--fake-model NAME:SHA256`` for every installed model, so fake agents can take any job."""
    args: list[str] = []
    try:
        installed = models.list()
    except SttdeskError:  # a damaged manifest: the fake agents announce only their own model
        log.warning("cannot read the installed models for the fake agents", exc_info=True)
        installed = []
    for model in installed:
        args += ["--fake-model", f"{model.name}:{model.sha256}"]
    return tuple(args)


def alerts_from(metrics: Any, settings: Settings) -> list[dict[str, Any]]:
    """The monitoring thresholds that ``metrics`` crosses, as alert payloads."""
    limits = settings.monitoring
    checks = [
        ("retry_rate", metrics.retry_rate, limits.retry_rate_alert,
         "More than {limit:.0%} of attempts are being retried.",
         "Hơn {limit:.0%} số lần xử lý phải thử lại."),
        ("mean_retries", metrics.retries_per_job, limits.mean_retries_alert,
         "Jobs need more than {limit} retries on average.",
         "Trung bình mỗi công việc phải thử lại hơn {limit} lần."),
        ("dead_letters", metrics.dead_letter_depth, limits.dead_letters_alert,
         "More than {limit} pieces have failed for good.",
         "Hơn {limit} đoạn đã thất bại hoàn toàn."),
        ("agent_crashes", metrics.agent_crashes * 3600.0 / metrics.window_seconds,
         limits.agent_crashes_per_hour_alert,
         "Agents crashed more than {limit} times in the last hour.",
         "Các máy xử lý bị lỗi hơn {limit} lần trong giờ qua."),
    ]
    alerts = []
    for name, value, limit, en, vi in checks:
        if value is not None and value > limit:
            alerts.append({"alert": name, "value": value, "limit": limit,
                           "message_en": en.format(limit=limit), "message_vi": vi.format(limit=limit)})
    return alerts
