"""Trading signals derived from the indicator table (feeds ``gold.signals`` and alerts).

One row per (symbol, trade_date, signal) that fired:

* ``BUY`` / ``SELL``: SMA-5 crosses above / below SMA-20. Fires on the crossing day only:
  yesterday SMA-5 <= SMA-20 and today SMA-5 > SMA-20 (mirror for SELL), all four values
  non-null and both rows of the same symbol (consecutive rows of its series). ``value`` is
  the close. Equality is judged with a relative tolerance of 1e-9 so a flat price, where
  both averages equal the price up to rounding, never "crosses" on float noise.
* ``ANOMALY``: |pct_change| > ``anomaly_pct`` (strict). ``value`` is pct_change.
* ``VOLUME_SPIKE``: volume > ``volume_spike_ratio`` x the mean volume of the *previous*
  ``volume_window`` rows of the symbol (today excluded, so a spike does not dilute its own
  baseline). Needs ``volume_window`` earlier rows with non-null volume and a positive mean;
  otherwise nothing fires. ``value`` is volume / that mean.
* ``BB_BREAKOUT``: close above the upper or below the lower Bollinger band (beyond the same
  1e-9 relative tolerance). ``value`` is the signed distance beyond the band in percent of
  the band: positive above the upper band, negative below the lower band; ``reason`` names
  the side too.

Partitioned runs: a row's signals need the symbol's previous row (crossovers) and its
previous ``volume_window`` rows (volume), so pass ``SignalThresholds.history_bars`` earlier
rows per symbol, or use ``detect_signals_for``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from stock_assets.market import adjust
from stock_assets.market.indicators import symbol_date_order, trade_day_numbers

SIGNAL_COLUMNS: Final = ("symbol", "trade_date", "signal", "value", "reason")
BUY: Final = "BUY"
SELL: Final = "SELL"
ANOMALY: Final = "ANOMALY"
VOLUME_SPIKE: Final = "VOLUME_SPIKE"
BB_BREAKOUT: Final = "BB_BREAKOUT"
# Alphabetical, which is also the order of a row's signals in the output.
SIGNAL_TYPES: Final = (ANOMALY, BB_BREAKOUT, BUY, SELL, VOLUME_SPIKE)

REQUIRED_COLUMNS: Final = (
    "symbol",
    "trade_date",
    "close",
    "volume",
    "sma_5",
    "sma_20",
    "bb_upper",
    "bb_lower",
    "pct_change",
)
# Two values closer than this (relative) are equal: guards crossings and breakouts against
# rounding noise in the averages.
_REL_TOL: Final = 1e-9


@dataclass(frozen=True)
class SignalThresholds:
    """Tunable thresholds (defaults: >5% moves, 2x the 20-day average volume)."""

    anomaly_pct: float = 5.0
    volume_spike_ratio: float = 2.0
    volume_window: int = 20

    def __post_init__(self) -> None:
        if not self.anomaly_pct >= 0:
            raise ValueError(f"anomaly_pct must be >= 0, got {self.anomaly_pct}")
        if not self.volume_spike_ratio > 0:
            raise ValueError(f"volume_spike_ratio must be > 0, got {self.volume_spike_ratio}")
        if int(self.volume_window) != self.volume_window or self.volume_window < 1:
            raise ValueError(f"volume_window must be a positive integer, got {self.volume_window}")

    @property
    def history_bars(self) -> int:
        """Earlier rows per symbol a day's signals depend on."""
        return max(1, int(self.volume_window))


DEFAULT_THRESHOLDS: Final = SignalThresholds()


def detect_signals(
    indicators: pd.DataFrame,
    thresholds: SignalThresholds = DEFAULT_THRESHOLDS,
    actions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """All signals in ``indicators`` (the compute_indicators frame), ordered by
    (symbol, trade_date, signal). Rows may come in any order; each symbol's rows are read
    in trade_date order. With ``actions`` (silver.corporate_actions), the volume baseline
    of a day is on that day's share basis (earlier volumes times the splits since)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in indicators.columns]
    if missing:
        raise ValueError(f"detect_signals: indicators lacks columns {missing}")
    if indicators.empty:
        return _empty(indicators)

    order, codes = symbol_date_order(indicators)

    def column(name: str) -> np.ndarray:
        values = indicators[name].to_numpy(dtype="float64", na_value=np.nan)
        return values if order is None else values[order]

    n = len(codes)
    rows = np.arange(n)
    starts = np.r_[True, codes[1:] != codes[:-1]]
    position = rows - np.maximum.accumulate(np.where(starts, rows, 0))  # row within symbol
    close, pct = column("close"), column("pct_change")
    found: list[tuple[str, np.ndarray, np.ndarray, list[str]]] = []

    # SMA-5 / SMA-20 crossovers.
    fast, slow = column("sma_5"), column("sma_20")
    tol = _REL_TOL * np.abs(slow)
    above = fast - slow > tol  # NaN compares False
    below = slow - fast > tol
    known = ~(np.isnan(fast) | np.isnan(slow))
    prev_known = _shift(known, False) & (position > 0)
    crossed_up = known & prev_known & above & ~_shift(above, False)
    crossed_down = known & prev_known & below & ~_shift(below, False)
    for mask, name, word in ((crossed_up, BUY, "above"), (crossed_down, SELL, "below")):
        idx = np.flatnonzero(mask)
        reasons = [f"SMA-5 ({fast[i]:.2f}) crossed {word} SMA-20 ({slow[i]:.2f})" for i in idx]
        found.append((name, idx, close[idx], reasons))

    # One-day moves beyond the anomaly threshold.
    idx = np.flatnonzero(np.abs(np.nan_to_num(pct)) > thresholds.anomaly_pct)
    prev_close = close[idx] / (1.0 + pct[idx] / 100.0)
    reasons = [
        f"Close moved {pct[i]:+.2f}% in one day ({prev:.2f} -> {close[i]:.2f}), "
        f"beyond the {thresholds.anomaly_pct:g}% anomaly threshold"
        for i, prev in zip(idx, prev_close, strict=True)
    ]
    found.append((ANOMALY, idx, pct[idx], reasons))

    # Volume against the mean of the previous `window` rows of the same symbol.
    window = int(thresholds.volume_window)
    volume = column("volume")
    null = np.isnan(volume)
    # Integer running sums: exact, so a window sum is exact however long the history.
    vol_sum = np.r_[0, np.cumsum(np.where(null, 0, volume).astype(np.int64))]
    null_sum = np.r_[0, np.cumsum(null)]
    has_window = position >= window
    lo = np.where(has_window, rows - window, 0)
    prev_total = (vol_sum[rows] - vol_sum[lo]).astype(np.float64)
    full_window = has_window & (null_sum[rows] - null_sum[lo] == 0)
    basis = adjust.split_basis(indicators, actions)
    if order is not None:
        basis = basis[order]
    _rebase_windows(prev_total, volume, basis, starts, window, has_window)
    baseline = np.where(full_window, prev_total / window, np.nan)
    valid = ~null & (baseline > 0)
    ratio = np.full(n, np.nan)
    ratio[valid] = volume[valid] / baseline[valid]
    idx = np.flatnonzero(valid & (ratio > thresholds.volume_spike_ratio))
    reasons = [
        f"Volume {volume[i]:,.0f} is {ratio[i]:.2f}x the {window}-day average "
        f"({baseline[i]:,.0f}), above the {thresholds.volume_spike_ratio:g}x threshold"
        for i in idx
    ]
    found.append((VOLUME_SPIKE, idx, ratio[idx], reasons))

    # Bollinger band breakouts.
    upper, lower = column("bb_upper"), column("bb_lower")
    over = close - upper > _REL_TOL * np.abs(upper)
    under = lower - close > _REL_TOL * np.abs(lower)
    idx = np.flatnonzero(over | under)
    band = np.where(over[idx], upper[idx], lower[idx])
    beyond = 100.0 * (close[idx] - band) / np.abs(band)
    reasons = [
        f"Close {close[i]:.2f} broke {'above the upper' if over[i] else 'below the lower'} "
        f"Bollinger band ({b:.2f}) by {abs(x):.2f}%"
        for i, b, x in zip(idx, band, beyond, strict=True)
    ]
    found.append((BB_BREAKOUT, idx, beyond, reasons))

    # Rows are in (symbol, trade_date) order already: sort by (row, signal name) only.
    at = np.concatenate([idx for _, idx, _, _ in found])
    kind = np.concatenate([np.full(len(idx), name, dtype=object) for name, idx, _, _ in found])
    value = np.concatenate([np.asarray(v, dtype="float64") for _, _, v, _ in found])
    reason = np.array([r for _, _, _, rs in found for r in rs], dtype=object)
    rank = np.concatenate(
        [np.full(len(idx), SIGNAL_TYPES.index(name)) for name, idx, _, _ in found]
    )
    final = np.lexsort((rank, at))
    source = at[final] if order is None else order[at[final]]
    return pd.DataFrame(
        {
            "symbol": indicators["symbol"].to_numpy()[source],
            "trade_date": indicators["trade_date"].to_numpy()[source],
            "signal": kind[final],
            "value": value[final],
            "reason": reason[final],
        }
    )


def detect_signals_for(
    indicators_history: pd.DataFrame,
    target_dates: Iterable[dt.date],
    thresholds: SignalThresholds = DEFAULT_THRESHOLDS,
) -> pd.DataFrame:
    """Signals on ``target_dates`` only; give at least ``thresholds.history_bars`` earlier
    rows per symbol in ``indicators_history`` so crossovers and volume baselines are whole."""
    wanted = trade_day_numbers(pd.Series(sorted(set(target_dates)), dtype=object))
    signals = detect_signals(indicators_history, thresholds)
    if signals.empty:
        return signals
    keep = np.isin(trade_day_numbers(signals["trade_date"]), wanted)
    return signals.loc[keep].reset_index(drop=True)


def _rebase_windows(
    totals: np.ndarray,
    volume: np.ndarray,
    basis: np.ndarray,
    starts: np.ndarray,
    window: int,
    has_window: np.ndarray,
) -> None:
    """Recompute, in place, the window totals of rows whose window holds a split: each
    earlier volume times basis(row) / basis(earlier), summed in date order. Rows on one
    basis keep the exact integer totals."""
    changed = np.flatnonzero((basis[1:] != basis[:-1]) & ~starts[1:]) + 1
    rows = {r for c in changed for r in range(c, c + window)}
    for row in sorted(r for r in rows if r < len(totals) and has_window[r]):
        earlier = slice(row - window, row)
        scaled = np.nan_to_num(volume[earlier]) * (basis[row] / basis[earlier])
        totals[row] = float(np.add.reduce(scaled))


def _shift(values: np.ndarray, fill: object) -> np.ndarray:
    """values moved one row later (row i gets row i-1); callers mask symbol starts."""
    out = np.empty_like(values)
    out[0] = fill
    out[1:] = values[:-1]
    return out


def _empty(indicators: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Series(dtype=indicators["symbol"].dtype),
            "trade_date": pd.Series(dtype=indicators["trade_date"].dtype),
            "signal": pd.Series(dtype=object),
            "value": pd.Series(dtype="float64"),
            "reason": pd.Series(dtype=object),
        }
    )
