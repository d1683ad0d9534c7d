"""The Prometheus exposition text, checked line by line and against a live core."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sttdesk.api.metrics import CONTENT_TYPE, render_metrics
from sttdesk.app import Core
from sttdesk.domain.records import AgentPerformance, StoreMetrics

from .helpers import upload, wait_for_status

#: A sample line: name, optional {labels}, value (Prometheus text format 0.0.4).
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$')


def _metrics(**changes: object) -> StoreMetrics:
    values: dict[str, object] = {
        "at": 1000.0, "window_seconds": 3600.0,
        "jobs_by_state": {"PENDING": 2, "PROCESSING": 1, "PAUSED": 0, "COMPLETED": 7, "FAILED": 1, "CANCELLED": 0},
        "queue_depth": 5, "leased_chunks": 2, "jobs_completed": 7, "jobs_failed": 1,
        "job_success_rate": 0.875, "job_failure_rate": 0.125, "retries_per_job": 0.5,
        "chunk_attempts": 40, "chunk_failed_attempts": 3, "retry_rate": 0.075,
        "chunk_seconds_mean": 1.9, "chunk_seconds_p95": 3.25, "processing_seconds_total": 76.0,
        "job_seconds_mean": 30.5, "dead_letter_depth": 1, "agent_crashes": 0,
        "agents": (
            AgentPerformance(agent_id="a1", name='office "PC" 2\\b', local=False, chunks_done=12,
                             audio_seconds=300.0, busy_seconds=18.0, crashes=1, last_seen=999.0,
                             real_time_factor=0.06),
            AgentPerformance(agent_id="a2", name="local-1", local=True, chunks_done=0, audio_seconds=0.0,
                             busy_seconds=0.0, crashes=0, last_seen=999.0, real_time_factor=None),
        ),
    }
    values.update(changes)
    return StoreMetrics(**values)  # type: ignore[arg-type]


@dataclass
class _Link:
    endpoint: str
    name: str
    local: bool
    ready: bool
    slots: int
    busy: int


def _samples(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        samples[line.rsplit(" ", 1)[0]] = float(match.group(4))
    return samples


def test_every_line_is_valid_and_each_family_is_typed_once() -> None:
    text = render_metrics(_metrics(), [_Link("tcp://x:1", "local-1", True, True, 1, 1),
                                       _Link("tcp://y:2", "", False, False, 2, 0)])
    assert text.endswith("\n")
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types))
    samples = _samples(text)
    assert samples['sttdesk_jobs{state="COMPLETED"}'] == 7
    assert samples["sttdesk_queue_depth"] == 5
    assert samples["sttdesk_dead_letters"] == 1
    assert samples["sttdesk_chunks_retried_window"] == 3
    assert samples["sttdesk_chunk_seconds_mean_window"] == 1.9
    assert samples['sttdesk_agent_real_time_factor{agent="office \\"PC\\" 2\\\\b",agent_id="a1",local="false"}'] == 0.06
    assert samples['sttdesk_agents_connected{ready="true"}'] == 1
    assert samples['sttdesk_agent_slots_busy{agent="local-1",local="true"}'] == 1
    assert samples['sttdesk_agent_slots{agent="tcp://y:2",local="false"}'] == 2
    # an agent that never worked has no real-time factor: left out, not reported as 0
    assert not any(key.startswith("sttdesk_agent_real_time_factor") and 'agent_id="a2"' in key for key in samples)
    assert "# TYPE sttdesk_agent_chunks_done_total counter" in text


def test_unknown_figures_are_left_out() -> None:
    samples = _samples(render_metrics(_metrics(chunk_seconds_mean=None, chunk_seconds_p95=None, retry_rate=None,
                                               agents=())))
    assert "sttdesk_chunk_seconds_mean_window" not in samples
    assert "sttdesk_chunk_retry_ratio_window" not in samples
    assert samples["sttdesk_chunk_attempts_window"] == 40


def test_metrics_endpoint_counts_a_finished_job(running_core: Core, client_for, en_audio: Path) -> None:
    client = client_for(running_core)
    before = _samples(client.get("/api/v1/metrics").text).get('sttdesk_jobs{state="COMPLETED"}', 0)
    job_id = upload(client, en_audio / "jfk.wav").json()["job_id"]
    wait_for_status(client, job_id)
    response = client.get("/api/v1/metrics")
    assert response.status_code == 200 and response.headers["content-type"] == CONTENT_TYPE
    samples = _samples(response.text)
    assert samples['sttdesk_jobs{state="COMPLETED"}'] == before + 1
    assert samples['sttdesk_agents_connected{ready="true"}'] >= 1
    assert any(key.startswith("sttdesk_agent_audio_seconds_total") and value > 0 for key, value in samples.items())
