"""Intraday bars: quotes -> one-minute bars of the regular session, and daily figures from bars.

Everything is column-wise NumPy over quotes sorted by (symbol, ts): a session of 10,000
symbols is ~15 million quotes, so no Python object is made per quote or per bar.

Rules (the intraday contract):
- a bar holds the quotes with floor(ts to the minute) = bar_start inside the regular session
  of the exchange calendar (09:30-16:00 New York, 13:00 on early closes); quotes outside it
  make no bar;
- open/close are the first/last quote by ts, high/low the max/min price, `quotes` the count;
- quote `volume` is the session's cumulative volume: a bar's volume is the cumulative volume
  at its last quote minus that at the last quote before the bar in the same session (0
  before the first), never negative. A quote without volume carries the previous level, so
  a bar whose quotes all lack it has volume 0; a counter that falls (a feed reset) gives
  its bar 0 and later bars count from the new level;
- vwap weighs each quote's price by its own cumulative-volume increase (floored at 0); a
  bar without any increase gets the mean of its quote prices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_assets.market import calendar

_MINUTE_US = 60_000_000
BAR_COLUMNS = ["symbol", "trade_date", "bar_start", "open", "high", "low", "close"]


@dataclass(frozen=True)
class Sessions:
    """Regular sessions as arrays of UTC microseconds (naive), ascending."""

    days: list[dt.date]
    opens: np.ndarray  # int64 µs
    closes: np.ndarray  # int64 µs

    @classmethod
    def between(cls, start: dt.date, end: dt.date) -> Sessions:
        days = calendar.sessions_between(start, end)
        opens = [calendar.market_open_utc(d).tz_localize(None).to_datetime64() for d in days]
        closes = [calendar.market_close_utc(d).tz_localize(None).to_datetime64() for d in days]
        return cls(days, _microseconds(opens), _microseconds(closes))

    def locate(self, ts_us: np.ndarray) -> np.ndarray:
        """Each instant's session index, or -1 outside every regular session."""
        index = np.searchsorted(self.opens, ts_us, side="right") - 1
        inside = index >= 0
        inside[inside] = ts_us[inside] < self.closes[index[inside]]
        return np.where(inside, index, -1)


def _microseconds(instants: list[np.datetime64]) -> np.ndarray:
    return np.array(instants, dtype="datetime64[us]").view(np.int64)


def _sessions_of(ts_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sessions around the instants (dates, object array) and each instant's index
    into them, -1 outside every regular session (that index picks None from the dates)."""
    day_us = 86_400_000_000
    epoch = dt.date(1970, 1, 1)
    first = epoch + dt.timedelta(days=int(ts_us.min() // day_us) - 1)
    last = epoch + dt.timedelta(days=int(ts_us.max() // day_us) + 1)
    sessions = Sessions.between(first, last)
    session = sessions.locate(ts_us) if sessions.days else np.full(len(ts_us), -1)
    return np.array([*sessions.days, None], dtype=object), session


def session_minutes(day: dt.date) -> pd.DatetimeIndex:
    """The bar starts (naive UTC) of a session: 390 on a full day, 210 on an early close."""
    opens, closes = calendar.market_open_utc(day), calendar.market_close_utc(day)
    starts = pd.date_range(opens, closes, freq="1min", inclusive="left")
    return starts.tz_localize(None).as_unit("us")


def _utc_microseconds(ts: pd.Series) -> np.ndarray:
    values = ts.dt.tz_convert("UTC").dt.tz_localize(None) if ts.dt.tz is not None else ts
    return values.to_numpy(dtype="datetime64[us]").view(np.int64)


def _sorted_order(codes: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
    """Positions sorting by (symbol code, ts): one int64 key when it fits, else lexsort."""
    if not len(ts_us):
        return np.arange(0)
    low = int(ts_us.min())
    span = int(ts_us.max()) - low + 1
    if (int(codes.max()) + 1) * span < 2**62:
        return np.argsort(codes.astype(np.int64) * span + (ts_us - low), kind="stable")
    return np.lexsort((ts_us, codes))


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """Boolean mask of the first row of each run of equal keys (rows already sorted)."""
    first = np.zeros(len(keys[0]), dtype=bool)
    if len(first):
        first[0] = True
        for key in keys:
            first[1:] |= key[1:] != key[:-1]
    return first


def _forward_fill(values: np.ndarray, group_first: np.ndarray) -> np.ndarray:
    """NaNs replaced by the last value before them within their group (NaN if none)."""
    positions = np.arange(len(values))
    last_valid = np.maximum.accumulate(np.where(~np.isnan(values), positions, -1))
    group_start = np.maximum.accumulate(np.where(group_first, positions, 0))
    filled = values[np.maximum(last_valid, 0)]
    return np.where(last_valid >= group_start, filled, np.nan)


def bars_from_quotes(quotes: pd.DataFrame, source: str = "stream") -> pd.DataFrame:
    """One-minute bars of the regular session from quotes (symbol, ts, price, volume).

    `ts` is UTC (naive or aware); order and duplicates of rows do not matter beyond
    (symbol, ts) being unique. Returns the bar columns plus volume, vwap, quotes, source,
    sorted by (symbol, bar_start).
    """
    if quotes.empty:
        return empty_bars()
    ts_us = _utc_microseconds(quotes["ts"])
    days, session = _sessions_of(ts_us)
    inside = session >= 0
    # Gathers cost a copy of each column: only pay for one when quotes fall outside.
    keep = slice(None) if inside.all() else np.flatnonzero(inside)
    if not inside.any():
        return empty_bars()
    codes, symbols = pd.factorize(quotes["symbol"].to_numpy()[keep], sort=True)
    by_symbol_time = _sorted_order(codes, ts_us[keep])
    order = by_symbol_time if isinstance(keep, slice) else keep[by_symbol_time]
    columns = _aggregate(
        codes[by_symbol_time],
        quotes["price"].to_numpy(dtype=np.float64)[order],
        pd.to_numeric(quotes["volume"]).to_numpy(dtype=np.float64, na_value=np.nan)[order],
        ts_us[order],
        session[order],
    )
    columns["symbol"] = np.asarray(symbols, dtype=object)[columns.pop("code")]
    columns["trade_date"] = days[columns.pop("session")]
    columns["source"] = np.full(len(columns["symbol"]), source, dtype=object)
    names = [*BAR_COLUMNS, "volume", "vwap", "quotes", "source"]
    return pd.DataFrame({name: columns[name] for name in names}, copy=False)


def _aggregate(
    codes: np.ndarray,
    price: np.ndarray,
    volume: np.ndarray,
    ts_us: np.ndarray,
    session: np.ndarray,
) -> dict[str, np.ndarray | pd.api.extensions.ExtensionArray]:
    """Bar columns (with symbol code and session index) of quotes sorted by (symbol, ts)."""
    minute = ts_us // _MINUTE_US
    session_first = _group_starts(codes, session)
    starts = np.flatnonzero(session_first | _group_starts(minute))
    ends = np.append(starts[1:], len(price)) - 1

    level = _forward_fill(volume, session_first)  # the cumulative volume known at each quote
    before = np.concatenate([[np.nan], level[:-1]])
    before[session_first] = np.nan
    increase = np.clip(np.nan_to_num(level) - np.nan_to_num(before), 0, None)
    increase[np.isnan(level)] = 0.0
    del before

    at_end = level[ends]
    before_bar = np.concatenate([[np.nan], at_end[:-1]])
    before_bar[session_first[starts]] = np.nan
    bar_volume = np.clip(at_end - np.nan_to_num(before_bar), 0, None)
    bar_volume[np.isnan(at_end)] = 0.0

    count = np.diff(np.append(starts, len(price)))
    weight = np.add.reduceat(increase, starts)
    traded = weight > 0
    vwap = np.add.reduceat(price, starts) / count
    vwap[traded] = np.add.reduceat(price * increase, starts)[traded] / weight[traded]
    return {
        "code": codes[starts],
        "session": session[starts],
        "bar_start": (minute[starts] * _MINUTE_US).astype("datetime64[us]"),
        "open": price[starts],
        "high": np.maximum.reduceat(price, starts),
        "low": np.minimum.reduceat(price, starts),
        "close": price[ends],
        "volume": pd.array(bar_volume.astype(np.int64), dtype="Int64"),
        "vwap": vwap,
        "quotes": pd.array(count.astype(np.int32), dtype="Int32"),
    }


def empty_bars() -> pd.DataFrame:
    """No bars, in the columns and dtypes bars_from_quotes returns."""
    return pd.DataFrame(
        {
            "symbol": pd.Series(dtype=object),
            "trade_date": pd.Series(dtype=object),
            "bar_start": pd.Series(dtype="datetime64[us]"),
            **{c: pd.Series(dtype=np.float64) for c in ("open", "high", "low", "close")},
            "volume": pd.Series(dtype="Int64"),
            "vwap": pd.Series(dtype=np.float64),
            "quotes": pd.Series(dtype="Int32"),
            "source": pd.Series(dtype=object),
        }
    )


def _keys(symbols: np.ndarray, starts: np.ndarray, vocabulary: pd.Index) -> np.ndarray:
    """(symbol, bar_start) as one sortable int64: symbol rank, then the minute."""
    minutes = starts.astype("datetime64[us]").view(np.int64) // _MINUTE_US
    return vocabulary.get_indexer(symbols).astype(np.int64) * 2**40 + minutes


def bars_to_rewrite(history: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The bars a batch of new quotes changes, computed from the stored quotes.

    `history` holds every stored quote (new ones included) of the sessions the new quotes
    fall in, for their symbols. A new quote changes its own minute's bar and, through the
    cumulative volume it carries, the volume and vwap of the symbol's following bars up to
    the first one with a volume of its own: those are rewritten too, nothing else.
    """
    bars = bars_from_quotes(history)
    if bars.empty or new.empty:
        return bars.iloc[:0]
    vocabulary = pd.Index(pd.unique(bars["symbol"].to_numpy()))
    bar_keys = _keys(bars["symbol"].to_numpy(), bars["bar_start"].to_numpy(), vocabulary)
    minutes = history["ts"].dt.floor("min").to_numpy()
    with_volume = history["volume"].notna().to_numpy()
    counted = np.isin(
        bar_keys,
        _keys(history["symbol"].to_numpy()[with_volume], minutes[with_volume], vocabulary),
    )
    wanted = _keys(new["symbol"].to_numpy(), new["ts"].dt.floor("min").to_numpy(), vocabulary)
    touched = np.isin(bar_keys, wanted)  # quotes outside the session have no bar
    session_first = _group_starts(bars["symbol"].to_numpy(), bars["trade_date"].to_numpy())
    # The cumulative volume at the end of a bar changed if the bar was touched, or if it has
    # no volume of its own and the level it carries changed: find the bar it carries from.
    positions = np.arange(len(bars))
    anchors = np.maximum.accumulate(np.where(touched | counted | session_first, positions, 0))
    level_changed = touched[anchors]
    rewrite = touched.copy()
    rewrite[1:] |= level_changed[:-1] & ~session_first[1:]
    return bars.loc[rewrite].reset_index(drop=True)


def vendor_bars(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """A vendor's minute bars (symbol, bar_start UTC, OHLC, volume) as intraday bar rows.

    Bars outside the regular session (pre/post-market) are dropped. Vendors send no VWAP
    for a bar, so `vwap` is its typical price (high + low + close) / 3, and `quotes` is NULL.
    """
    if frame.empty:
        return empty_bars()
    starts = _utc_microseconds(pd.to_datetime(frame["bar_start"]))
    days, session = _sessions_of(starts)
    keep = session >= 0
    rows = frame.loc[keep]
    high, low, close = (rows[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close"))
    bars = pd.DataFrame(
        {
            "symbol": rows["symbol"].to_numpy(dtype=object),
            "trade_date": days[session[keep]],
            "bar_start": starts[keep].astype("datetime64[us]"),
            "open": rows["open"].to_numpy(dtype=np.float64),
            "high": high,
            "low": low,
            "close": close,
            "volume": pd.array(rows["volume"].to_numpy(dtype=np.int64), dtype="Int64"),
            "vwap": (high + low + close) / 3,
            "quotes": pd.array([pd.NA] * len(rows), dtype="Int32"),
            "source": source,
        }
    )
    bars = bars.drop_duplicates(["symbol", "bar_start"], keep="last")
    return bars.sort_values(["symbol", "bar_start"], kind="stable", ignore_index=True)


def split_invalid_bars(bars: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(good, rejected) vendor bars: a bar needs finite prices > 0, low <= open, close <=
    high and a volume >= 0; the rejected ones carry a `reason`."""
    prices = bars[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
    volume = bars["volume"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        good = (
            np.isfinite(prices).all(axis=1)
            & (prices > 0).all(axis=1)
            & (bars["low"] <= bars[["open", "close"]].min(axis=1)).to_numpy()
            & (bars["high"] >= bars[["open", "close"]].max(axis=1)).to_numpy()
            & (volume >= 0)
        )
    reason = "prices not finite and > 0, outside [low, high], or a negative volume"
    return bars[good], bars[~good].assign(reason=reason)


def resample_bars(bars: pd.DataFrame, minutes: int) -> pd.DataFrame:
    """N-minute bars from one-minute bars (buckets aligned to the clock: 09:30, 09:35, ...).

    The same rules as the view gold.intraday_bars_resampled, for sources asked for 5-minute
    bars; stored tables are resampled by the view, so the 1-minute table stays the only copy.
    """
    if bars.empty:
        return bars.iloc[:0]
    bucket = bars["bar_start"].dt.floor(f"{minutes}min")
    data = bars.assign(bar_start=bucket, pv=bars["vwap"] * bars["volume"].astype(float))
    grouped = data.sort_values(["symbol", "bar_start"], kind="stable").groupby(
        ["symbol", "trade_date", "bar_start"], sort=True
    )
    out = grouped.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        pv=("pv", "sum"),
        mean_vwap=("vwap", "mean"),
        bars=("open", "size"),
    ).reset_index()
    traded = out["volume"] > 0
    out["vwap"] = np.where(traded, out["pv"] / out["volume"].where(traded, 1), out["mean_vwap"])
    return out.drop(columns=["pv", "mean_vwap"])


KPI_COLUMNS = [
    "symbol",
    "trade_date",
    "open",
    "close",
    "prev_close",
    "avg_price",
    "vwap",
    "volume",
    "range_pct",
    "change_pct",
    "oc_change_pct",
    "realized_vol",
    "bars",
    "bars_expected",
    "completeness",
]


def daily_kpis(bars: pd.DataFrame, days: list[dt.date]) -> pd.DataFrame:
    """Daily figures per symbol and day in `days` from one-minute bars.

    `bars` may also hold earlier sessions: the previous session's last close is
    `prev_close`. Definitions: vwap = volume-weighted bar vwap (the bar average when no
    volume traded); avg_price = mean bar close; range_pct = 100 (high - low) / open;
    change_pct = 100 (close / prev_close - 1); oc_change_pct = 100 (close / open - 1);
    realized_vol = 100 sqrt(sum of squared log returns between consecutive bar closes)
    (the session's, not annualized); completeness = bars / bars_expected, where
    bars_expected is the session's minutes (210 on an early close).
    """
    if bars.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in KPI_COLUMNS})
    data = bars.sort_values(["symbol", "bar_start"], kind="stable", ignore_index=True)
    data["volume"] = data["volume"].astype(np.float64)
    data["pv"] = data["vwap"] * data["volume"]
    same = data["symbol"].eq(data["symbol"].shift()) & data["trade_date"].eq(
        data["trade_date"].shift()
    )
    data["r2"] = np.where(same, np.log(data["close"] / data["close"].shift()) ** 2, np.nan)
    daily = (
        data.groupby(["symbol", "trade_date"], sort=True)
        .agg(
            open=("open", "first"),
            close=("close", "last"),
            high=("high", "max"),
            low=("low", "min"),
            avg_price=("close", "mean"),
            mean_vwap=("vwap", "mean"),
            volume=("volume", "sum"),
            pv=("pv", "sum"),
            r2=("r2", "sum"),
            bars=("close", "size"),
        )
        .reset_index()
    )
    expected = {d: len(session_minutes(d)) for d in daily["trade_date"].unique()}
    ordinal = {d: calendar.session_ordinal(d) for d in expected}
    previous = daily[["symbol", "trade_date", "close"]].assign(
        position=daily["trade_date"].map(ordinal) + 1
    )
    daily["position"] = daily["trade_date"].map(ordinal)
    daily = daily.merge(
        previous.rename(columns={"close": "prev_close"}).drop(columns="trade_date"),
        on=["symbol", "position"],
        how="left",
    )
    traded = daily["volume"] > 0
    daily["vwap"] = np.where(
        traded, daily["pv"] / daily["volume"].where(traded, 1), daily["mean_vwap"]
    )
    daily["range_pct"] = 100 * (daily["high"] - daily["low"]) / daily["open"]
    daily["change_pct"] = 100 * (daily["close"] / daily["prev_close"] - 1)
    daily["oc_change_pct"] = 100 * (daily["close"] / daily["open"] - 1)
    daily["realized_vol"] = 100 * np.sqrt(daily["r2"])
    daily["bars_expected"] = daily["trade_date"].map(expected).astype(np.int64)
    daily["completeness"] = daily["bars"] / daily["bars_expected"]
    daily["volume"] = daily["volume"].astype(np.int64)
    wanted = daily["trade_date"].isin(set(days))
    return daily.loc[wanted, KPI_COLUMNS].reset_index(drop=True)
