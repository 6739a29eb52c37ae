"""Live signals on crafted quote sequences; bars and SMAs come from independent references
(DuckDB SQL over the same quotes, TA-Lib), never from the code under test."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import numpy as np
import pandas as pd
import pytest
import talib

from stock_assets.market import calendar
from stock_assets.market.alert_rules import AlertRule
from stock_assets.market.live_signals import (
    CROSS_DOWN,
    CROSS_UP,
    MOVE,
    RULE,
    VOLUME_SURGE,
    LiveThresholds,
    detect_live_signals,
    minute_volume_baseline,
)

DAY = dt.date(2024, 7, 8)  # a Monday; New York is UTC-4 in July
PREVIOUS = dt.date(2024, 7, 5)


def ny(clock: str, day: dt.date = DAY) -> pd.Timestamp:
    """A New York wall-clock time on `day` as naive UTC, as the tables store it."""
    local = pd.Timestamp(f"{day} {clock}", tz="America/New_York")
    return local.tz_convert("UTC").tz_localize(None)


def quotes(rows: list[tuple], symbol: str = "AAPL", day: dt.date = DAY) -> pd.DataFrame:
    """rows: (New York time, price, cumulative volume)."""
    frame = pd.DataFrame(rows, columns=["clock", "price", "volume"])
    return pd.DataFrame(
        {
            "symbol": symbol,
            "trade_date": day,
            "ts": [ny(c, day) for c in frame.clock],
            "price": frame.price.astype("float64"),
            "volume": frame.volume.astype("Int64"),
            "change": np.nan,
            "ingested_at": [ny(c, day) + pd.Timedelta(seconds=2) for c in frame.clock],
        }
    )


def bars(quote_frame: pd.DataFrame) -> pd.DataFrame:
    """One-minute bars by DuckDB SQL: last price, and the cumulative volume's increase."""
    return duckdb.sql(
        """
        WITH per_minute AS (
            SELECT symbol, trade_date, date_trunc('minute', ts) AS bar_start,
                   arg_max(price, ts) AS close, arg_max(volume, ts) AS cum
            FROM quote_frame GROUP BY ALL
        )
        SELECT symbol, trade_date, bar_start, close,
               greatest(cum - coalesce(lag(cum) OVER (
                   PARTITION BY symbol, trade_date ORDER BY bar_start), 0), 0) AS volume
        FROM per_minute ORDER BY symbol, bar_start
        """
    ).df()


def closes(**by_symbol: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"symbol": list(by_symbol), "trade_date": PREVIOUS, "close": list(by_symbol.values())}
    )


NO_BASELINE = pd.DataFrame(columns=["symbol", "minute", "avg_volume", "sessions"])


def detect(q: pd.DataFrame, **kwargs) -> pd.DataFrame:
    kwargs.setdefault("daily_closes", closes(AAPL=100.0))
    kwargs.setdefault("baseline", NO_BASELINE)
    return detect_live_signals(q, kwargs.pop("bars", bars(q)), **kwargs)


def fired(frame: pd.DataFrame, signal: str) -> list[tuple[pd.Timestamp, float]]:
    hits = frame[frame.signal == signal]
    return [(pd.Timestamp(t), round(float(v), 6)) for t, v in zip(hits.ts, hits.value, strict=True)]


def test_move_fires_once_per_crossing_and_never_exactly_at_the_threshold():
    q = quotes(
        [
            ("10:00:00", 104.0, 100),
            ("10:01:00", 105.0, 200),  # exactly +5%: not more than 5%
            ("10:02:00", 105.5, 300),  # crosses: fires
            ("10:03:00", 106.0, 400),  # still beyond: quiet
            ("10:04:00", 104.0, 500),
            ("10:05:00", 95.0, 600),  # exactly -5%
            ("10:06:00", 94.9, 700),  # crosses down
            ("10:07:00", 106.0, 800),  # up again: a new crossing
        ]
    )
    found = detect(q)
    assert fired(found, MOVE) == [
        (ny("10:02:00"), 5.5),
        (ny("10:06:00"), -5.1),
        (ny("10:07:00"), 6.0),
    ]
    move = found[found.signal == MOVE].iloc[0]
    assert move.detected_at == ny("10:02:02") and "previous close 100" in move.reason


def test_move_uses_the_quotes_change_when_no_daily_close_is_stored():
    q = quotes([("10:00:00", 104.0, 1), ("10:01:00", 106.0, 2)]).assign(change=[4.0, 6.0])
    found = detect(q, daily_closes=closes())
    assert fired(found, MOVE) == [(ny("10:01:00"), 6.0)]


def test_the_first_quote_of_the_day_beyond_the_threshold_fires_and_a_gap_changes_nothing():
    q = quotes([("09:31:00", 107.0, 1), ("09:32:00", 107.5, 2), ("11:45:00", 108.0, 3)])
    assert fired(detect(q), MOVE) == [(ny("09:31:00"), 7.0)]


def crossing_path() -> pd.DataFrame:
    """30 one-minute quotes: a slow decline, then a rise that lifts SMA-5 over SMA-20."""
    prices = [110 - 0.5 * i for i in range(22)] + [100 + 1.5 * i for i in range(8)]
    rows = [(f"10:{i:02d}:30", p, 1000 * (i + 1)) for i, p in enumerate(prices)]
    return quotes(rows)


def talib_first_cross(close: np.ndarray) -> int:
    fast, slow = talib.SMA(close, 5), talib.SMA(close, 20)
    for i in range(1, len(close)):
        if not np.isnan(slow[i - 1]) and fast[i - 1] <= slow[i - 1] and fast[i] > slow[i]:
            return i
    raise AssertionError("the path never crosses")


def test_cross_up_is_where_talib_sma5_crosses_sma20_on_completed_bars():
    q = crossing_path()
    bar_frame = bars(q)
    at = talib_first_cross(bar_frame.close.to_numpy(dtype="float64"))
    found = detect(q, bars=bar_frame)
    assert fired(found, CROSS_UP) == [(ny(f"10:{at:02d}:30"), float(bar_frame.close[at]))]
    assert fired(found, CROSS_DOWN) == []

    # The crossing bar as the newest bar can still change: no signal until the next minute.
    upto = q[q.ts <= ny(f"10:{at:02d}:30")]
    assert fired(detect(upto), CROSS_UP) == []


def test_cross_down_mirrors_cross_up():
    q = crossing_path()
    mirrored = q.assign(price=220.0 - q.price)
    bar_frame = bars(mirrored)
    close = bar_frame.close.to_numpy(dtype="float64")
    at = talib_first_cross(-close)
    found = detect(mirrored, bars=bar_frame, daily_closes=closes(AAPL=120.0))
    assert fired(found, CROSS_DOWN) == [(ny(f"10:{at:02d}:30"), float(close[at]))]
    assert fired(found, CROSS_UP) == []


def history(sessions: int, minute_volume: int) -> pd.DataFrame:
    """Bars of `sessions` earlier sessions with `minute_volume` shares in the 10:00 minute."""
    days = calendar.sessions_between(PREVIOUS - dt.timedelta(days=60), PREVIOUS)[-sessions:]
    return pd.DataFrame(
        {
            "symbol": "AAPL",
            "trade_date": days,
            "bar_start": [ny("10:00:00", d) for d in days],
            "close": 100.0,
            "volume": minute_volume,
        }
    )


def surge_quotes(peak: int) -> pd.DataFrame:
    return quotes(
        [
            ("09:59:30", 100.0, 1000),
            ("10:00:10", 100.0, 1150),
            ("10:00:40", 100.0, 1000 + peak - 90),
            ("10:00:50", 100.0, 1000 + peak),
        ]
    )


@pytest.mark.parametrize("stored", [False, True])
def test_volume_surge_fires_at_the_quote_that_passes_three_times_the_minute_average(stored):
    baseline = minute_volume_baseline(history(20, 100), sessions=20)
    if stored:  # as the asset passes gold.minute_volume_profile: dated the session it is as of
        baseline = baseline.assign(trade_date=PREVIOUS)
    found = detect(surge_quotes(400), baseline=baseline)
    # Running volume in the 10:00 bar: 150, 310 (> 300: fires here), 400.
    assert fired(found, VOLUME_SURGE) == [(ny("10:00:40"), 4.0)]


@pytest.mark.parametrize(("sessions", "peak"), [(4, 400), (20, 300)])
def test_no_volume_surge_without_enough_history_or_at_exactly_the_ratio(sessions, peak):
    baseline = minute_volume_baseline(history(sessions, 100), sessions=20)
    found = detect(surge_quotes(peak), baseline=baseline, thresholds=LiveThresholds())
    assert fired(found, VOLUME_SURGE) == []


def test_the_baseline_takes_the_last_sessions_only():
    old = history(25, 1000).iloc[:5]
    recent = history(20, 100)
    baseline = minute_volume_baseline(pd.concat([old, recent]), sessions=20)
    assert baseline.to_dict("records") == [
        {"symbol": "AAPL", "minute": 30, "avg_volume": 100.0, "sessions": 20}
    ]


def test_rules_fire_per_crossing_with_their_quiet_period_and_wildcards():
    rules = [
        AlertRule("aapl-above-105", "AAPL", "price_above", 105.0, quiet_minutes=10),
        AlertRule("any-down-3", "*", "change_pct_below", -3.0),
    ]
    aapl = quotes(
        [
            ("10:00:00", 104.0, 1),
            ("10:01:00", 106.0, 2),  # fires
            ("10:02:00", 104.0, 3),
            ("10:03:00", 106.0, 4),  # within the quiet period
            ("10:04:00", 104.0, 5),
            ("10:15:00", 106.0, 6),  # fires again
        ]
    )
    msft = quotes([("10:00:00", 96.5, 1), ("10:05:00", 96.9, 2)], symbol="MSFT")
    found = detect(
        pd.concat([aapl, msft]), rules=rules, daily_closes=closes(AAPL=100.0, MSFT=100.0)
    )
    by_rule = found[found.signal == RULE]
    assert list(zip(by_rule.rule, by_rule.symbol, by_rule.ts, strict=True)) == [
        ("aapl-above-105", "AAPL", ny("10:01:00")),
        ("aapl-above-105", "AAPL", ny("10:15:00")),
        ("any-down-3", "MSFT", ny("10:00:00")),
    ]


def test_the_result_is_the_same_whatever_order_the_quotes_came_in():
    q = pd.concat([crossing_path(), surge_quotes(400).assign(symbol="MSFT")], ignore_index=True)
    baseline = pd.concat(
        [minute_volume_baseline(history(20, 100), 20).assign(symbol="MSFT")], ignore_index=True
    )
    kwargs = dict(daily_closes=closes(AAPL=100.0, MSFT=95.0), baseline=baseline)
    expected = detect(q, **kwargs)
    assert set(expected.signal) >= {MOVE, CROSS_UP, VOLUME_SURGE}
    rng = random.Random(7)
    for _ in range(5):
        shuffled = q.sample(frac=1.0, random_state=rng.randrange(10**6))
        pd.testing.assert_frame_equal(detect(shuffled, **kwargs), expected)
