"""The monitoring figures in the Prometheus text exposition format (version 0.0.4).

Written by hand: the format is a few lines of text and the figures already
exist (:class:`~sttdesk.domain.records.StoreMetrics`, the coordinator's agent
links), so a client library would add a dependency and a second registry of
state for nothing. Figures the store computes over a recent window carry
``window`` in their name; lifetime totals per agent end in ``_total``. A figure
that is unknown (no chunk finished in the window yet) is left out rather than
reported as zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..domain.records import StoreMetrics

#: Media type of the exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Prefix of every metric name.
PREFIX = "sttdesk_"


@dataclass(slots=True)
class _Family:
    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float | None, **labels: str) -> None:
        if value is not None:
            self.samples.append((labels, float(value)))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _render(families: Iterable[_Family]) -> str:
    lines: list[str] = []
    for family in families:
        if not family.samples:
            continue
        name = PREFIX + family.name
        lines.append(f"# HELP {name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {name} {family.kind}")
        for labels, value in family.samples:
            label_text = ",".join(f'{key}="{_escape_label(str(val))}"' for key, val in sorted(labels.items()))
            lines.append(f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


def render_metrics(metrics: StoreMetrics, agents: Sequence[Any] = ()) -> str:
    """The exposition text for the store's figures and the coordinator's agent links.

    ``agents`` are the coordinator's agent snapshots (objects with ``name``,
    ``local``, ``ready``, ``slots`` and ``busy``).
    """
    window = f" in the last {metrics.window_seconds:.0f} s"
    jobs = _Family("jobs", "gauge", "Jobs by state, now.")
    for state, count in sorted(metrics.jobs_by_state.items()):
        jobs.add(count, state=state)

    families = [
        jobs,
        _gauge("queue_depth", "Chunks waiting to be handed out (queued or waiting for a retry).",
               metrics.queue_depth),
        _gauge("chunks_leased", "Chunks an agent is working on, now.", metrics.leased_chunks),
        _gauge("dead_letters", "Chunks that failed for good and are kept (not yet purged).",
               metrics.dead_letter_depth),
        _gauge("window_seconds", "Length of the window the *_window figures cover.", metrics.window_seconds),
        _gauge("jobs_completed_window", "Jobs that completed" + window + ".", metrics.jobs_completed),
        _gauge("jobs_failed_window", "Jobs that failed" + window + ".", metrics.jobs_failed),
        _gauge("job_success_ratio_window", "Completed / finished jobs" + window + ".", metrics.job_success_rate),
        _gauge("chunk_attempts_window", "Chunk attempts that ended" + window + ".", metrics.chunk_attempts),
        _gauge("chunks_retried_window", "Chunk attempts that failed and were retried or dead-lettered" + window + ".",
               metrics.chunk_failed_attempts),
        _gauge("chunk_retry_ratio_window", "Failed / ended chunk attempts" + window + ".", metrics.retry_rate),
        _gauge("retries_per_job_window", "Mean retried attempts per job finished" + window + ".",
               metrics.retries_per_job),
        _gauge("chunk_seconds_mean_window", "Mean lease-to-result time of the chunks done" + window + ".",
               metrics.chunk_seconds_mean),
        _gauge("chunk_seconds_p95_window", "95th percentile lease-to-result time of chunks done" + window + ".",
               metrics.chunk_seconds_p95),
        _gauge("chunk_seconds_sum_window", "Total lease-to-result time of the chunks done" + window + ".",
               metrics.processing_seconds_total),
        _gauge("job_seconds_mean_window", "Mean time from adding a job to its completion" + window + ".",
               metrics.job_seconds_mean),
        _gauge("agent_crashes_window", "Agent crashes recorded" + window + ".", metrics.agent_crashes),
    ]

    rtf = _Family("agent_real_time_factor", "gauge",
                  "Seconds of agent work per second of audio, lifetime (below 1 is faster than real time).")
    done = _Family("agent_chunks_done_total", "counter", "Chunks an agent transcribed, lifetime.")
    audio = _Family("agent_audio_seconds_total", "counter", "Seconds of audio an agent transcribed, lifetime.")
    busy = _Family("agent_busy_seconds_total", "counter", "Seconds an agent spent transcribing, lifetime.")
    crashes = _Family("agent_crashes_total", "counter", "Engine crashes of an agent, lifetime.")
    for agent in metrics.agents:
        labels = {"agent": agent.name or agent.agent_id, "agent_id": agent.agent_id,
                  "local": "true" if agent.local else "false"}
        rtf.add(agent.real_time_factor, **labels)
        done.add(agent.chunks_done, **labels)
        audio.add(agent.audio_seconds, **labels)
        busy.add(agent.busy_seconds, **labels)
        crashes.add(agent.crashes, **labels)

    connected = _Family("agents_connected", "gauge", "Agent links of the coordinator, by readiness, now.")
    slots = _Family("agent_slots", "gauge", "Chunks an agent may hold at once, now.")
    slots_busy = _Family("agent_slots_busy", "gauge", "Chunks an agent holds, now.")
    ready = sum(1 for a in agents if a.ready)
    connected.add(ready, ready="true")
    connected.add(len(agents) - ready, ready="false")
    for agent in agents:
        labels = {"agent": agent.name or agent.endpoint, "local": "true" if agent.local else "false"}
        slots.add(agent.slots, **labels)
        slots_busy.add(agent.busy, **labels)

    return _render([*families, rtf, done, audio, busy, crashes, connected, slots, slots_busy])


def _gauge(name: str, help_text: str, value: float | None) -> _Family:
    family = _Family(name, "gauge", help_text)
    family.add(value)
    return family
