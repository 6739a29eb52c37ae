"""Data-quality rules of the intraday tables: pure functions returning quality.Outcome."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from stock_assets.market import calendar
from stock_assets.market.intraday import session_minutes
from stock_assets.market.quality import Outcome

MINUTES_LISTED = 30  # missing minutes named per symbol and session
PRICE_TOLERANCE = 1e-6  # relative: the same source's bars and daily bar agree to rounding


def _session_bounds(days: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's session open and close (naive UTC datetime64[us]); NaT off-session."""
    codes, distinct = pd.factorize(days)
    missing = np.datetime64("NaT", "us")
    opens, closes = [], []
    for day in distinct:
        known = isinstance(day, dt.date) and calendar.is_session(day)
        for bounds, edge in (
            (opens, calendar.market_open_utc),
            (closes, calendar.market_close_utc),
        ):
            bounds.append(edge(day).tz_localize(None).to_datetime64() if known else missing)
    # Code -1 (a NULL date) picks the trailing NaT.
    with_nat = [np.array([*v, missing], dtype="datetime64[us]") for v in (opens, closes)]
    return with_nat[0][codes], with_nat[1][codes]


def bars_inside_session(bars: pd.DataFrame) -> Outcome:
    """Every bar starts inside the regular session of its trade_date (early closes too)."""
    opens, closes = _session_bounds(bars["trade_date"])
    starts = bars["bar_start"].to_numpy(dtype="datetime64[us]")
    inside = (starts >= opens) & (starts < closes)  # NaT compares False
    return Outcome(
        bars[~inside],
        "bars start outside the regular session of their trade_date",
        "every bar starts inside its session (09:30-16:00 New York, 13:00 on early closes)",
    )


def minutes_complete(bars: pd.DataFrame, now: dt.datetime) -> Outcome:
    """Each symbol has a bar for every minute of each session so far; the missing ones are
    listed (New York time, the first MINUTES_LISTED of them)."""
    failing = []
    cutoff = pd.Timestamp(now).tz_convert("UTC").tz_localize(None)
    for (symbol, day), group in bars.groupby(["symbol", "trade_date"], sort=True):
        expected = session_minutes(day)
        expected = expected[expected < cutoff]
        missing = expected.difference(pd.DatetimeIndex(group["bar_start"]).as_unit("us"))
        if len(missing):
            local = missing.tz_localize("UTC").tz_convert(calendar.MARKET_TIMEZONE)
            failing.append(
                {
                    "symbol": symbol,
                    "trade_date": day,
                    "missing": len(missing),
                    "expected": len(expected),
                    "missing_minutes": ", ".join(local[:MINUTES_LISTED].strftime("%H:%M")),
                }
            )
    return Outcome(
        pd.DataFrame(failing),
        "symbol-sessions lack one-minute bars",
        "every symbol has a bar for every minute of its sessions so far",
    )


def agree_with_daily(bars: pd.DataFrame, prices: pd.DataFrame) -> Outcome:
    """A symbol-day's bars of one source aggregate to that source's daily bar in
    silver.prices (open, high, low, close; volume exactly), where both exist."""
    if bars.empty or prices.empty:
        return Outcome(pd.DataFrame(), "", "no symbol-day has both bars and a daily bar")
    ordered = bars.sort_values(["symbol", "bar_start"], kind="stable")
    daily = (
        ordered.groupby(["symbol", "trade_date", "source"], sort=True)
        .agg(
            open=("open", "first"),
            high=("high", "max"),
            low=("low", "min"),
            close=("close", "last"),
            volume=("volume", "sum"),
        )
        .reset_index()
    )
    both = daily.merge(prices, on=["symbol", "trade_date", "source"], suffixes=("", "_daily"))
    differences = {}
    bad = pd.Series(False, index=both.index)
    for column in ("open", "high", "low", "close"):
        gap = (both[column] - both[f"{column}_daily"]) / both[f"{column}_daily"]
        differences[f"{column}_diff_pct"] = 100 * gap
        bad |= ~(gap.abs() <= PRICE_TOLERANCE)
    volume_gap = both["volume"].astype(float) - both["volume_daily"].astype(float)
    bad |= volume_gap != 0
    failing = both.assign(**differences, volume_diff=volume_gap)[bad]
    columns = ["symbol", "trade_date", "source", *differences, "volume_diff"]
    return Outcome(
        failing[columns].reset_index(drop=True),
        "symbol-days' bars disagree with the same source's daily bar",
        "bars agree with the daily bar of the same source",
    )
