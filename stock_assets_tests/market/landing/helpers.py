"""What the landing tests share: sample records, parsing helpers and the tier seam."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings

from stock_assets.market.landing import LandingParse, parse_landing_object
from stock_assets.market.landing import fast as landing_fast
from stock_assets.market.landing import parse as landing_parse

NOW = dt.datetime(2024, 7, 5, 20, 0, tzinfo=dt.UTC)
LIMIT = "2024-07-05T20:05:00+00:00"  # NOW + the default 5-minute tolerance
TS = "2024-07-05T14:30:00Z"
GOOD = {"symbol": "AAPL", "ts": TS, "price": 187.5, "volume": 1000, "name": "Apple Inc."}
KEY = "landing/quotes/2024/07/05/batch.jsonl"
CSV_KEY = "landing/quotes/a.csv"
SYMBOL_RULE = "expected 1-16 of A-Z 0-9 . - = ^"


def parse(body: bytes | str, key: str = KEY, **kwargs) -> LandingParse:
    data = body.encode() if isinstance(body, str) else body
    return parse_landing_object(key, data, now=NOW, **kwargs)


def line(**fields) -> str:
    return json.dumps({**GOOD, **fields})


def without(*names: str) -> str:
    return json.dumps({k: v for k, v in GOOD.items() if k not in names})


def reasons(result: LandingParse) -> list[tuple[int, str]]:
    return [(r.record_no, r.reason) for r in result.rejects]


def assert_only_middle_rejected(body: str, key: str = KEY) -> str:
    """Parse good/bad/good and return the bad record's reason (the good ones must land)."""
    result = parse(body, key)
    assert result.fatal is None
    assert result.quotes["record_no"].tolist() == [1, 3]
    assert result.quotes["symbol"].tolist() == ["AAPL", "AAPL"]
    assert [r.record_no for r in result.rejects] == [2]
    return result.rejects[0].reason


FAST_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
LATEST = dt.datetime(2024, 7, 5, 20, 5, tzinfo=dt.UTC)  # NOW + the default tolerance


@contextlib.contextmanager
def only_tiers(*names: str) -> Iterator[None]:
    """Parse with these fast tiers only ("arrow", "regex"); none: the spec alone."""
    with mock.patch.object(landing_parse, "_FAST_TIERS", frozenset(names)):
        yield


def parse_every_tier(body: bytes, key: str = KEY, now: dt.datetime = NOW) -> LandingParse:
    """The fast path's result, after checking that it is exactly the spec's (every record
    checked one by one) and the one without the Arrow tier."""
    fast = parse_landing_object(key, body, now=now)
    with only_tiers("regex"):
        assert_same(fast, parse_landing_object(key, body, now=now))
    with only_tiers():
        assert_same(fast, parse_landing_object(key, body, now=now))
    return fast


def assert_same(fast: LandingParse, slow: LandingParse) -> None:
    """The same parse exactly: reasons, record numbers, values, dtypes, signs of zero."""
    assert fast.fatal == slow.fatal
    assert fast.rejects == slow.rejects
    assert all(type(r.record_no) is int for r in fast.rejects)
    pd.testing.assert_frame_equal(fast.quotes, slow.quotes, check_exact=True, check_index_type=True)
    for column in ("price", "change", "change_pct"):  # -0.0 == 0.0: compare the signs too
        assert (np.signbit(fast.quotes[column]) == np.signbit(slow.quotes[column])).all()
    for column in ("symbol", "name", "source"):
        assert {type(v) for v in fast.quotes[column]} <= {str, type(None)}


@contextlib.contextmanager
def arrow_answers() -> Iterator[list[bool]]:
    """Whether the Arrow tier read each object it was offered, while in the block."""
    answers: list[bool] = []
    read = landing_fast.read_json_lines_whole

    def spy(*args):
        frame = read(*args)
        answers.append(frame is not None)
        return frame

    with mock.patch.object(landing_fast, "read_json_lines_whole", spy):
        yield answers
