"""Quality rules at their edges: bounds, the clock tolerance on dates, NULL keys, several
columns or symbols at once, and rows outside what a check judges."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

from stock_assets.market import calendar, quality
from stock_assets.market.indicators import LOOKBACK_BARS
from stock_assets.market.schemas import PRICES
from stock_assets_tests.market.test_quality import (
    DAY,
    FIRST,
    GOOD,
    LISTED,
    NEXT,
    SESSIONS,
    warmed_up,
)


def test_a_price_below_one_is_positive() -> None:
    assert quality.positive(GOOD.assign(open=[0.5, 0.01]), ["open"]).passed


def test_unique_judges_the_key_columns_only() -> None:
    # Same key, other values differ: both rows are duplicates of the key.
    twins = GOOD.assign(symbol="AAPL")
    assert quality.unique(twins, ["symbol", "trade_date"]).failing_count == 2
    assert quality.unique(twins, ["symbol", "trade_date", "close"]).passed


def test_future_dates_allow_for_the_clock_tolerance() -> None:
    """At 23:58 in New York, five minutes of tolerance reach the next day: a row dated
    tomorrow is not in the future yet; a NULL date never is."""
    late_evening = dt.datetime(2024, 7, 6, 3, 58, tzinfo=dt.UTC)  # 23:58 on 5 July in NY
    tomorrow = pd.DataFrame({"trade_date": [dt.date(2024, 7, 6), None]})
    assert quality.not_in_future(tomorrow, ["trade_date"], late_evening).passed
    early = dt.datetime(2024, 7, 6, 3, 50, tzinfo=dt.UTC)
    assert quality.not_in_future(tomorrow, ["trade_date"], early).failing_count == 1


def test_future_rows_of_every_column_are_reported() -> None:
    now = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    frame = pd.DataFrame(
        {
            "trade_date": [NEXT, DAY],
            "ts": pd.to_datetime(["2024-07-05 14:00", "2024-07-05 16:00"]),
        }
    )
    assert quality.not_in_future(frame, ["trade_date", "ts"], now).failing_count == 2
    assert quality.not_in_future(frame, ["ts", "trade_date"], now).failing_count == 2


def test_signals_are_matched_to_bars_by_symbol_and_day_together() -> None:
    """Every (symbol, day) of three symbols and four days, against bars on a random half of
    the pairs plus bars with a NULL symbol or day: a signal is an orphan exactly when its
    own pair has no bar (worked out with a set of pairs)."""
    rng = np.random.default_rng(5)
    days = [DAY, NEXT, dt.date(2024, 7, 9), dt.date(2024, 7, 10)]
    pairs = list(itertools.product(["AAPL", "MSFT", "IBM"], days))
    for _ in range(20):
        with_bars = [p for p in pairs if rng.random() < 0.5]
        nulls = [("MSFT", None), (None, days[0])]
        prices = pd.DataFrame(with_bars + nulls, columns=["symbol", "trade_date"])
        signals = pd.DataFrame([*pairs, ("ZZZZ", DAY)], columns=["symbol", "trade_date"])
        outcome = quality.signals_have_prices(signals, prices)
        known = {s for s, _ in with_bars} | {"MSFT"}
        expected = {
            (s, d): "no price bar that day" if s in known else "unknown symbol"
            for s, d in [*pairs, ("ZZZZ", DAY)]
            if (s, d) not in with_bars
        }
        got = zip(*(outcome.failing[c] for c in ("symbol", "trade_date", "problem")), strict=True)
        assert {(s, d): p for s, d, p in got} == expected


def test_rows_outside_the_checked_days_and_watchlist_cover_nothing() -> None:
    # AAPL has a row on NEXT only (not checked), IBM (not on the watchlist) on DAY.
    frame = pd.DataFrame({"symbol": ["AAPL", "IBM"], "trade_date": [NEXT, DAY]})
    outcome = quality.watchlist_covered(frame, [DAY], ["AAPL"], {})
    assert list(zip(outcome.failing.symbol, outcome.failing.trade_date, strict=True)) == [
        ("AAPL", DAY)
    ]


def test_nothing_to_check_gives_empty_evidence_of_the_columns_types() -> None:
    outcome = quality.watchlist_covered(GOOD, [], [], {})
    assert outcome.passed
    assert outcome.failing.dtypes.to_dict() == {"symbol": object, "trade_date": object}


def test_warmup_is_judged_per_symbol() -> None:
    """Two symbols' histories loaded together, in any row order, as alone: AAPL's are
    warm-ups and a hole in MSFT's (row 60) fails only that row."""
    aapl, msft = warmed_up("AAPL", SESSIONS), warmed_up("MSFT", SESSIONS)
    msft.loc[60, "rsi_14"] = np.nan
    both = pd.concat([msft, aapl], ignore_index=True).sample(frac=1.0, random_state=2)
    outcome = quality.warmup_nulls_as_expected(both, FIRST, LISTED)
    assert list(zip(outcome.failing.symbol, outcome.failing.trade_date, strict=True)) == [
        ("MSFT", SESSIONS[60])
    ]
    for lo, hi in ((0, 5), (30, 40), (45, 55), (61, 80)):
        part = pd.concat([aapl.iloc[lo:hi], msft.iloc[lo:hi]], ignore_index=True)
        assert quality.warmup_nulls_as_expected(part, FIRST, LISTED).passed, (lo, hi)


def test_text_columns_pass_as_pandas_strings_and_with_nulls() -> None:
    assert quality.schema_matches(GOOD.astype({"symbol": "string"}), PRICES).passed
    with_null = GOOD.assign(source=pd.Series(["test", np.nan], dtype=object))
    assert quality.schema_matches(with_null, PRICES).passed
    numbers = GOOD.assign(source=pd.Series([1, np.nan], dtype=object))
    assert not quality.schema_matches(numbers, PRICES).passed


def test_a_trade_date_that_is_not_a_plain_date_matches_no_day() -> None:
    quotes = pd.DataFrame({"ts": pd.to_datetime(["2024-07-05 14:30"] * 3)})
    quotes["trade_date"] = pd.Series([DAY, "2024-07-05", pd.Timestamp(DAY)], dtype=object)
    outcome = quality.trade_date_matches_ts(quotes)
    assert outcome.failing.index.tolist() == [1, 2]


def test_bands_with_any_null_are_not_judged() -> None:
    bands = pd.DataFrame(
        {"bb_lower": [np.nan, 9.0], "bb_middle": [10.0, np.nan], "bb_upper": [11.0, 8.0]}
    )
    assert quality.bollinger_ordered(bands).passed


def test_duplicates_are_listed_by_key_in_their_input_order() -> None:
    rng = np.random.default_rng(7)
    symbols = rng.choice(["AAPL", "MSFT", "IBM"], size=60)
    frame = pd.DataFrame({"symbol": symbols, "n": np.arange(60)})
    failing = quality.unique(frame, ["symbol"]).failing
    expected = sorted(range(60), key=lambda i: (symbols[i], i))
    assert failing["n"].tolist() == expected


def test_warmup_on_no_rows_gives_typed_empty_evidence() -> None:
    outcome = quality.warmup_nulls_as_expected(warmed_up("AAPL", SESSIONS).iloc[:0], FIRST, {})
    assert outcome.passed
    assert outcome.failing.dtypes.to_dict() == {
        "symbol": object,
        "trade_date": object,
        "null_columns": object,
        "bars_at_least": np.int64,
        "bars_at_most": np.int64,
    }


def test_warmup_cannot_judge_a_row_without_a_trade_date() -> None:
    history = warmed_up("AAPL", SESSIONS).astype({"trade_date": object})
    history.loc[5, "trade_date"] = None
    with pytest.raises(ValueError):
        quality.warmup_nulls_as_expected(history, FIRST, LISTED)


def test_warmup_bars_cannot_predate_the_listing() -> None:
    """ARM's 12th bar after listing with the values of a 20th (a mask consistent on its
    own): 12 sessions since the listing cannot hold 20 bars."""
    days = calendar.sessions_between(dt.date(2023, 9, 14), dt.date(2023, 12, 29))
    arm = warmed_up("ARM", days)
    arm.loc[12, list(LOOKBACK_BARS)] = arm.loc[20, list(LOOKBACK_BARS)].to_numpy()
    outcome = quality.warmup_nulls_as_expected(arm.iloc[12:13], dt.date(2015, 1, 2), LISTED)
    got = outcome.failing[["trade_date", "bars_at_least", "bars_at_most"]]
    assert got.to_records(index=False).tolist() == [(days[12], 0, 12)]


def test_warmup_keeps_symbols_apart_from_the_calendar_s_first_session() -> None:
    """Windows starting on session 0 (2000-01-03): the second symbol's window must not
    reach into the first symbol's last bars."""
    days = calendar.sessions_between(dt.date(2000, 1, 3), dt.date(2000, 4, 28))
    both = pd.concat([warmed_up("AAPL", days), warmed_up("MSFT", days)], ignore_index=True)
    assert quality.warmup_nulls_as_expected(both, days[0], {}).passed


def test_a_row_without_a_symbol_is_judged_as_never_listed() -> None:
    """A NULL-symbol row with the values of a 20th bar, beside ARM's first 20 bars: it is a
    symbol of its own with no listing day, so 20 bars may precede it; ARM's listing (12
    sessions before) does not apply to it."""
    days = calendar.sessions_between(dt.date(2023, 9, 14), dt.date(2023, 12, 29))
    arm = warmed_up("ARM", days)
    orphan = arm.iloc[[20]].assign(symbol=None, trade_date=days[12])
    frame = pd.concat([orphan, arm.iloc[:20]], ignore_index=True)
    assert quality.warmup_nulls_as_expected(frame, dt.date(2015, 1, 2), LISTED).passed
