"""Webhooks: a real local HTTP receiver is called when jobs complete or fail, and retried when it fails."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sttdesk.api import WebhookOptions
from sttdesk.api.errors import InvalidCallbackUrlError
from sttdesk.api.webhooks import Notice, WebhookNotifier, validate_callback_url
from sttdesk.app import Core
from sttdesk.service.events import EventBus, EventKind, ServiceEvent

from .helpers import make_core, upload, wait_for_agents, wait_for_status

FAST_RETRIES = WebhookOptions(backoff_base_seconds=0.1, backoff_factor=2.0, timeout_seconds=5.0)


@dataclass
class Receiver:
    """A local HTTP server that answers with the given statuses in turn (then 200) and records requests."""

    statuses: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} webhook calls, got {self.requests}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/sttdesk?key=abc"
    yield state
    server.shutdown()
    server.server_close()


def test_completion_is_posted_and_retried_after_a_failure(running_core: Core, client_for, receiver: Receiver,
                                                          en_audio: Path) -> None:
    receiver.statuses = [503]
    token = "webhook-signing-token"
    client = client_for(running_core, token=token, webhook_options=FAST_RETRIES)
    job_id = upload(client, en_audio / "jfk.wav", language="en", callback_url=receiver.url).json()["job_id"]
    assert wait_for_status(client, job_id)["status"] == "COMPLETED"

    first, second = receiver.wait_for(2)
    assert first["path"] == "/hooks/sttdesk?key=abc"
    assert first["body"] == second["body"]
    assert first["headers"]["X-Sttdesk-Delivery"] == second["headers"]["X-Sttdesk-Delivery"]
    assert (first["headers"]["X-Sttdesk-Attempt"], second["headers"]["X-Sttdesk-Attempt"]) == ("1", "2")
    notice = json.loads(second["body"])
    assert notice["event"] == "job.completed" == second["headers"]["X-Sttdesk-Event"]
    assert notice["job"]["job_id"] == job_id and notice["job"]["status"] == "COMPLETED"
    assert notice["job"]["links"]["result"] == f"/api/v1/jobs/{job_id}/result"
    expected = hmac.new(token.encode(), second["body"], hashlib.sha256).hexdigest()
    assert second["headers"]["X-Sttdesk-Signature"] == f"sha256={expected}"
    time.sleep(0.5)
    assert len(receiver.requests) == 2  # delivered once it succeeded: no more calls


def test_failure_is_posted_then_completion_after_a_retry(tmp_path: Path, models_dir: Path, client_for,
                                                         receiver: Receiver, en_audio: Path) -> None:
    # An agent whose first chunk fails for good (a damaged model): the job FAILS, a retry then completes it.
    core = make_core(tmp_path, models_dir, agents=1,
                     agent_args=("--fake-fail", "corrupt_model", "--fake-fail-count", "1"))
    with core:
        wait_for_agents(core)
        client = client_for(core, webhook_options=FAST_RETRIES)
        job_id = upload(client, en_audio / "jfk.wav", callback_url=receiver.url).json()["job_id"]
        failed = wait_for_status(client, job_id)
        assert failed["status"] == "FAILED"
        assert failed["error"]["code"] and failed["error"]["message_vi"]
        (first,) = receiver.wait_for(1)
        notice = json.loads(first["body"])
        assert notice["event"] == "job.failed" and notice["job"]["status"] == "FAILED"
        assert notice["job"]["error"]["code"] == failed["error"]["code"]
        assert "X-Sttdesk-Signature" not in first["headers"]  # this server has no token to sign with

        partial = client.get(f"/api/v1/jobs/{job_id}/result", params={"partial": "true", "format": "txt"})
        assert partial.status_code == 200
        retried = client.post(f"/api/v1/jobs/{job_id}/retry")
        assert retried.status_code == 202, retried.text
        assert retried.json()["requeued_chunks"] == 1
        assert wait_for_status(client, job_id)["status"] == "COMPLETED"
        calls = receiver.wait_for(2)
        assert json.loads(calls[1]["body"])["event"] == "job.completed"
        assert client.get(f"/api/v1/jobs/{job_id}/result").status_code == 200


@dataclass
class _Lookup:
    url: str
    calls: int = 0

    def __call__(self, job_id: str) -> Notice:
        self.calls += 1
        return Notice(url=self.url, event="job.completed", key=(job_id, "COMPLETED", 1.0),
                      payload={"event": "job.completed", "job": {"job_id": job_id}})


def _finished(job_id: str) -> ServiceEvent:
    return ServiceEvent(kind=EventKind.JOB_FINISHED, job_id=job_id, data={"state": "COMPLETED"})


def test_a_refusing_receiver_is_not_retried_and_a_failing_one_is_given_up(receiver: Receiver) -> None:
    bus = EventBus()
    notifier = WebhookNotifier(_Lookup(receiver.url), options=WebhookOptions(
        max_attempts=3, backoff_base_seconds=0.05, backoff_factor=1.0))
    notifier.start(bus.subscribe)
    try:
        receiver.statuses = [404]
        bus.publish(_finished("aaa"))
        receiver.wait_for(1)
        time.sleep(0.4)
        assert len(receiver.requests) == 1 and notifier.abandoned == 1  # a 404 will not get better

        receiver.statuses = [500, 502, 503]
        bus.publish(_finished("bbb"))
        receiver.wait_for(4)
        time.sleep(0.4)
        assert len(receiver.requests) == 4 and notifier.abandoned == 2 and notifier.delivered == 0
    finally:
        notifier.close()
        bus.close()


def test_the_same_finish_reported_twice_is_posted_once_and_other_events_never(receiver: Receiver) -> None:
    bus = EventBus()
    lookup = _Lookup(receiver.url)
    notifier = WebhookNotifier(lookup, options=FAST_RETRIES)
    notifier.start(bus.subscribe)
    try:
        bus.publish(ServiceEvent(kind=EventKind.JOB_CHANGED, job_id="ccc", data={"state": "PROCESSING"}))
        bus.publish(ServiceEvent(kind=EventKind.JOB_FINISHED, job_id="ccc", data={"state": "CANCELLED"}))
        bus.publish(_finished("ccc"))
        bus.publish(_finished("ccc"))
        receiver.wait_for(1)
        time.sleep(0.4)
        assert len(receiver.requests) == 1 and notifier.delivered == 1
        assert lookup.calls == 2
    finally:
        notifier.close()
        bus.close()


def test_unreachable_receiver_is_retried_until_attempts_run_out() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bus = EventBus()
    notifier = WebhookNotifier(_Lookup(f"http://127.0.0.1:{port}/"), options=WebhookOptions(
        max_attempts=3, backoff_base_seconds=0.02, backoff_factor=1.0, timeout_seconds=2.0))
    notifier.start(bus.subscribe)
    try:
        bus.publish(_finished("ddd"))
        deadline = time.monotonic() + 10
        while notifier.abandoned == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert notifier.abandoned == 1 and notifier.delivered == 0
    finally:
        notifier.close()
        bus.close()


@pytest.mark.parametrize("url", ["https://hooks.example.org/sttdesk?x=1", "http://10.0.0.5:9000/done",
                                 "  http://[::1]:8080/cb  "])
def test_valid_callback_urls(url: str) -> None:
    assert validate_callback_url(url) == url.strip()


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "javascript:alert(1)", "http://", "http://a b/",
                                 "http://0.0.0.0/", "http://host:99999/", "http://u:p@host/",
                                 "http://host/" + "x" * 3000])
def test_invalid_callback_urls(url: str) -> None:
    with pytest.raises(InvalidCallbackUrlError) as raised:
        validate_callback_url(url)
    assert raised.value.user_message("vi")
