"""Every quality rule on hand-built frames: data that passes it and data that fails it."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stock_assets.market import calendar, quality
from stock_assets.market.indicators import LOOKBACK_BARS
from stock_assets.market.schemas import PRICES, conform

DAY = dt.date(2024, 7, 5)
NEXT = dt.date(2024, 7, 8)
HOLIDAY = dt.date(2024, 7, 4)
NOW = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)


def bars(*rows: tuple) -> pd.DataFrame:
    """silver.prices rows from (symbol, day, open, high, low, close, volume)."""
    frame = pd.DataFrame(
        rows, columns=["symbol", "trade_date", "open", "high", "low", "close", "volume"]
    )
    return conform(
        frame.assign(adj_close=frame.close, source="test", ingested_at=pd.Timestamp(NOW)), PRICES
    )


GOOD = bars(("AAPL", DAY, 10.0, 11.0, 9.5, 10.5, 100), ("MSFT", DAY, 20.0, 21.0, 19.0, 20.5, 0))


def failing_keys(outcome: quality.Outcome) -> set[tuple]:
    return set(zip(outcome.failing.symbol, outcome.failing.trade_date, strict=True))


def test_outcome_describes_failures():
    both = bars(("AAPL", DAY, 1, 2, 1, 1, 1), ("AAPL", NEXT, 1, 2, 1, 1, 1))
    outcome = quality.Outcome(both, "rows are odd", "rows are fine")
    assert not outcome.passed and outcome.failing_count == 2
    assert outcome.description == "2 rows are odd"
    broken = quality.failed_to_evaluate("volume >= 0", KeyError("volume"))
    assert not broken.passed and "could not evaluate (volume >= 0): KeyError" in broken.description


def test_schema_accepts_the_contract_as_stored_and_as_produced():
    stored = GOOD.astype({"volume": "int64"})  # DuckDB returns BIGINT without NULLs as int64
    assert quality.schema_matches(stored, PRICES).passed
    assert quality.schema_matches(PRICES.empty_frame(), PRICES).passed
    empty_load = PRICES.empty_frame().astype({"trade_date": "datetime64[us]"})  # empty DATE
    assert quality.schema_matches(empty_load, PRICES).passed


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda f: f.drop(columns="close"), "close"),
        (lambda f: f.astype({"volume": "float64"}), "volume"),
        (lambda f: f.assign(trade_date=f.trade_date.astype(str)), "trade_date"),
        (lambda f: f.assign(ingested_at=f.ingested_at.dt.tz_localize("UTC")), "ingested_at"),
        (lambda f: f.assign(symbol=[1, 2]), "symbol"),
        (lambda f: f.assign(trade_date=pd.to_datetime(["2024-07-05 10:00"] * 2)), "trade_date"),
    ],
)
def test_schema_fails_on_a_missing_or_mistyped_column(change, column):
    outcome = quality.schema_matches(change(GOOD), PRICES)
    assert not outcome.passed and list(outcome.failing.column) == [column]


def test_no_nulls():
    assert quality.no_nulls(GOOD, ["symbol", "trade_date"]).passed
    holed = GOOD.assign(symbol=["AAPL", None])
    outcome = quality.no_nulls(holed, ["symbol", "trade_date"])
    assert outcome.failing_count == 1 and outcome.failing.iloc[0].close == 20.5


def test_unique_reports_every_row_of_a_duplicated_key():
    assert quality.unique(GOOD, ["symbol", "trade_date"]).passed
    doubled = pd.concat([GOOD, GOOD.iloc[:1]], ignore_index=True)
    outcome = quality.unique(doubled, ["symbol", "trade_date"])
    assert outcome.failing_count == 2 and set(outcome.failing.symbol) == {"AAPL"}


def test_positive_prices():
    assert quality.positive(GOOD, ["open", "close"]).passed
    for bad in (0.0, -1.0, np.inf, np.nan):
        outcome = quality.positive(GOOD.assign(close=[bad, 20.5]), ["open", "close"])
        assert failing_keys(outcome) == {("AAPL", DAY)}, bad
    optional = GOOD.assign(close=[np.nan, 20.5])
    assert quality.positive(optional, ["close"], allow_null=True).passed


def test_non_negative_volume():
    assert quality.non_negative(GOOD, ["volume"]).passed  # MSFT traded 0: allowed
    outcome = quality.non_negative(GOOD.assign(volume=pd.array([-1, 5], "Int64")), ["volume"])
    assert failing_keys(outcome) == {("AAPL", DAY)}
    missing = GOOD.assign(volume=pd.array([None, 5], "Int64"))
    assert not quality.non_negative(missing, ["volume"]).passed
    assert quality.non_negative(missing, ["volume"], allow_null=True).passed


@pytest.mark.parametrize(
    ("open_", "high", "low", "close"),
    [(10, 9.9, 9, 9.5), (9, 10, 9.5, 9.9), (10, 10.4, 9, 10.5), (10, 11, 10.1, 10.5)],
)
def test_ohlc_consistency(open_, high, low, close):
    assert quality.ohlc_consistent(GOOD).passed
    flat = bars(("AAPL", DAY, 10.0, 10.0, 10.0, 10.0, 1))  # a bar that did not move is fine
    assert quality.ohlc_consistent(flat).passed
    broken = bars(("AAPL", DAY, open_, high, low, close, 1))
    assert quality.ohlc_consistent(broken).failing_count == 1


def test_not_in_future_on_timestamps_and_dates():
    times = pd.DataFrame(
        {
            "trade_date": [DAY, DAY],
            "ts": pd.to_datetime(["2024-07-05 15:04", "2024-07-05 14:00"]).astype("datetime64[us]"),
        }
    )
    assert quality.not_in_future(times, ["trade_date", "ts"], NOW).passed
    late = times.assign(ts=pd.to_datetime(["2024-07-05 15:06", "2024-07-05 14:00"]))
    assert quality.not_in_future(late, ["ts"], NOW).failing_count == 1
    tomorrow = times.assign(trade_date=[DAY, dt.date(2024, 7, 6)])
    assert quality.not_in_future(tomorrow, ["trade_date"], NOW).failing_count == 1
    # 02:00 UTC on the 6th is still the 5th in New York.
    evening = dt.datetime(2024, 7, 6, 2, tzinfo=dt.UTC)
    assert quality.not_in_future(tomorrow, ["trade_date"], evening).failing_count == 1
    assert quality.not_in_future(times, ["trade_date"], evening).passed


def test_trade_date_is_the_new_york_day_of_ts():
    quotes = pd.DataFrame(
        {
            "ts": pd.to_datetime(["2024-07-05 14:30", "2024-07-06 01:59"]),  # UTC
            "trade_date": [DAY, DAY],  # 10:30 and 21:59 in New York
        }
    )
    assert quality.trade_date_matches_ts(quotes).passed
    misfiled = quotes.assign(ts=pd.to_datetime(["2024-07-05 14:30", "2024-07-05 02:00"]))
    assert quality.trade_date_matches_ts(misfiled).failing_count == 1  # 4 July in New York


def test_no_rows_on_holidays():
    assert quality.on_sessions(GOOD).passed
    outcome = quality.on_sessions(GOOD.assign(trade_date=[DAY, HOLIDAY]))
    assert failing_keys(outcome) == {("MSFT", HOLIDAY)}
    weekend = quality.on_sessions(GOOD.assign(trade_date=[dt.date(2024, 7, 6), DAY]))
    assert weekend.failing_count == 1


def test_rows_on_every_trading_day():
    assert quality.rows_on_days(GOOD, [DAY]).passed
    outcome = quality.rows_on_days(GOOD, [DAY, NEXT])
    assert list(outcome.failing.trade_date) == [NEXT]


LISTED = {"ARM": dt.date(2023, 9, 14), "AAPL": None}


def test_watchlist_complete_or_explained():
    watchlist = ["AAPL", "MSFT"]
    assert quality.watchlist_covered(GOOD, [DAY], watchlist, LISTED).passed
    only_aapl = GOOD.iloc[:1]
    outcome = quality.watchlist_covered(only_aapl, [DAY], watchlist, LISTED)
    assert failing_keys(outcome) == {("MSFT", DAY)}
    rejects = pd.DataFrame({"symbol": ["MSFT"], "trade_date": [DAY], "reason": ["high < low"]})
    assert quality.watchlist_covered(only_aapl, [DAY], watchlist, LISTED, rejects=rejects).passed
    errors = {DAY: {"MSFT": "HTTP 404"}}
    assert quality.watchlist_covered(
        only_aapl, [DAY], watchlist, LISTED, symbol_errors=errors
    ).passed
    # The error of another day explains nothing.
    other = {NEXT: {"MSFT": "HTTP 404"}}
    assert not quality.watchlist_covered(
        only_aapl, [DAY], watchlist, LISTED, symbol_errors=other
    ).passed


def test_watchlist_listing_explains_days_before_it_only():
    before, after = dt.date(2023, 9, 13), dt.date(2023, 9, 14)
    nobody = GOOD.iloc[:0]
    assert quality.watchlist_covered(nobody, [before], ["ARM"], LISTED).passed
    outcome = quality.watchlist_covered(nobody, [before, after], ["ARM"], LISTED)
    assert failing_keys(outcome) == {("ARM", after)}


FIRST = dt.date(2024, 1, 2)  # the first partition in the warm-up tests
SESSIONS = calendar.sessions_between(FIRST, dt.date(2024, 4, 30))


def warmed_up(symbol: str, days: list[dt.date]) -> pd.DataFrame:
    """Indicator rows with the textbook NULL mask: bar b has column c iff b >= LOOKBACK[c]."""
    return pd.DataFrame(
        [
            {
                "symbol": symbol,
                "trade_date": day,
                **{c: (1.0 if bar >= n else np.nan) for c, n in LOOKBACK_BARS.items()},
            }
            for bar, day in enumerate(days)
        ]
    )


def test_warmup_mask_passes_for_the_whole_history_and_for_any_slice_of_it():
    history = warmed_up("AAPL", SESSIONS)
    assert len(SESSIONS) > max(LOOKBACK_BARS.values())
    assert quality.warmup_nulls_as_expected(history, FIRST, LISTED).passed
    for lo, hi in ((0, 5), (30, 40), (45, 55), (70, 80)):  # what one partitioned run loads
        assert quality.warmup_nulls_as_expected(history.iloc[lo:hi], FIRST, LISTED).passed


def test_warmup_fails_on_a_null_after_the_warmup():
    history = warmed_up("AAPL", SESSIONS)
    history.loc[60, "rsi_14"] = np.nan
    outcome = quality.warmup_nulls_as_expected(history, FIRST, LISTED)
    assert list(outcome.failing.trade_date) == [SESSIONS[60]]
    assert outcome.failing.iloc[0].null_columns == "rsi_14"
    # Seen alone (one partition) the hole is still visible: sma_50 has a value, rsi_14 not.
    assert not quality.warmup_nulls_as_expected(history.iloc[60:61], FIRST, LISTED).passed


def test_warmup_fails_on_a_null_that_earlier_loaded_bars_rule_out():
    history = warmed_up("AAPL", SESSIONS)
    history.loc[60, list(LOOKBACK_BARS)] = np.nan  # a row entirely NULL, mask-consistent
    assert quality.warmup_nulls_as_expected(history.iloc[60:61], FIRST, LISTED).passed
    # With 10 earlier bars loaded, pct_change (lookback 1) must have a value.
    assert not quality.warmup_nulls_as_expected(history.iloc[50:61], FIRST, LISTED).passed


def test_warmup_fails_on_a_value_before_enough_bars_can_exist():
    history = warmed_up("AAPL", SESSIONS)
    history.loc[30, "sma_50"] = 1.0  # only 30 sessions since the first partition
    assert not quality.warmup_nulls_as_expected(history, FIRST, LISTED).passed
    assert not quality.warmup_nulls_as_expected(history.iloc[30:31], FIRST, LISTED).passed


def test_warmup_counts_from_the_listing_day():
    days = calendar.sessions_between(dt.date(2023, 9, 14), dt.date(2023, 12, 29))
    arm = warmed_up("ARM", days)
    first = dt.date(2015, 1, 2)
    assert quality.warmup_nulls_as_expected(arm.iloc[10:20], first, LISTED).passed
    arm.loc[12, "sma_20"] = 1.0  # 12 bars after listing: no 20-day average yet
    assert not quality.warmup_nulls_as_expected(arm.iloc[10:20], first, LISTED).passed


def test_bollinger_bands_ordered():
    bands = pd.DataFrame(
        {
            "bb_lower": [9.0, np.nan, 10.0],
            "bb_middle": [10.0, np.nan, 10.0],
            "bb_upper": [11, 1, 10],
        }
    )
    assert quality.bollinger_ordered(bands).passed  # warm-up and zero width are fine
    crossed = bands.assign(bb_lower=[10.5, np.nan, 10.0])
    assert quality.bollinger_ordered(crossed).failing_count == 1
    inverted = bands.assign(bb_upper=[9.5, 1, 10])
    assert quality.bollinger_ordered(inverted).failing_count == 1


def test_rsi_within_0_and_100():
    assert quality.rsi_in_range(pd.DataFrame({"rsi_14": [0.0, 55.5, 100.0, np.nan]})).passed
    outcome = quality.rsi_in_range(pd.DataFrame({"rsi_14": [-0.1, 50.0, 100.5]}))
    assert outcome.failing_count == 2


def test_signals_refer_to_price_bars():
    signals = pd.DataFrame(
        {"symbol": ["AAPL", "MSFT"], "trade_date": [DAY, DAY], "signal": ["BUY", "ANOMALY"]}
    )
    assert quality.signals_have_prices(signals, GOOD).passed
    assert quality.signals_have_prices(signals.iloc[:0], GOOD).passed
    stray = pd.concat(
        [
            signals,
            pd.DataFrame(
                {"symbol": ["AAPL", "ZZZZ"], "trade_date": [NEXT, DAY], "signal": ["SELL", "BUY"]}
            ),
        ],
        ignore_index=True,
    )
    outcome = quality.signals_have_prices(stray, GOOD)
    assert dict(zip(outcome.failing.symbol, outcome.failing.problem, strict=True)) == {
        "AAPL": "no price bar that day",
        "ZZZZ": "unknown symbol",
    }
