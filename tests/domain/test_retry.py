from __future__ import annotations

import random

import pytest

from sttdesk.domain.retry import RetryDecision, RetryPolicy, compute_backoff


def test_backoff_without_jitter_is_2_6_18_then_capped() -> None:
    assert [compute_backoff(n, jitter=0) for n in (1, 2, 3)] == [2.0, 6.0, 18.0]
    assert compute_backoff(20, jitter=0) == 300.0


def test_jitter_stays_within_its_band_and_varies() -> None:
    rng = random.Random(7)
    delays = [compute_backoff(2, jitter=0.2, rng=rng) for _ in range(200)]
    assert all(6 * 0.8 <= d <= 6 * 1.2 for d in delays)
    assert len(set(delays)) > 100


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        compute_backoff(0)


@pytest.mark.parametrize(
    ("code", "transient", "failures", "seconds", "expected"),
    [
        ("engine_crashed", True, 1, 30, RetryDecision.RETRY),
        ("engine_crashed", True, 3, 30, RetryDecision.RETRY),
        ("engine_crashed", True, 4, 30, RetryDecision.DEAD_LETTER),
        ("invalid_audio", False, 1, 30, RetryDecision.DEAD_LETTER),
        ("engine_oom", True, 1, 30, RetryDecision.SPLIT),
        ("engine_oom", True, 1, 5, RetryDecision.RETRY),
        ("disk_full", True, 1, 30, RetryDecision.RETRY),
        ("disk_full", True, 2, 30, RetryDecision.DEAD_LETTER),
    ],
)
def test_decisions(code: str, transient: bool, failures: int, seconds: float, expected: RetryDecision) -> None:
    assert RetryPolicy().decide(error_code=code, transient=transient, failures=failures,
                                chunk_seconds=seconds) is expected
