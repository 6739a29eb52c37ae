"""What each quality rule reports: the sentence a check result shows when it passes and
when it fails (the count and what the failing rows have), and the evidence's columns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from stock_assets.market import quality
from stock_assets.market.indicators import LOOKBACK_BARS
from stock_assets.market.schemas import PRICES
from stock_assets_tests.market.test_quality import (
    DAY,
    FIRST,
    GOOD,
    HOLIDAY,
    LISTED,
    NEXT,
    NOW,
    SESSIONS,
    warmed_up,
)

TIMES = pd.DataFrame(
    {"trade_date": [DAY], "ts": pd.to_datetime(["2024-07-05 14:00"]).astype("datetime64[us]")}
)
QUOTES = pd.DataFrame({"ts": pd.to_datetime(["2024-07-05 14:30"]), "trade_date": [DAY]})
BANDS = pd.DataFrame({"bb_lower": [9.0], "bb_middle": [10.0], "bb_upper": [11.0]})
SIGNALS = pd.DataFrame({"symbol": ["AAPL"], "trade_date": [DAY], "signal": ["BUY"]})
REJECTS = pd.DataFrame({"record_no": [3], "reason": ["close is missing"]})
KEY = ["symbol", "trade_date"]


def _hole() -> pd.DataFrame:
    history = warmed_up("AAPL", SESSIONS)
    history.loc[60, "rsi_14"] = np.nan
    return history


Case = tuple[Callable[[], quality.Outcome], str]
PASSING: dict[str, Case] = {
    "schema": (
        lambda: quality.schema_matches(GOOD, PRICES),
        "silver.prices has every contract column with its type",
    ),
    "no_nulls": (lambda: quality.no_nulls(GOOD, KEY), "no NULL in symbol, trade_date"),
    "unique": (lambda: quality.unique(GOOD, KEY), "(symbol, trade_date) unique"),
    "positive": (lambda: quality.positive(GOOD, ["open", "close"]), "open, close > 0"),
    "non_negative": (lambda: quality.non_negative(GOOD, ["volume", "open"]), "volume, open >= 0"),
    "ohlc": (lambda: quality.ohlc_consistent(GOOD), "every bar has low <= open, close <= high"),
    "future": (
        lambda: quality.not_in_future(TIMES, ["trade_date", "ts"], NOW),
        "no trade_date, ts in the future",
    ),
    "ts_day": (
        lambda: quality.trade_date_matches_ts(QUOTES),
        "every quote's trade_date is its New York day",
    ),
    "sessions": (lambda: quality.on_sessions(GOOD), "every row is dated on an NYSE session"),
    "days": (lambda: quality.rows_on_days(GOOD, [DAY]), "every trading day has rows"),
    "watchlist": (
        lambda: quality.watchlist_covered(GOOD, [DAY], ["AAPL", "MSFT"], {}),
        "every watchlist symbol is present or explained",
    ),
    "warmup": (
        lambda: quality.warmup_nulls_as_expected(warmed_up("AAPL", SESSIONS), FIRST, LISTED),
        "NULLs only where each lookback is not yet filled",
    ),
    "bands": (lambda: quality.bollinger_ordered(BANDS), "bands are ordered"),
    "rsi": (lambda: quality.rsi_in_range(pd.DataFrame({"rsi_14": [50.0]})), "RSI within [0, 100]"),
    "signals": (
        lambda: quality.signals_have_prices(SIGNALS, GOOD),
        "every signal refers to a silver.prices bar",
    ),
    "rejects": (lambda: quality.none_rejected(REJECTS.iloc[:0]), "no record rejected"),
    "view_rows": (lambda: quality.view_not_empty(1), "1 rows"),
    "columns": (lambda: quality.columns_as_declared(["a", "b"], ["a", "b"]), "columns as declared"),
    "count": (lambda: quality.row_count_matches(4, 4), "4 rows, as counted"),
}  # fmt: skip
FAILING: dict[str, Case] = {
    "schema": (
        lambda: quality.schema_matches(GOOD.drop(columns="close"), PRICES),
        "1 contract columns of silver.prices are missing or mistyped",
    ),
    "no_nulls": (
        lambda: quality.no_nulls(GOOD.assign(symbol=[None, "MSFT"]), ["symbol", "trade_date"]),
        "1 rows have a NULL in symbol, trade_date",
    ),
    "unique": (
        lambda: quality.unique(GOOD.assign(symbol="AAPL"), ["symbol", "trade_date"]),
        "2 rows share their (symbol, trade_date) with another row",
    ),
    "positive": (
        lambda: quality.positive(GOOD.assign(open=[0.0, 1.0]), ["open", "close"]),
        "1 rows have open, close not > 0",
    ),
    "non_negative": (
        lambda: quality.non_negative(GOOD.assign(volume=[-1, 0]), ["volume", "open"]),
        "1 rows have volume, open < 0",
    ),
    "ohlc": (
        lambda: quality.ohlc_consistent(GOOD.assign(high=[10.0, 21.0])),
        "1 bars have high < max(open, close) or low > min(open, close)",
    ),
    "future": (
        lambda: quality.not_in_future(TIMES.assign(trade_date=[NEXT]), ["trade_date", "ts"], NOW),
        "1 rows have trade_date, ts in the future (now: 2024-07-05T15:00:00+00:00)",
    ),
    "ts_day": (
        lambda: quality.trade_date_matches_ts(QUOTES.assign(trade_date=[NEXT])),
        "1 quotes are filed under a trade_date other than their New York day",
    ),
    "sessions": (
        lambda: quality.on_sessions(GOOD.assign(trade_date=[DAY, HOLIDAY])),
        "1 rows are dated on a day the NYSE is closed",
    ),
    "days": (lambda: quality.rows_on_days(GOOD, [DAY, NEXT]), "1 trading days have no rows"),
    "watchlist": (
        lambda: quality.watchlist_covered(GOOD, [DAY], ["AAPL", "IBM"], {}),
        "1 watchlist (symbol, day) pairs have no row and no reason",
    ),
    "warmup": (
        lambda: quality.warmup_nulls_as_expected(_hole(), FIRST, LISTED),
        "1 rows have a NULL mask that is not a warm-up for their bar count",
    ),
    "bands": (
        lambda: quality.bollinger_ordered(BANDS.assign(bb_upper=[9.5])),
        "1 rows have misordered Bollinger bands",
    ),
    "rsi": (
        lambda: quality.rsi_in_range(pd.DataFrame({"rsi_14": [-0.1, 50.0, 100.5]})),
        "2 rows have RSI outside [0, 100]",
    ),
    "signals": (
        lambda: quality.signals_have_prices(SIGNALS.assign(symbol=["ZZZZ"]), GOOD),
        "1 signals have no matching silver.prices bar",
    ),
    "rejects": (
        lambda: quality.none_rejected(REJECTS),
        "1 records were rejected (see their reason)",
    ),
    "view_rows": (lambda: quality.view_not_empty(0), "1 view is empty"),
    "columns": (
        lambda: quality.columns_as_declared(["a", "c"], ["a", "b"]),
        "1 columns differ from the declared ones",
    ),
    "count": (lambda: quality.row_count_matches(3, 4), "1 row count differs from its inputs'"),
}  # fmt: skip


@pytest.mark.parametrize("name", PASSING)
def test_a_passing_rule_says_what_holds(name: str) -> None:
    evaluate, sentence = PASSING[name]
    outcome = evaluate()
    assert outcome.passed and outcome.failing_count == 0
    assert outcome.description == sentence


@pytest.mark.parametrize("name", FAILING)
def test_a_failing_rule_counts_what_fails(name: str) -> None:
    evaluate, sentence = FAILING[name]
    outcome = evaluate()
    assert not outcome.passed
    assert outcome.description == sentence


def records(outcome: quality.Outcome) -> list[dict]:
    return outcome.failing.to_dict("records")


def test_schema_evidence_names_the_column_its_type_and_what_was_found() -> None:
    frame = GOOD.drop(columns="close").astype({"volume": "float64"})
    assert records(quality.schema_matches(frame, PRICES)) == [
        {"column": "close", "expected": "DOUBLE", "found": "missing"},
        {"column": "volume", "expected": "BIGINT", "found": "float64"},
    ]


def test_view_evidence() -> None:
    assert records(quality.view_not_empty(0)) == [{"rows": 0}]
    assert records(quality.row_count_matches(3, 4)) == [{"rows": 3, "expected": 4}]
    assert records(quality.columns_as_declared(["a", "c", "d"], ["a", "b"])) == [
        {"position": 1, "column": "c", "declared": "b"},
        {"position": 2, "column": "d", "declared": None},
    ]
    assert records(quality.columns_as_declared(["a"], ["a", "b"])) == [
        {"position": 1, "column": None, "declared": "b"}
    ]


def test_rejects_are_the_evidence_themselves() -> None:
    pd.testing.assert_frame_equal(quality.none_rejected(REJECTS).failing, REJECTS)


def test_a_rule_that_could_not_run_has_no_evidence() -> None:
    broken = quality.failed_to_evaluate("volume >= 0", KeyError("volume"))
    assert broken.failing.empty and broken.failing_count == 0
    assert broken.description == "could not evaluate (volume >= 0): KeyError: 'volume'"


def test_warmup_evidence_names_the_row_its_null_columns_and_its_bar_bracket() -> None:
    """Row 40 has every column NULL: with 40 earlier bars loaded (lo = hi = 40) every
    lookback up to 40 must have a value; the label lists the NULL columns in
    LOOKBACK_BARS order, separated by spaces."""
    history = warmed_up("AAPL", SESSIONS)
    history.loc[40, list(LOOKBACK_BARS)] = np.nan
    outcome = quality.warmup_nulls_as_expected(history, FIRST, LISTED)
    assert list(outcome.failing.columns) == [
        "symbol",
        "trade_date",
        "null_columns",
        "bars_at_least",
        "bars_at_most",
    ]
    assert records(outcome) == [
        {
            "symbol": "AAPL",
            "trade_date": SESSIONS[40],
            "null_columns": " ".join(LOOKBACK_BARS),
            "bars_at_least": 40,
            "bars_at_most": 40,
        }
    ]
