"""Webhooks: a job's callback URL is POSTed a JSON notice when the job completes or fails.

The notifier listens on the service's event bus, looks the job up (its callback
URL is kept with the job, so notices survive a server restart) and delivers
from its own worker threads, never from the bus thread. A delivery that fails
for a reason that may pass (no connection, timeout, HTTP 408/425/429/5xx) is
tried again after the project's backoff (2 s, 6 s, 18 s, ... with jitter);
other answers (3xx, 4xx) end it. Deliveries still waiting when the server stops
are dropped, with a log line.

Each notice carries ``X-Sttdesk-Event`` and ``X-Sttdesk-Delivery`` headers and,
when the server has an API token, ``X-Sttdesk-Signature: sha256=<HMAC of the
body keyed by the token>`` so that a receiver can check who sent it.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..domain.jobs import JobState
from ..domain.retry import compute_backoff
from ..service.events import EventKind, ServiceEvent
from .errors import InvalidCallbackUrlError

log = logging.getLogger(__name__)

#: Key of the callback URL in a job's extras.
CALLBACK_EXTRA = "callback_url"
#: Longest callback URL accepted.
MAX_URL_LENGTH = 2048
#: Attempts per notice, the first included.
DEFAULT_MAX_ATTEMPTS = 6
#: Seconds one attempt may take (connect + answer).
DEFAULT_TIMEOUT_SECONDS = 10.0
#: First retry delay and growth; the cap keeps the last waits reasonable.
DEFAULT_BACKOFF_BASE_SECONDS = 2.0
DEFAULT_BACKOFF_FACTOR = 3.0
DEFAULT_BACKOFF_CAP_SECONDS = 300.0
#: Notices delivered side by side, so one slow receiver does not hold up the others.
DEFAULT_WORKERS = 2
#: Finished jobs remembered to drop duplicate events about the same finish.
SEEN_LIMIT = 10_000
#: HTTP answers worth another attempt.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

#: Job states that send a notice, and the event names they send.
NOTICE_EVENTS = {JobState.COMPLETED.value: "job.completed", JobState.FAILED.value: "job.failed"}


def validate_callback_url(url: str) -> str:
    """``url`` stripped, if it is an absolute http(s) URL without credentials; InvalidCallbackUrlError otherwise."""
    text = (url or "").strip()
    shown = text[:200]
    if not text:
        raise InvalidCallbackUrlError("it is empty", url=shown)
    if len(text) > MAX_URL_LENGTH:
        raise InvalidCallbackUrlError(f"it is longer than {MAX_URL_LENGTH} characters", url=shown)
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in text):
        raise InvalidCallbackUrlError("it contains spaces or control characters", url=shown)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidCallbackUrlError(str(exc), url=shown) from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidCallbackUrlError("only http and https are supported", url=shown)
    if not parts.hostname:
        raise InvalidCallbackUrlError("it has no host", url=shown)
    if parts.username or parts.password:
        raise InvalidCallbackUrlError("user names and passwords in the URL are not supported", url=shown)
    if port == 0:
        raise InvalidCallbackUrlError("port 0 cannot be called", url=shown)
    try:
        if ipaddress.ip_address(parts.hostname).is_unspecified:
            raise InvalidCallbackUrlError("0.0.0.0 / :: is not an address to call", url=shown)
    except ValueError:
        pass  # a host name
    return text


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """How notices are delivered."""

    #: Attempts per notice, the first included.
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    #: Seconds one attempt may take.
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    #: Wait before the first retry; later ones grow by ``backoff_factor`` up to ``backoff_cap_seconds``.
    backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    backoff_cap_seconds: float = DEFAULT_BACKOFF_CAP_SECONDS
    #: Delivery threads.
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.workers < 1:
            raise ValueError("webhook attempts and workers must be at least 1")
        if self.timeout_seconds <= 0 or self.backoff_base_seconds < 0 or self.backoff_cap_seconds < 0:
            raise ValueError("webhook timeouts and delays must be positive")


@dataclass(frozen=True, slots=True)
class Notice:
    """What to tell about one finished job: where, and the JSON document."""

    url: str
    event: str
    #: Identifies this finish (job id, state, finish time), to send one notice per finish.
    key: tuple[Any, ...]
    payload: dict[str, Any]


#: Looks a finished job up: its notice, or None when it has no callback URL (or is gone).
NoticeLookup = Callable[[str], "Notice | None"]


@dataclass(slots=True)
class _Delivery:
    notice: Notice
    body: bytes
    delivery_id: str
    attempt: int = 1


class DeliveryError(Exception):
    """One attempt failed; ``retry`` says whether another may succeed."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without body: treat it as an answer, not a hop."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post_json(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST ``body`` to ``url``; returns the 2xx status, or raises DeliveryError."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)  # let the receiver finish its answer; the content does not matter
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryError(f"HTTP {exc.code}", retry=exc.code in RETRY_STATUSES) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(str(reason) or type(exc).__name__, retry=True) from None


class WebhookNotifier:
    """Sends each finished job's notice to its callback URL, with retries."""

    def __init__(
        self,
        lookup: NoticeLookup,
        *,
        secret: str | None = None,
        options: WebhookOptions | None = None,
        send: Callable[..., int] = post_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._secret = secret.encode() if secret else None
        self._options = options or WebhookOptions()
        self._send = send
        self._clock = clock
        self._cond = threading.Condition()
        #: (due time, sequence, job id to look up | delivery to attempt)
        self._due: list[tuple[float, int, str | _Delivery]] = []
        self._seq = 0
        self._seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Callable[[], None] | None = None
        #: Notices delivered and given up since the start (for tests and the log).
        self.delivered = 0
        self.abandoned = 0

    def start(self, subscribe: Callable[[Callable[[ServiceEvent], None]], Callable[[], None]]) -> None:
        """Start the delivery threads and listen to the events ``subscribe`` delivers."""
        for index in range(self._options.workers):
            thread = threading.Thread(target=self._work, name=f"webhooks-{index + 1}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._unsubscribe = subscribe(self.on_event)

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening and delivering; notices still waiting are dropped."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._cond:
            self._closed = True
            waiting = sum(1 for _, _, item in self._due if isinstance(item, _Delivery))
            self._due.clear()
            self._cond.notify_all()
        if waiting:
            log.warning("stopped with %d webhook notice(s) not delivered", waiting)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def on_event(self, event: ServiceEvent) -> None:
        """Event bus callback: queue a look-up for jobs that just completed or failed."""
        if event.kind is not EventKind.JOB_FINISHED or not event.job_id:
            return
        if event.data.get("state") not in NOTICE_EVENTS:
            return
        self._schedule(self._clock(), event.job_id)

    # --- delivery threads -------------------------------------------------------------

    def _schedule(self, when: float, item: str | _Delivery) -> None:
        with self._cond:
            if self._closed:
                return
            self._seq += 1
            heapq.heappush(self._due, (when, self._seq, item))
            self._cond.notify()

    def _next(self) -> str | _Delivery | None:
        with self._cond:
            while not self._closed:
                if self._due:
                    wait = self._due[0][0] - self._clock()
                    if wait <= 0:
                        return heapq.heappop(self._due)[2]
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _work(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            try:
                if isinstance(item, str):
                    self._prepare(item)
                else:
                    self._attempt(item)
            except Exception:
                log.exception("webhook delivery failed unexpectedly")

    def _prepare(self, job_id: str) -> None:
        notice = self._lookup(job_id)
        if notice is None:
            return
        with self._cond:
            if notice.key in self._seen:
                return  # the same finish reported twice
            self._seen[notice.key] = None
            while len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
        body = json.dumps(notice.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._attempt(_Delivery(notice=notice, body=body, delivery_id=uuid.uuid4().hex))

    def _attempt(self, delivery: _Delivery) -> None:
        notice = delivery.notice
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"sttdesk/{__version__}",
            "X-Sttdesk-Event": notice.event,
            "X-Sttdesk-Delivery": delivery.delivery_id,
            "X-Sttdesk-Attempt": str(delivery.attempt),
        }
        if self._secret is not None:
            digest = hmac.new(self._secret, delivery.body, hashlib.sha256).hexdigest()
            headers["X-Sttdesk-Signature"] = f"sha256={digest}"
        try:
            status = self._send(notice.url, delivery.body, headers, timeout=self._options.timeout_seconds)
        except DeliveryError as failure:
            self._failed(delivery, failure)
            return
        with self._cond:
            self.delivered += 1
        log.info("webhook %s for %s delivered to %s (HTTP %d, attempt %d)",
                 notice.event, notice.payload.get("job", {}).get("job_id"), _host(notice.url), status,
                 delivery.attempt)

    def _failed(self, delivery: _Delivery, failure: DeliveryError) -> None:
        notice = delivery.notice
        if not failure.retry or delivery.attempt >= self._options.max_attempts:
            with self._cond:
                self.abandoned += 1
            log.warning("webhook %s to %s abandoned after %d attempt(s): %s",
                        notice.event, _host(notice.url), delivery.attempt, failure)
            return
        delay = compute_backoff(
            delivery.attempt,
            base=self._options.backoff_base_seconds,
            factor=self._options.backoff_factor,
            cap=self._options.backoff_cap_seconds,
        )
        log.info("webhook %s to %s failed (%s); attempt %d in %.1f s",
                 notice.event, _host(notice.url), failure, delivery.attempt + 1, delay)
        delivery.attempt += 1
        self._schedule(self._clock() + delay, delivery)


def _host(url: str) -> str:
    """The part of a URL fit for a log line (no path or query, which may hold secrets)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    except ValueError:
        return "?"
