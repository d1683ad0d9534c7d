"""Timers (APScheduler): lease sweeps, retry wake-ups, dead-letter clean-up, alerts.

Timer callbacks only enqueue work for the coordinator or run one short store
query; they never do the work themselves, so a slow timer cannot pile up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

#: How often overdue leases and finished backoffs are looked for (seconds).
SWEEP_INTERVAL_SECONDS = 1.0
#: How often dead letters older than their keep time are purged.
PURGE_INTERVAL_SECONDS = 3600.0
#: How often the monitoring thresholds are checked.
ALERT_INTERVAL_SECONDS = 60.0


class Timers:
    """The app's periodic jobs, on one background scheduler."""

    def __init__(
        self,
        *,
        sweep: Callable[[], None],
        purge: Callable[[], None],
        check_alerts: Callable[[], None],
        sweep_seconds: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        self._scheduler = BackgroundScheduler(daemon=True, job_defaults={"coalesce": True, "max_instances": 1})
        self._scheduler.add_job(sweep, "interval", seconds=sweep_seconds, id="sweep")
        self._scheduler.add_job(purge, "interval", seconds=PURGE_INTERVAL_SECONDS, id="purge")
        self._scheduler.add_job(check_alerts, "interval", seconds=ALERT_INTERVAL_SECONDS, id="alerts")

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
