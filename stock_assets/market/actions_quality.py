"""Quality rules about corporate actions (no Dagster): an unrecorded split, an orphan action.

Both are WARN: a price move the size of a split may be a real crash, and an action may be
loaded before its symbol's bars. The evidence says what was suspected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stock_assets.market.quality import Outcome

# Common split ratios (new shares per old); their reciprocals are reverse splits.
SPLIT_RATIOS = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)
# A move within this relative distance of 1 / ratio matches that ratio (the split day's
# own move comes on top of the split's).
RATIO_TOLERANCE = 0.08


def suspected_ratio(move: np.ndarray) -> np.ndarray:
    """Per close / previous close, the split ratio it matches (NaN for none): 10.0 for a
    move to a tenth (10-for-1), 0.1 for a tenfold one (1-for-10)."""
    candidates = np.array([*SPLIT_RATIOS, *(1 / r for r in SPLIT_RATIOS)])
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.abs(move[:, None] * candidates[None, :] - 1.0)
    best = np.argmin(np.nan_to_num(distance, nan=np.inf), axis=1) if len(move) else np.array([])
    found = np.full(len(move), np.nan)
    if len(move):
        close_enough = distance[np.arange(len(move)), best] <= RATIO_TOLERANCE
        found[close_enough] = candidates[best[close_enough]]
    return found


def unrecorded_splits(indicators: pd.DataFrame) -> Outcome:
    """Days whose (adjusted) one-day move matches a split ratio. Recorded splits are
    already adjusted away in gold.indicators, so a match means a split nobody recorded
    (or a crash of that size); `suspected_ratio` says which."""
    pct = indicators["pct_change"].to_numpy(dtype="float64", na_value=np.nan)
    ratio = suspected_ratio(1.0 + pct / 100.0)
    failing = indicators.loc[~np.isnan(ratio), ["symbol", "trade_date", "close", "pct_change"]]
    failing = failing.assign(suspected_ratio=ratio[~np.isnan(ratio)])
    return Outcome(
        failing.reset_index(drop=True),
        "one-day moves match a split ratio with no recorded split (suspected_ratio: new "
        "shares per old) ",
        "no one-day move matches a split ratio without a recorded split",
    )


def actions_without_bars(actions: pd.DataFrame, prices: pd.DataFrame) -> Outcome:
    """Actions of symbols that have no bar in silver.prices (a typo, or a symbol not loaded)."""
    failing = actions[~actions["symbol"].isin(set(prices["symbol"]))]
    return Outcome(
        failing[["symbol", "ex_date", "action", "ratio", "amount", "source"]].reset_index(
            drop=True
        ),
        "actions name a symbol with no bar in silver.prices",
        "every action's symbol has bars in silver.prices",
    )
