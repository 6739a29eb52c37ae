"""Retry with exponential backoff for throttled provider calls (HTTP 429, "call frequency").

Providers throttle per minute, so a short wait usually fixes it; retrying forever would hide
an outage, so the number of attempts is bounded and the last failure becomes a SourceError
that names the provider. Sleep and jitter are injectable so tests never wait.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from stock_assets.market.sources.base import SourceError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Throttled(Exception):
    """Raised by an attempt to say "the provider asked us to slow down; try again later"."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def full_jitter(delay: float) -> float:
    """Extra random wait in [0, delay/2) so parallel runs do not retry in lockstep."""
    return random.uniform(0.0, delay / 2)


def no_jitter(delay: float) -> float:
    return 0.0


@dataclass(frozen=True)
class Backoff:
    """Attempt budget and delays: base * 2**(n-1) before retry n, capped, plus jitter."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: Callable[[float], float] = field(default=full_jitter)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = the first retry)."""
        wait = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        if retry_after is not None:  # the provider's own hint wins when it asks for longer
            wait = max(wait, min(self.max_delay, retry_after))
        return min(self.max_delay, wait + max(0.0, self.jitter(wait)))


def call_with_backoff(
    attempt: Callable[[], T],
    *,
    provider: str,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry_on: tuple[type[BaseException], ...] = (Throttled,),
) -> T:
    """Run ``attempt`` until it returns, retrying the ``retry_on`` exceptions with backoff.

    After the last attempt the failure is raised as SourceError naming the provider; any
    other exception propagates untouched on the first occurrence.
    """
    backoff = backoff or Backoff()
    last: BaseException | None = None
    for number in range(1, backoff.max_attempts + 1):
        try:
            return attempt()
        except retry_on as exc:
            last = exc
            if number == backoff.max_attempts:
                break
            wait = backoff.delay(number, getattr(exc, "retry_after", None))
            log.warning(
                "%s throttled (attempt %d of %d): %s; retrying in %.1fs",
                provider,
                number,
                backoff.max_attempts,
                _reason(exc),
                wait,
            )
            sleep(wait)
    raise SourceError(
        f"{provider}: still throttled after {backoff.max_attempts} attempt(s): {_reason(last)}"
    ) from last


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    return getattr(exc, "reason", None) or str(exc) or type(exc).__name__
