"""The backoff helper: bounded attempts, growing capped delays, a named SourceError at the end."""

from __future__ import annotations

import pytest

from stock_assets.market.sources.base import SourceError
from stock_assets.market.sources.retry import (
    Backoff,
    Throttled,
    call_with_backoff,
    full_jitter,
    no_jitter,
)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def flaky(failures: int, result: str = "ok", exc: Exception | None = None):
    """An attempt that fails ``failures`` times, then returns ``result``."""
    calls = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise exc or Throttled(f"HTTP 429 (call {len(calls)})")
        return result

    attempt.calls = calls  # type: ignore[attr-defined]
    return attempt


def test_success_needs_no_sleep():
    sleeps = Sleeps()
    assert call_with_backoff(flaky(0), provider="p", sleep=sleeps) == "ok"
    assert sleeps == []


def test_throttled_attempts_back_off_exponentially_then_succeed():
    sleeps, attempt = Sleeps(), flaky(3)
    backoff = Backoff(max_attempts=4, base_delay=1.5, max_delay=60, jitter=no_jitter)
    assert call_with_backoff(attempt, provider="p", backoff=backoff, sleep=sleeps) == "ok"
    assert len(attempt.calls) == 4
    assert sleeps == [1.5, 3.0, 6.0]


def test_delays_are_capped():
    backoff = Backoff(max_attempts=8, base_delay=1, max_delay=5, jitter=no_jitter)
    assert [backoff.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_jitter_is_added_but_never_beyond_the_cap():
    backoff = Backoff(base_delay=4, max_delay=10, jitter=lambda delay: delay)  # doubles it
    assert backoff.delay(1) == 8
    assert backoff.delay(2) == 10  # 8 + 8 capped
    for _ in range(200):
        assert 4 <= Backoff(base_delay=4, max_delay=100).delay(1) < 6  # default: + [0, d/2)
    assert 0 <= full_jitter(10) < 5


def test_retry_after_hint_is_honoured_within_the_cap():
    sleeps = Sleeps()
    backoff = Backoff(max_attempts=3, base_delay=1, max_delay=20, jitter=no_jitter)

    calls = []

    def attempt():
        calls.append(1)
        if len(calls) == 1:
            raise Throttled("slow down", retry_after=12)
        if len(calls) == 2:
            raise Throttled("slow down", retry_after=90)
        return "ok"

    assert call_with_backoff(attempt, provider="p", backoff=backoff, sleep=sleeps) == "ok"
    assert sleeps == [12, 20]


def test_exhausted_attempts_raise_source_error_naming_the_provider():
    sleeps, attempt = Sleeps(), flaky(10)
    backoff = Backoff(max_attempts=3, base_delay=1, jitter=no_jitter)
    with pytest.raises(SourceError) as raised:
        call_with_backoff(attempt, provider="alpha_vantage", backoff=backoff, sleep=sleeps)
    assert str(raised.value) == (
        "alpha_vantage: still throttled after 3 attempt(s): HTTP 429 (call 3)"
    )
    assert isinstance(raised.value.__cause__, Throttled)
    assert len(attempt.calls) == 3
    assert sleeps == [1, 2]  # no pointless sleep after the last attempt


def test_other_errors_are_not_retried():
    sleeps, attempt = Sleeps(), flaky(1, exc=KeyError("boom"))
    with pytest.raises(KeyError):
        call_with_backoff(attempt, provider="p", sleep=sleeps)
    assert len(attempt.calls) == 1 and sleeps == []


def test_custom_retry_on():
    sleeps, attempt = Sleeps(), flaky(2, exc=ConnectionResetError("reset"))
    backoff = Backoff(max_attempts=3, base_delay=0.5, jitter=no_jitter)
    result = call_with_backoff(
        attempt, provider="p", backoff=backoff, sleep=sleeps, retry_on=(ConnectionResetError,)
    )
    assert result == "ok" and sleeps == [0.5, 1.0]


def test_single_attempt_budget():
    sleeps = Sleeps()
    with pytest.raises(SourceError, match="after 1 attempt"):
        call_with_backoff(flaky(1), provider="p", backoff=Backoff(max_attempts=1), sleep=sleeps)
    assert sleeps == []


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"max_delay": -1}])
def test_invalid_backoff(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)
