"""Adjusting raw bars for corporate actions (market.actions), two ways.

* Point in time (indicators, signals): a day's values are computed on history adjusted to
  that day's share basis, i.e. with the actions whose ex-date is on or before the day.
  An action with a later ex-date cannot change the day's values, so they never move when
  a later action arrives, and a split day shows no artificial move.
* Back-adjusted to today's basis (charts, research; gold.adjusted_prices): every recorded
  action applied to the bars before its ex-date.

A bar's factor is the product of the price factors of the actions that apply to it,
multiplied latest ex-date first, so it is a function of those actions alone (bit for bit).
Raw silver.prices is never changed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from stock_assets.market.actions import DIVIDEND, SPLIT, empty_actions

_SERIES_SEPARATOR = "\x1f"  # never in a symbol (market.symbols)


def action_factors(actions: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """`actions` with `price_factor` and `volume_factor` (module docstring of
    market.actions): a dividend's price factor reads the raw close of the symbol's last
    bar in `prices` before the ex-date."""
    frame = actions.reset_index(drop=True)
    price = np.ones(len(frame))
    volume = np.ones(len(frame))
    split = (frame["action"] == SPLIT).to_numpy()
    price[split] = 1.0 / frame["ratio"].to_numpy(dtype="float64")[split]
    volume[split] = frame["ratio"].to_numpy(dtype="float64")[split]
    closes = {s: g.sort_values("trade_date") for s, g in prices.groupby("symbol", sort=False)}
    for i in np.flatnonzero((frame["action"] == DIVIDEND).to_numpy()):
        bars = closes.get(frame.at[i, "symbol"])
        if bars is None:
            continue
        before = bars[bars["trade_date"] < frame.at[i, "ex_date"]]
        if before.empty:
            continue
        previous = float(before["close"].iloc[-1])
        amount = float(frame.at[i, "amount"])
        if 0 < amount < previous:
            price[i] = 1.0 - amount / previous
    return frame.assign(price_factor=price, volume_factor=volume)


def bar_factors(
    days: pd.Series, factors: pd.DataFrame, column: str, as_of: dt.date | None = None
) -> np.ndarray:
    """Per bar of one symbol (its `days`), the product of `column` over the actions in
    `factors` (action_factors of that symbol) with ex-date after the bar and, with
    `as_of`, on or before `as_of`; multiplied latest ex-date first."""
    out = np.ones(len(days))
    if factors.empty:
        return out
    applied = factors if as_of is None else factors[factors["ex_date"] <= as_of]
    applied = applied.sort_values(["ex_date", "action"], ascending=False, kind="stable")
    values = days.to_numpy()
    for ex_date, factor in zip(applied["ex_date"], applied[column], strict=True):
        out[values < ex_date] *= factor
    return out


def back_adjusted(prices: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """gold.adjusted_prices: OHLCV of `prices` adjusted to today's basis, with `factor`
    (the price factor; volume is multiplied by the splits' ratios instead, to whole
    shares)."""
    columns = ["symbol", "trade_date", "open", "high", "low", "close", "volume", "factor"]
    if prices.empty:
        return pd.DataFrame(columns=columns)
    factors = action_factors(actions, prices)
    by_symbol = dict(tuple(factors.groupby("symbol", sort=False)))
    parts = []
    for symbol, bars in prices.sort_values(["symbol", "trade_date"]).groupby("symbol"):
        mine = by_symbol.get(symbol, factors.iloc[:0])
        price = bar_factors(bars["trade_date"], mine, "price_factor")
        volume = bar_factors(bars["trade_date"], mine, "volume_factor")
        adjusted = bars[["symbol", "trade_date"]].copy()
        for name in ("open", "high", "low", "close"):
            adjusted[name] = bars[name].to_numpy(dtype="float64") * price
        shares = bars["volume"].to_numpy(dtype="float64", na_value=np.nan) * volume
        adjusted["volume"] = pd.array(np.rint(shares), dtype="Int64")
        adjusted["factor"] = price
        parts.append(adjusted)
    return pd.concat(parts, ignore_index=True)[columns]


def point_in_time_series(
    window: pd.DataFrame, targets: list[dt.date], actions: pd.DataFrame | None
) -> pd.DataFrame:
    """The series to compute a window's indicators on, so each target day sees its own basis.

    A symbol with no action inside the window keeps one raw series. A symbol with actions
    gets one series per basis its targets are on (an epoch between two ex-dates), holding
    its bars up to that epoch's last target, adjusted with the actions up to it; the series
    are keyed `symbol + separator + epoch`. Returns the rows sorted by (series, trade_date)
    with `series`, `is_target` and the window's columns (close adjusted)."""
    start, last = window["trade_date"].min(), targets[-1]
    wanted = set(targets)
    inside = (
        empty_actions()
        if actions is None or actions.empty or window.empty
        else actions[(actions["ex_date"] > start) & (actions["ex_date"] <= last)]
    )
    affected = set(inside["symbol"]) & set(window["symbol"])
    plain = window[~window["symbol"].isin(affected)]
    parts = [plain.assign(series=plain["symbol"], is_target=plain["trade_date"].isin(wanted))]
    if affected:
        factors = action_factors(inside, window[window["symbol"].isin(affected)])
        for symbol, bars in window[window["symbol"].isin(affected)].groupby("symbol"):
            parts.extend(_epoch_series(symbol, bars, factors[factors["symbol"] == symbol], targets))
    series = pd.concat(parts, ignore_index=True)
    return series.sort_values(["series", "trade_date"], kind="stable").reset_index(drop=True)


def _epoch_series(
    symbol: str, bars: pd.DataFrame, factors: pd.DataFrame, targets: list[dt.date]
) -> list[pd.DataFrame]:
    """One adjusted series per basis (epoch) that some of `targets` are on."""
    bounds = sorted(set(factors["ex_date"]))
    parts = []
    for epoch, (lo, hi) in enumerate(zip([None, *bounds], [*bounds, None], strict=True)):
        mine = [d for d in targets if (lo is None or d >= lo) and (hi is None or d < hi)]
        if not mine:
            continue
        history = bars[bars["trade_date"] <= mine[-1]]
        factor = bar_factors(history["trade_date"], factors, "price_factor", as_of=mine[-1])
        parts.append(
            history.assign(
                close=history["close"].to_numpy(dtype="float64") * factor,
                series=f"{symbol}{_SERIES_SEPARATOR}{epoch}",
                is_target=history["trade_date"].isin(set(mine)),
            )
        )
    return parts


def series_symbol(series: pd.Series) -> pd.Series:
    """The symbol of each point_in_time_series key."""
    return series.str.split(_SERIES_SEPARATOR, n=1).str[0]


def split_basis(frame: pd.DataFrame, actions: pd.DataFrame | None) -> np.ndarray:
    """Per row of `frame` (symbol, trade_date): the product of the ratios of the symbol's
    splits with ex-date on or before the row's day (1.0 without splits). Two rows' volumes
    are on the same basis when this is equal; volume x (basis_a / basis_b) moves row b's
    volume to row a's basis."""
    out = np.ones(len(frame))
    if actions is None or actions.empty or frame.empty:
        return out
    splits = actions[actions["action"] == SPLIT].sort_values("ex_date", kind="stable")
    symbols = frame["symbol"].to_numpy()
    days = frame["trade_date"].to_numpy()
    for symbol, ex_date, ratio in zip(
        splits["symbol"], splits["ex_date"], splits["ratio"], strict=True
    ):
        out[(symbols == symbol) & (days >= ex_date)] *= ratio
    return out
