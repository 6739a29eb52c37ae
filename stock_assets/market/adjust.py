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
from collections.abc import Iterator

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
    dividends = np.flatnonzero((frame["action"] == DIVIDEND).to_numpy())
    if len(dividends) and not prices.empty:
        bars = prices.sort_values(["symbol", "trade_date"], kind="stable")
        symbols, days = bars["symbol"].to_numpy(), bars["trade_date"].to_numpy()
        closes = bars["close"].to_numpy(dtype="float64")
        for i in dividends.tolist():
            lo = np.searchsorted(symbols, frame.at[i, "symbol"], side="left")
            hi = np.searchsorted(symbols, frame.at[i, "symbol"], side="right")
            last = lo + int(np.searchsorted(days[lo:hi], frame.at[i, "ex_date"])) - 1
            amount = float(frame.at[i, "amount"])
            if last >= lo and 0 < amount < closes[last]:
                price[i] = 1.0 - amount / closes[last]
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
    shares). Of open/high/low, those `prices` has (the indicators read close and volume)."""
    ohlc = [name for name in ("open", "high", "low", "close") if name in prices.columns]
    columns = ["symbol", "trade_date", *ohlc, "volume", "factor"]
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
        for name in ohlc:
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
    window = window.reset_index(drop=True)
    is_target = window["trade_date"].isin(set(targets)).to_numpy()
    inside = (
        empty_actions()
        if actions is None or actions.empty or window.empty
        else actions[
            (actions["ex_date"] > window["trade_date"].min()) & (actions["ex_date"] <= targets[-1])
        ]
    )
    affected = window["symbol"].isin(set(inside["symbol"])).to_numpy()
    plain = np.flatnonzero(~affected)
    rows, wanted = [plain], [is_target[plain]]
    closes, keys = [window["close"].to_numpy()[plain]], [window["symbol"].to_numpy()[plain]]
    if affected.any():
        factors = action_factors(inside, window[affected])
        days = window["trade_date"].to_numpy()
        close = window["close"].to_numpy(dtype="float64")
        by_symbol = window.groupby("symbol", sort=False).indices  # positions in window
        for symbol, mine in factors.groupby("symbol", sort=True):
            if symbol not in by_symbol:  # an action of a symbol without bars here
                continue
            ranks = list(zip(mine["ex_date"], mine["action"], strict=True))
            latest_first = sorted(range(len(ranks)), key=ranks.__getitem__, reverse=True)
            ex_dates = mine["ex_date"].to_numpy()[latest_first]
            price_factors = mine["price_factor"].to_numpy()[latest_first]
            for epoch, (series, target) in enumerate(
                _epochs(by_symbol[symbol], days, is_target, mine)
            ):
                if not target.any():
                    continue
                as_of = days[series][target][-1]
                factor = _factors(days[series], ex_dates, price_factors, as_of)
                rows.append(series)
                closes.append(close[series] * factor)
                keys.append(np.full(len(series), f"{symbol}{_SERIES_SEPARATOR}{epoch}", object))
                wanted.append(target)
    order = np.concatenate(rows)
    out = window.take(order).reset_index(drop=True)
    out["close"] = np.concatenate(closes)
    out["series"] = np.concatenate(keys)
    out["is_target"] = np.concatenate(wanted)
    return out.sort_values(["series", "trade_date"], kind="stable").reset_index(drop=True)


def _epochs(
    rows: np.ndarray,
    days: np.ndarray,
    is_target: np.ndarray,
    factors: pd.DataFrame,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per basis of one symbol (between its ex-dates): the window rows up to the epoch's
    last target, and which of them are the epoch's targets."""
    rows = rows[np.argsort(days[rows], kind="stable")]
    bounds = sorted(set(factors["ex_date"]))
    for lo, hi in zip([None, *bounds], [*bounds, None], strict=True):
        inside = is_target[rows].copy()
        if lo is not None:
            inside &= days[rows] >= lo
        if hi is not None:
            inside &= days[rows] < hi
        if not inside.any():
            yield rows[:0], inside[:0]
            continue
        upto = days[rows] <= days[rows][inside][-1]
        yield rows[upto], inside[upto]


def _factors(days: np.ndarray, ex_dates: np.ndarray, factors: np.ndarray, as_of) -> np.ndarray:
    """bar_factors in NumPy: `ex_dates` and `factors` ordered latest ex-date first."""
    out = np.ones(len(days))
    for ex_date, factor in zip(ex_dates.tolist(), factors.tolist(), strict=True):
        if ex_date <= as_of:
            out[days < ex_date] *= factor
    return out


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
