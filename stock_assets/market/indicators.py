"""Technical indicators on daily closes, computed exactly as TA-Lib defines them.

``compute_indicators`` turns ``silver.prices`` rows into one wide frame (one row per input
row) with SMA-5/20/50, EMA-12/26, MACD(12, 26, 9), Bollinger(20, 2, 2, SMA), RSI-14, a
20-day annualised volatility and the daily percentage change. Every indicator is computed
per symbol over that symbol's rows in trade-date order; a symbol boundary is never crossed
and a missing day (holiday, late listing, data gap) is simply not a bar.

Definitions (TA-Lib's C sources, default settings: no unstable period, default
compatibility). Values agree with ``talib`` to ~1e-12 relative (MACD values that are
themselves near zero: ~1e-13 of the price in absolute terms), with identical NULL masks:

* ``sma_n``: mean of the last n closes; first value on bar n-1.
* ``ema_n``: seeded on bar n-1 with the SMA of the first n closes, then
  ``ema = (close - ema) * k + ema`` with ``k = 2 / (n + 1)``.
* ``macd``: TA-Lib's MACD is *not* ``ema_12 - ema_26``. Its fast and slow EMAs are both
  seeded on bar 25 (fast seed = SMA of closes 14..25, slow seed = SMA of closes 0..25), the
  signal EMA-9 is seeded on bar 33 with the mean of the MACD line over bars 25..33, and all
  three outputs (macd, macd_signal, macd_hist = macd - signal) start on bar 33.
* ``bb_*``: middle = SMA-20, bands = middle +/- 2 x *population* standard deviation of
  the same 20 closes. A variance within rounding noise of zero (below 1e-14 x the mean
  square it is computed from) is zero, so a flat price has bands equal to the price.
* ``rsi_14``: Wilder's smoothing. The first value (bar 14) uses the plain averages of the
  first 14 gains and losses; then ``avg = (avg * 13 + x) / 14``. RSI = 100 x gain /
  (gain + loss), and 0 when gain + loss is 0: a price that has not moved in the whole
  series has RSI 0 (not 50), which is what ``talib.RSI`` returns. The zero test is exact,
  as in the TA-Lib 0.8 C library the tests use; older C releases (0.4/0.6) used a fixed
  1e-8 / 1e-14 band, which differs only for a price left unchanged for ~400+ bars after
  its last move (the decayed averages then fall inside that band).
* ``volatility_20`` (not a TA-Lib function; convention chosen here): sample standard
  deviation (ddof=1) of the last 20 daily log returns ln(close_t / close_t-1), annualised by
  sqrt(252). The first row has no return, so the first value is on bar 20.
* ``pct_change``: 100 x (close / previous close - 1); NULL on a symbol's first row.

History: SMA, Bollinger, volatility and pct_change only look ``LOOKBACK_BARS`` rows back,
but EMA, MACD and RSI are recursive: their value on a day depends on the seed bar at the
start of the symbol's series. ``compute_indicators`` therefore must be given each symbol's
*full* history up to the days wanted; computing from a shorter window re-seeds the
recursions and gives different numbers. ``compute_indicators_for`` does that slicing.

Speed (benchmarks/bench_indicators.py: about TA-Lib's own per-symbol loop): the series
are laid out left-aligned in (symbols x bars) grids, a chunk of symbols at a time sized
for the CPU caches, so each indicator is a few whole-array numpy operations.
Rolling sums use binary doubling, not a running cumulative sum, so there is no drift: a
window sum is a tree of at most log2(window) + popcount(window) additions. The linear
recursions (EMA, Wilder smoothing) are solved by a doubling scan as well; there is no
Python loop over rows. Every step is elementwise (no BLAS, no reductions across rows), so
a symbol's numbers are bit-for-bit the same whatever other symbols or history lengths
share the frame: backfills and daily runs write identical values. Symbols of unequal
history lengths are grouped by length so a short history never pays for a long one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from stock_assets.market import lookback
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
# Relative rounding-noise floor: a variance below this fraction of the mean square it was
# computed from is zero (TA-Lib's scale-aware epsilon, TA_EPSILON).
_REL_ZERO: Final = 1e-14
# decay**shift below this cannot change a double: the recursion stops doubling there.
_NEGLIGIBLE: Final = 2.0**-60
# Symbols per pass: keeps the working set of a pass (~20 arrays) inside the CPU caches.
_CHUNK_ROWS: Final = 64


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
    starts = np.zeros(n_symbols, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    values = np.empty((len(INDICATOR_COLUMNS), len(close)))
    length = int(counts[0])
    if length > HISTORY_BARS_NEEDED and (counts == length).all():
        # Every symbol has the same number of bars: the sorted column already is the grid.
        grid = close.reshape(n_symbols, length)
        cube = values.reshape(len(INDICATOR_COLUMNS), n_symbols, length)
        for lo in range(0, n_symbols, _CHUNK_ROWS):
            rows = slice(lo, lo + _CHUNK_ROWS)
            _indicator_grid(grid[rows], cube[:, rows])
    else:
        # Chunks of symbols with similar history lengths, each in a grid as wide as its
        # longest member, so short histories do not pay for long ones.
        by_length = np.argsort(-counts, kind="stable")
        for lo in range(0, n_symbols, _CHUNK_ROWS):
            _ragged_chunk(close, starts, counts, by_length[lo : lo + _CHUNK_ROWS], values)

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


def indicators_for_days(prices: pd.DataFrame, days: list[dt.date]) -> pd.DataFrame:
    """Indicator rows for `days`, each computed from its anchored history window
    (market.lookback), so a day's values never depend on the shape of the run."""
    parts = []
    for start, targets in lookback.windows_for(days).items():
        window = prices[(prices.trade_date >= start) & (prices.trade_date <= targets[-1])]
        computed = compute_indicators(window)
        parts.append(computed[computed.trade_date.isin(set(targets))])
    return conform(pd.concat(parts) if parts else INDICATORS.empty_frame(), INDICATORS)


def _ragged_chunk(
    close: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    symbols: np.ndarray,
    values: np.ndarray,
) -> None:
    """Indicators for some symbols of unequal lengths; writes their rows of ``values``.

    Each symbol's rows are left-aligned in a grid as wide as the longest of them (at least
    wide enough for every seed bar) and padded with its last close. Padding is harmless:
    every computation is causal and padded cells are never read back. Rows move with one
    slice copy per symbol (fancy indexing over all cells costs more than the maths).
    """
    spans = [(int(starts[s]), int(counts[s])) for s in symbols]
    width = max(max(n for _, n in spans), HISTORY_BARS_NEEDED + 1)
    grid = np.empty((len(spans), width))
    for i, (lo, n) in enumerate(spans):
        grid[i, :n] = close[lo : lo + n]
        grid[i, n:] = close[lo + n - 1]
    cube = np.empty((len(INDICATOR_COLUMNS), len(spans), width))
    _indicator_grid(grid, cube)
    for i, (lo, n) in enumerate(spans):
        values[:, lo : lo + n] = cube[:, i, :n]


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


def _indicator_grid(close: np.ndarray, out: np.ndarray) -> None:
    """Write every indicator of a (symbols x bars) grid of closes into ``out``.

    Each grid row is one symbol's closes in date order, left-aligned; ``out`` has shape
    (len(INDICATOR_COLUMNS), symbols, bars) and receives NaN in the warm-up bars. The grid
    must be wider than HISTORY_BARS_NEEDED. Buffers are reused (``out=``) because at this
    size the cost is memory traffic, not arithmetic.
    """
    rows, width = close.shape
    col = dict(zip(INDICATOR_COLUMNS, out, strict=True))
    scratch = np.empty_like(close)

    # SMAs and Bollinger bands on closes centred on each symbol's first close, so that the
    # sum-of-squares variance does not cancel catastrophically for high-priced symbols
    # (and a price that returns to a level gives that level's SMA exactly).
    centre = close[:, :1].copy()
    dev = close - centre
    mean_dev = np.empty_like(close)
    _rolling_sums(dev, {5: col["sma_5"], 20: mean_dev, 50: col["sma_50"]})
    for n in (5, 50):
        np.divide(col[f"sma_{n}"], n, out=col[f"sma_{n}"])
        col[f"sma_{n}"] += centre
    mean_dev /= 20
    np.add(mean_dev, centre, out=col["sma_20"])
    np.multiply(dev, dev, out=dev)
    variance = scratch
    _rolling_sums(dev, {20: variance})
    variance /= 20
    noise_floor = variance * _REL_ZERO
    mean_dev *= mean_dev
    variance -= mean_dev
    variance[variance <= noise_floor] = 0.0  # no movement (or only rounding): zero width
    band = np.sqrt(variance, out=variance)
    band *= 2.0
    np.copyto(col["bb_middle"], col["sma_20"])
    np.add(col["sma_20"], band, out=col["bb_upper"])
    np.subtract(col["sma_20"], band, out=col["bb_lower"])

    # EMAs seeded on bar n-1 with the SMA of the first n closes.
    for n in (12, 26):
        k = 2.0 / (n + 1)
        drive = np.multiply(close, k, out=scratch)
        drive[:, : n - 1] = 0.0
        drive[:, n - 1] = _seq_sum(close[:, :n]) / n
        _linear_recursion(drive, 1.0 - k, out=col[f"ema_{n}"])

    # MACD. Its slow EMA is ema_26 (same seed bar, same seed). Its fast EMA is re-seeded on
    # bar 25; by linearity that is ema_12 plus the seed difference decaying by (1 - k) per
    # bar, added only while the decay is above double precision.
    seed_bar, fast_n, fast_k = 25, 12, 2.0 / 13
    line = col["macd"]
    line[:, :seed_bar] = 0.0
    np.subtract(col["ema_12"][:, seed_bar:], col["ema_26"][:, seed_bar:], out=line[:, seed_bar:])
    fast_seed = _seq_sum(close[:, seed_bar - fast_n + 1 : seed_bar + 1]) / fast_n
    span = min(width - seed_bar, _DECAY_SPAN[fast_n])
    decay = (1.0 - fast_k) ** np.arange(span)
    line[:, seed_bar : seed_bar + span] += np.multiply.outer(
        fast_seed - col["ema_12"][:, seed_bar], decay
    )
    signal_bar, signal_n = seed_bar + 8, 9
    signal_k = 2.0 / (signal_n + 1)
    drive = np.multiply(line, signal_k, out=scratch)
    drive[:, :signal_bar] = 0.0
    drive[:, signal_bar] = _seq_sum(line[:, seed_bar : signal_bar + 1]) / signal_n
    _linear_recursion(drive, 1.0 - signal_k, out=col["macd_signal"])
    np.subtract(line, col["macd_signal"], out=col["macd_hist"])

    # RSI-14: Wilder-smoothed average gain and loss, seeded with plain 14-bar averages.
    n = 14
    drive = np.empty((2, rows, width))
    move = scratch
    move[:, 0] = 0.0
    np.subtract(close[:, 1:], close[:, :-1], out=move[:, 1:])
    np.maximum(move, 0.0, out=drive[0])
    np.negative(move, out=move)
    np.maximum(move, 0.0, out=drive[1])
    seeds = _seq_sum(drive[:, :, 1 : n + 1]) / n
    drive /= n
    drive[:, :, :n] = 0.0
    drive[:, :, n] = seeds
    smooth = _linear_recursion(drive.reshape(2 * rows, width), (n - 1) / n)
    gain, loss = smooth[:rows], smooth[rows:]
    total = np.add(gain, loss, out=scratch)
    flat = total == 0.0  # no movement at all: RSI 0, as TA-Lib
    total[flat] = 1.0
    rsi = np.divide(gain, total, out=col["rsi_14"])
    rsi *= 100.0
    rsi[flat] = 0.0

    # Daily change, and annualised sample volatility (ddof=1) of 20 daily log returns.
    ratio = scratch
    ratio[:, 0] = 1.0
    np.divide(close[:, 1:], close[:, :-1], out=ratio[:, 1:])
    np.subtract(ratio, 1.0, out=col["pct_change"])
    col["pct_change"] *= 100.0
    log_ret = np.log(ratio, out=ratio)
    log_ret -= log_ret[:, 1:2].copy()  # centre on the first return, for the same reason
    w = 20
    ret_sum, ret_sq_sum = drive[0], drive[1]
    _rolling_sums(log_ret, {w: ret_sum})
    np.multiply(log_ret, log_ret, out=log_ret)
    _rolling_sums(log_ret, {w: ret_sq_sum})
    ret_sum *= ret_sum
    ret_sum /= w
    ret_sq_sum -= ret_sum
    ret_sq_sum *= TRADING_DAYS_PER_YEAR / (w - 1)
    np.maximum(ret_sq_sum, 0.0, out=ret_sq_sum)
    np.sqrt(ret_sq_sum, out=col["volatility_20"])

    for values, name in zip(out, INDICATOR_COLUMNS, strict=True):
        values[:, : LOOKBACK_BARS[name]] = np.nan


def _rolling_sums(values: np.ndarray, targets: dict[int, np.ndarray]) -> None:
    """Write trailing window sums of ``values`` (along axis 1) into ``targets[window]``.

    Binary doubling: level p holds the sums of 2**p consecutive values, and a window of n
    adds the levels of n's set bits, each shifted past the previous ones. Every sum is a
    tree of at most log2(n) + popcount(n) additions, so there is no running-sum drift.
    The first n-1 entries of each row are partial sums (warm-up, masked by the caller).
    """
    levels = [values]

    def level(p: int) -> np.ndarray:
        while len(levels) <= p:
            prev, span = levels[-1], 1 << (len(levels) - 1)
            nxt = np.empty_like(prev)
            nxt[:, :span] = prev[:, :span]
            np.add(prev[:, span:], prev[:, :-span], out=nxt[:, span:])
            levels.append(nxt)
        return levels[p]

    for n, target in targets.items():
        bits = [p for p in reversed(range(n.bit_length())) if n >> p & 1]
        first = level(bits[0])
        if len(bits) == 1:
            np.copyto(target, first)
            continue
        offset = 1 << bits[0]
        target[:, :offset] = first[:, :offset]
        np.add(first[:, offset:], level(bits[1])[:, :-offset], out=target[:, offset:])
        offset += 1 << bits[1]
        for p in bits[2:]:
            np.add(target[:, offset:], level(p)[:, :-offset], out=target[:, offset:])
            offset += 1 << p


def _linear_recursion(drive: np.ndarray, decay: float, out: np.ndarray | None = None) -> np.ndarray:
    """Solve y[t] = decay * y[t-1] + drive[t] along axis 1, with y[-1] = 0.

    EMA and Wilder smoothing are this recursion once the seed is written into ``drive`` at
    the seed bar (zeros before it). Solved by doubling (Kogge-Stone): after the pass with
    shift s, y[t] holds the sum of decay**(t-j) * drive[j] over the last 2s bars. Passes
    stop once decay**s < 2**-60: older terms weigh less than a double's last digit (for
    EMA-12 that is after 256 bars, for Wilder-14 after 1024).
    Every step is elementwise, so a row's result depends on that row alone, bit for bit:
    the same symbol gives the same numbers whatever else is in the frame.
    """
    if out is None:
        out = np.empty_like(drive)
    np.copyto(out, drive)
    width = out.shape[1]
    scaled = np.empty_like(out)
    shift = 1
    while shift < width and decay**shift > _NEGLIGIBLE:
        np.multiply(out[:, :-shift], decay**shift, out=scaled[:, :-shift])
        out[:, shift:] += scaled[:, :-shift]
        shift *= 2
    return out


def _seq_sum(values: np.ndarray) -> np.ndarray:
    """Sum along the last axis left to right, TA-Lib's order (and shape-independent)."""
    total = values[..., 0].copy()
    for i in range(1, values.shape[-1]):
        total += values[..., i]
    return total


def _decay_span(k: float, floor: float = 1e-18) -> int:
    """Bars after which (1 - k)**t is below ``floor`` (negligible in double precision)."""
    return int(np.ceil(np.log(floor) / np.log1p(-k))) + 1


_DECAY_SPAN: Final = {12: _decay_span(2.0 / 13)}
