"""Technical indicators on daily closes: TA-Lib's own functions, per symbol.

``compute_indicators`` turns ``silver.prices`` rows into one wide frame (one row per input
row) with SMA-5/20/50, EMA-12/26, MACD(12, 26, 9), Bollinger(20, 2, 2, SMA), RSI-14, a
20-day annualised volatility and the daily percentage change. Every indicator is computed
per symbol over that symbol's rows in trade-date order; a symbol boundary is never crossed
and a missing day (holiday, late listing, data gap) is simply not a bar.

The TA-Lib indicators are ``talib.SMA``, ``EMA``, ``MACD``, ``BBANDS`` and ``RSI`` with
their default settings (TA-Lib is the definition the platform promises). Two columns are
not TA-Lib functions; conventions chosen here:

* ``volatility_20``: sample standard deviation (ddof=1) of the last 20 daily log returns
  ln(close_t / close_t-1), annualised by sqrt(252); the first value is on bar 20
  (``talib.STDDEV`` of the returns, scaled from the population to the sample deviation).
* ``pct_change``: (close - previous close) x 100 / previous close; NULL on a symbol's first row.

History: SMA, Bollinger, volatility and pct_change only look ``LOOKBACK_BARS`` rows back,
but EMA, MACD and RSI are recursive: their value on a day depends on the seed bar at the
start of the symbol's series, and TA-Lib's running sums depend on where the series starts.
A symbol's values are a function of its own series only (each call gets one symbol's
closes), so they are bit-for-bit the same whatever other symbols or row order share the
frame; the series start is fixed by the anchored windows of ``indicators_for_days``
(market.lookback), so a day's values never depend on the shape of the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import talib

from stock_assets.market import adjust, lookback
from stock_assets.market.schemas import INDICATORS, conform

KEY_COLUMNS: Final = ("symbol", "trade_date")
PASSTHROUGH_COLUMNS: Final = ("close", "volume")
INDICATOR_COLUMNS: Final = (
    "sma_5",
    "sma_20",
    "sma_50",
    "ema_12",
    "ema_26",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "rsi_14",
    "volatility_20",
    "pct_change",
)
OUTPUT_COLUMNS: Final = (*KEY_COLUMNS, *PASSTHROUGH_COLUMNS, *INDICATOR_COLUMNS)

# Leading rows per symbol that are NULL: the number of earlier bars a value needs. These
# equal TA-Lib's lookbacks (talib.<FUNC>_Lookback) for the TA-Lib indicators.
LOOKBACK_BARS: Final[dict[str, int]] = {
    "sma_5": 4,
    "sma_20": 19,
    "sma_50": 49,
    "ema_12": 11,
    "ema_26": 25,
    "macd": 33,
    "macd_signal": 33,
    "macd_hist": 33,
    "bb_upper": 19,
    "bb_middle": 19,
    "bb_lower": 19,
    "rsi_14": 14,
    "volatility_20": 20,
    "pct_change": 1,
}
# Earlier trading days a row needs before every indicator can be non-NULL.
HISTORY_BARS_NEEDED: Final = max(LOOKBACK_BARS.values())
# Columns whose value depends on the whole history (recursive smoothing): exact equality
# with a full-history computation needs every earlier row of the symbol, not just
# HISTORY_BARS_NEEDED of them.
RECURSIVE_COLUMNS: Final = ("ema_12", "ema_26", "macd", "macd_signal", "macd_hist", "rsi_14")

TRADING_DAYS_PER_YEAR: Final = 252


def compute_indicators(prices: pd.DataFrame) -> pd.DataFrame:
    """Compute every indicator for every (symbol, trade_date) row of ``prices``.

    ``prices`` needs ``symbol``, ``trade_date`` (datetime.date), ``close`` (non-null) and
    ``volume``; other columns are ignored. Each symbol's rows must be its full history up to
    the last day wanted (see module docstring). Returns ``OUTPUT_COLUMNS``, one row per
    input row, sorted by symbol then trade_date, with NaN in each symbol's warm-up rows.
    Raises ValueError on duplicate (symbol, trade_date) rows or missing closes, because both
    would silently corrupt every later value of the recursive indicators.
    """
    missing = [c for c in (*KEY_COLUMNS, *PASSTHROUGH_COLUMNS) if c not in prices.columns]
    if missing:
        raise ValueError(f"compute_indicators: prices lacks columns {missing}")
    if prices.empty:
        return _empty_output(prices)

    close = prices["close"].to_numpy(dtype=np.float64, na_value=np.nan)
    # NULL, zero or negative closes would poison every later EMA/RSI value of the symbol.
    if not ((close > 0).all() and np.isfinite(close).all()):
        raise ValueError("compute_indicators: close must be positive and finite (no NULLs)")

    codes, n_symbols = _symbol_codes(prices["symbol"])
    days = trade_day_numbers(prices["trade_date"])
    order = _sort_order(codes, days)
    if order is not None:
        codes, days, close = codes[order], days[order], close[order]
    if len(days) > 1:
        same = (codes[1:] == codes[:-1]) & (days[1:] == days[:-1])
        if same.any():
            raise ValueError("compute_indicators: duplicate (symbol, trade_date) rows")

    counts = np.bincount(codes, minlength=n_symbols)
    values = np.empty((len(INDICATOR_COLUMNS), len(close)))
    lo = 0
    for n in counts.tolist():  # each symbol's rows are contiguous after the sort
        _symbol_indicators(np.ascontiguousarray(close[lo : lo + n]), values[:, lo : lo + n])
        lo += n

    out = pd.DataFrame(values.T, columns=list(INDICATOR_COLUMNS), copy=False)
    symbol = prices["symbol"].to_numpy()
    trade_date = prices["trade_date"].to_numpy()
    volume = prices["volume"].array
    if order is not None:
        symbol, trade_date, volume = symbol.take(order), trade_date.take(order), volume.take(order)
    out.insert(0, "volume", pd.array(volume, dtype="Int64"))
    out.insert(0, "close", close)
    out.insert(0, "trade_date", trade_date)
    out.insert(0, "symbol", symbol)
    return out


def compute_indicators_for(
    prices_history: pd.DataFrame, target_dates: Iterable[dt.date]
) -> pd.DataFrame:
    """Indicators for ``target_dates`` only, computed on the full ``prices_history``.

    Use it for partitioned runs: pass every symbol's history up to the last target day
    (earlier partitions included) so the recursive indicators equal a full recomputation.
    """
    wanted = sorted(set(target_dates))
    if not wanted or prices_history.empty:
        return compute_indicators(prices_history.iloc[:0])
    target_days = trade_day_numbers(pd.Series(wanted, dtype=object))
    # Rows after the last target day cannot influence the targets: skip their cost.
    history_days = trade_day_numbers(prices_history["trade_date"])
    history = prices_history.loc[history_days <= target_days.max()]
    out = compute_indicators(history)
    keep = np.isin(trade_day_numbers(out["trade_date"]), target_days)
    return out.loc[keep].reset_index(drop=True)


# Rows of history computed at once: the wide result of a whole window (16 columns per row
# of up to 749 + N sessions) would otherwise outgrow the run's own tables.
SHARD_ROWS: Final = 250_000


def indicators_for_days(
    prices: pd.DataFrame,
    days: list[dt.date],
    actions: pd.DataFrame | None = None,
    shard_rows: int = SHARD_ROWS,
) -> pd.DataFrame:
    """Indicator rows for `days`, each computed from its anchored history window
    (market.lookback) adjusted to the day's own share basis with `actions` (market.adjust),
    so a day's values never depend on the shape of the run or on later actions.

    Symbols are computed a shard at a time (about `shard_rows` history rows each), keeping
    only the target days: a symbol's values depend on its own series alone, so the rows and
    their order are those of one computation over the whole window."""
    parts = []
    symbols = np.sort(prices["symbol"].unique()) if len(prices) else np.array([])
    for start, targets in lookback.windows_for(days).items():
        window = prices[(prices.trade_date >= start) & (prices.trade_date <= targets[-1])]
        per_shard = max(1, shard_rows * len(symbols) // max(len(window), 1))
        codes = pd.Categorical(window["symbol"], categories=symbols).codes
        for first in range(0, len(symbols), per_shard):
            shard = window[(codes >= first) & (codes < first + per_shard)]
            series = adjust.point_in_time_series(shard, targets, actions)
            # Sorted by (series, trade_date): compute_indicators keeps that row order.
            computed = compute_indicators(
                series.drop(columns="symbol").rename(columns={"series": "symbol"})
            )
            computed = computed[series["is_target"].to_numpy()]
            parts.append(computed.assign(symbol=adjust.series_symbol(computed["symbol"])))
    return conform(pd.concat(parts) if parts else INDICATORS.empty_frame(), INDICATORS)


def _empty_output(prices: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="float64") for c in OUTPUT_COLUMNS})
    out["symbol"] = pd.Series(dtype=prices["symbol"].dtype)
    out["trade_date"] = pd.Series(dtype=prices["trade_date"].dtype)
    out["volume"] = pd.Series(dtype="Int64")
    return out


def _symbol_codes(symbol: pd.Series) -> tuple[np.ndarray, int]:
    """Dense codes in sorted symbol order (so the output is ordered by symbol)."""
    codes, uniques = pd.factorize(symbol, sort=True)
    if len(codes) and codes.min() < 0:
        raise ValueError("symbol has NULL values")
    return codes.astype(np.int64, copy=False), len(uniques)


def trade_day_numbers(trade_date: pd.Series) -> np.ndarray:
    """Trade dates (date objects or datetime64) as int64 days since 1970-01-01.

    Integers make sorting and matching dates cheap; pyarrow converts date objects about
    twice as fast as pandas. Raises ValueError on NULL dates.
    """
    if not pd.api.types.is_datetime64_any_dtype(trade_date.dtype):
        try:
            days = pa.array(trade_date.to_numpy(), type=pa.date32(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            trade_date = pd.to_datetime(trade_date)  # strings, Timestamps, ...
        else:
            if days.null_count:
                raise ValueError("trade_date has NULL values")
            return days.to_numpy(zero_copy_only=False).astype(np.int64)
    stamps = pd.DatetimeIndex(trade_date).tz_localize(None)
    if stamps.hasnans:
        raise ValueError("trade_date has NULL values")
    return stamps.to_numpy().astype("datetime64[D]").view(np.int64)


def symbol_date_order(frame: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray]:
    """(row order by symbol then trade_date or None if already so, symbol codes in it).

    Symbol codes are ranks in sorted symbol order, aligned with the ordered rows; this is
    the cheap way (no object sort) to walk a frame per symbol in date order.
    """
    codes, _ = _symbol_codes(frame["symbol"])
    order = _sort_order(codes, trade_day_numbers(frame["trade_date"])) if len(codes) else None
    return order, (codes if order is None else codes[order])


def _sort_order(codes: np.ndarray, days: np.ndarray) -> np.ndarray | None:
    """Row order by (symbol, trade_date); None when the input is already in that order."""
    key = codes * (int(days.max() - days.min()) + 1) + (days - days.min())
    if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):
        return None
    return np.argsort(key, kind="stable")


def _symbol_indicators(close: np.ndarray, out: np.ndarray) -> None:
    """Every indicator of one symbol's closes (date order) into ``out`` (columns x bars)."""
    col = dict(zip(INDICATOR_COLUMNS, out, strict=True))
    for n in (5, 20, 50):
        col[f"sma_{n}"][:] = talib.SMA(close, n)
    for n in (12, 26):
        col[f"ema_{n}"][:] = talib.EMA(close, n)
    col["macd"][:], col["macd_signal"][:], col["macd_hist"][:] = talib.MACD(close, 12, 26, 9)
    bands = talib.BBANDS(close, 20, 2.0, 2.0, talib.MA_Type.SMA)
    col["bb_upper"][:], col["bb_middle"][:], col["bb_lower"][:] = bands
    col["rsi_14"][:] = talib.RSI(close, 14)
    for name in ("pct_change", "volatility_20"):
        col[name][: LOOKBACK_BARS[name]] = np.nan
    ratio = close[1:] / close[:-1]
    # The difference first: exact for round moves (100 -> 105 is 5.0, where the ratio's
    # 1.05 - 1 is not), so a move exactly at a signal threshold is judged as such.
    col["pct_change"][1:] = (close[1:] - close[:-1]) * 100.0 / close[:-1]
    window = LOOKBACK_BARS["volatility_20"]
    if len(ratio) >= window:
        # TA-Lib's STDDEV is the population one: sqrt(n / (n - 1)) makes it the sample's.
        spread = talib.STDDEV(np.log(ratio), window, 1.0)[window - 1 :]
        col["volatility_20"][window:] = spread * np.sqrt(
            TRADING_DAYS_PER_YEAR * window / (window - 1)
        )
