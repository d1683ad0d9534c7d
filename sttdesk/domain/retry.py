"""Retry policy: which failures are retried, and how long to wait before each retry."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

#: Seconds before the first retry; each later retry waits ``BACKOFF_FACTOR`` times longer.
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_FACTOR = 3.0
#: No retry waits longer than this.
BACKOFF_CAP_SECONDS = 300.0
#: Waits vary by up to this fraction either way, so failed chunks do not retry in lockstep.
BACKOFF_JITTER = 0.2
MAX_RETRIES = 3
#: A timed-out chunk's next lease deadline is this many times longer.
TIMEOUT_GROWTH = 2.0


def compute_backoff(
    retry_number: int,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    factor: float = BACKOFF_FACTOR,
    cap: float = BACKOFF_CAP_SECONDS,
    jitter: float = BACKOFF_JITTER,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``retry_number`` (1 for the first retry).

    Without jitter: 2, 6, 18, 54, ... seconds, never more than ``cap``.
    """
    if retry_number < 1:
        raise ValueError("retry_number starts at 1")
    delay = min(cap, base * factor ** (retry_number - 1))
    if jitter:
        spread = (rng or random).uniform(-jitter, jitter)
        delay = min(cap, max(0.0, delay * (1.0 + spread)))
    return delay


class RetryDecision(str, Enum):
    """What to do with a chunk after a failed attempt."""

    #: Wait for the backoff, then hand the chunk out again.
    RETRY = "retry"
    #: Replace the chunk by its two halves (out of memory), then retry those.
    SPLIT = "split"
    #: Give up: dead letter, the job fails with its partial transcript kept.
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed chunks are retried (DESIGN.md §4)."""

    #: Retries after the first attempt; a chunk is tried at most ``max_retries + 1`` times.
    max_retries: int = MAX_RETRIES
    base_seconds: float = BACKOFF_BASE_SECONDS
    factor: float = BACKOFF_FACTOR
    cap_seconds: float = BACKOFF_CAP_SECONDS
    jitter: float = BACKOFF_JITTER
    #: A disk-full error is retried only this many times (freeing space needs a human).
    disk_full_retries: int = 1
    #: Chunks shorter than this are not split further on out-of-memory.
    min_split_seconds: float = 4.0
    timeout_growth: float = TIMEOUT_GROWTH

    def delay(self, retry_number: int, *, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry_number``."""
        return compute_backoff(
            retry_number,
            base=self.base_seconds,
            factor=self.factor,
            cap=self.cap_seconds,
            jitter=self.jitter,
            rng=rng,
        )

    def decide(
        self,
        *,
        error_code: str,
        transient: bool,
        failures: int,
        chunk_seconds: float,
    ) -> RetryDecision:
        """Decide after the ``failures``-th failed attempt of a chunk (1 after the first)."""
        if not transient:
            return RetryDecision.DEAD_LETTER
        if error_code == "disk_full" and failures > self.disk_full_retries:
            return RetryDecision.DEAD_LETTER
        if failures > self.max_retries:
            return RetryDecision.DEAD_LETTER
        if error_code == "engine_oom" and chunk_seconds >= 2 * self.min_split_seconds:
            return RetryDecision.SPLIT
        return RetryDecision.RETRY
