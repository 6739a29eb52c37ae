"""Daily market summary (``gold.market_summary``): breadth, top movers and signal counts."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from stock_assets.market.indicators import trade_day_numbers
from stock_assets.market.signals import ANOMALY

SUMMARY_COLUMNS: Final = (
    "trade_date",
    "symbols",
    "advancers",
    "decliners",
    "unchanged",
    "top_gainers",
    "top_losers",
    "best_symbol",
    "best_pct",
    "worst_symbol",
    "worst_pct",
    "anomaly_count",
    "signal_count",
)


def summarize_market(
    indicators: pd.DataFrame, signals: pd.DataFrame, top_n: int = 3
) -> pd.DataFrame:
    """One row per trade_date present in ``indicators``, ordered by trade_date.

    Columns:

    * ``trade_date``: the trading day.
    * ``symbols``: symbols with a row that day.
    * ``advancers`` / ``decliners`` / ``unchanged``: symbols whose pct_change is > 0, < 0,
      == 0. A symbol on its first row (pct_change NULL: no previous close) counts in
      ``symbols`` only, so the three may sum to less than ``symbols``.
    * ``top_gainers`` / ``top_losers``: up to ``top_n`` advancers (largest gain first) /
      decliners (largest loss first) as "NVDA +6.1%, AAPL +2.0%" (one decimal); NULL when
      there are none. Ties go to the alphabetically first symbol.
    * ``best_symbol`` / ``best_pct``, ``worst_symbol`` / ``worst_pct``: highest and lowest
      pct_change of the day (in percent; the best can be negative on a day with no
      advancers); NULL when no symbol has a pct_change.
    * ``anomaly_count``: ANOMALY signals that day; ``signal_count``: all signals that day.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    for frame, name, needed in (
        (indicators, "indicators", ("symbol", "trade_date", "pct_change")),
        (signals, "signals", ("trade_date", "signal")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"summarize_market: {name} lacks columns {missing}")

    if indicators.empty:
        return _empty()
    days = trade_day_numbers(indicators["trade_date"])
    day_values, first_row, day = np.unique(days, return_index=True, return_inverse=True)
    n_days = len(day_values)
    sym_code, sym_names = pd.factorize(indicators["symbol"], sort=True)
    sym_names = np.asarray(sym_names, dtype=object)
    pct = indicators["pct_change"].to_numpy(dtype="float64", na_value=np.nan)

    pairs = np.sort(day.astype(np.int64) * len(sym_names) + sym_code)
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]  # distinct (day, symbol)
    out = pd.DataFrame(
        {
            "trade_date": indicators["trade_date"].to_numpy()[first_row],
            "symbols": np.bincount(pairs // len(sym_names), minlength=n_days),
            "advancers": np.bincount(day, weights=pct > 0, minlength=n_days),
            "decliners": np.bincount(day, weights=pct < 0, minlength=n_days),
            "unchanged": np.bincount(day, weights=pct == 0, minlength=n_days),
        }
    )

    # Rank each day's rows by move (ties: alphabetical symbol) without sorting objects;
    # 16-bit keys let numpy radix-sort them.
    known = np.flatnonzero(~np.isnan(pct))
    day_key, sym_key = _small(day[known]), _small(sym_code[known])
    by_gain = known[np.lexsort((sym_key, -pct[known], day_key))]
    by_loss = known[np.lexsort((sym_key, pct[known], day_key))]
    out["top_gainers"] = _movers(
        by_gain[pct[by_gain] > 0], day, pct, sym_code, sym_names, n_days, top_n
    )
    out["top_losers"] = _movers(
        by_loss[pct[by_loss] < 0], day, pct, sym_code, sym_names, n_days, top_n
    )
    for prefix, ranked in (("best", by_gain), ("worst", by_loss)):
        first = ranked[_group_rank(day[ranked]) == 0]
        symbol = np.full(n_days, None, dtype=object)
        value = np.full(n_days, np.nan)
        symbol[day[first]] = sym_names[sym_code[first]]
        value[day[first]] = pct[first]
        out[f"{prefix}_symbol"] = symbol
        out[f"{prefix}_pct"] = value

    # Signals per day (signals on days without indicator rows are ignored).
    signal_day = trade_day_numbers(signals["trade_date"]) if len(signals) else np.empty(0, int)
    slot = np.searchsorted(day_values, signal_day).clip(max=max(n_days - 1, 0))
    matched = day_values[slot] == signal_day if n_days else np.zeros(0, bool)
    is_anomaly = signals["signal"].to_numpy() == ANOMALY
    out["anomaly_count"] = np.bincount(slot[matched & is_anomaly], minlength=n_days)
    out["signal_count"] = np.bincount(slot[matched], minlength=n_days)

    for name in ("symbols", "advancers", "decliners", "unchanged", "anomaly_count", "signal_count"):
        out[name] = out[name].astype("int64")
    return out.loc[:, list(SUMMARY_COLUMNS)]


def _small(codes: np.ndarray) -> np.ndarray:
    """Non-negative codes as uint16 when they fit (radix sort), else unchanged."""
    return codes.astype(np.uint16) if len(codes) and codes.max() < 2**16 else codes


def _group_rank(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal (sorted) group values."""
    rows = np.arange(len(groups))
    starts = np.r_[True, groups[1:] != groups[:-1]] if len(groups) else np.zeros(0, bool)
    return rows - np.maximum.accumulate(np.where(starts, rows, 0))


def _movers(
    ranked: np.ndarray,
    day: np.ndarray,
    pct: np.ndarray,
    sym_code: np.ndarray,
    sym_names: np.ndarray,
    n_days: int,
    top_n: int,
) -> np.ndarray:
    """'SYM +x.x%, ...' of the first top_n ranked rows of each day; None on days with none."""
    top = ranked[_group_rank(day[ranked]) < top_n]
    labels = np.full(n_days, None, dtype=object)
    for d, row in zip(day[top].tolist(), top.tolist(), strict=True):
        label = f"{sym_names[sym_code[row]]} {pct[row]:+.1f}%"
        labels[d] = label if labels[d] is None else f"{labels[d]}, {label}"
    return labels


def _empty() -> pd.DataFrame:
    dtypes = {
        "trade_date": object,
        "symbols": "int64",
        "advancers": "int64",
        "decliners": "int64",
        "unchanged": "int64",
        "top_gainers": object,
        "top_losers": object,
        "best_symbol": object,
        "best_pct": "float64",
        "worst_symbol": object,
        "worst_pct": "float64",
        "anomaly_count": "int64",
        "signal_count": "int64",
    }
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})
