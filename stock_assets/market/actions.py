"""Corporate actions: splits and cash dividends, as silver.corporate_actions holds them.

An action is (symbol, ex_date, action, ratio | amount). ``ex_date`` is the first session on
the new basis: a 10-for-1 split with ex-date D means bars before D traded at ten times the
price and a tenth of the volume of bars from D on; a dividend of A with ex-date D means the
close before D still included A.

Price factor of an action (applied to every bar before its ex-date), the CRSP / Yahoo
convention: a split's is 1 / ratio, a dividend's is 1 - amount / (the raw close of the last
bar before the ex-date). A dividend with no earlier bar, or not below that close, cannot be
applied and has factor 1 (the quality check on actions reports actions without bars).
Volume factor: a split's ratio; dividends leave volume alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from stock_assets.market.schemas import CORPORATE_ACTIONS, conform
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol

SPLIT = "SPLIT"
DIVIDEND = "DIVIDEND"
ACTIONS = (SPLIT, DIVIDEND)
KEY_COLUMNS = ("symbol", "ex_date", "action")
ACTION_COLUMNS = ("symbol", "ex_date", "action", "ratio", "amount")


class ActionError(ValueError):
    """An action that cannot be used; the message names where it came from and why."""


def action_record(
    symbol: object, ex_date: object, action: object, value: object, where: str
) -> dict[str, object]:
    """One validated action as a row of ACTION_COLUMNS; ActionError naming `where` if not.

    `action` is split or dividend (any case); `value` the split ratio (new shares per old,
    positive, not 1) or the dividend per share (positive)."""
    try:
        name = normalize_symbol(symbol)
    except InvalidSymbolError as exc:
        raise ActionError(f"{where}: {exc}") from None
    try:
        day = ex_date if isinstance(ex_date, dt.date) else dt.date.fromisoformat(str(ex_date))
    except ValueError:
        raise ActionError(f"{where}: ex-date {ex_date!r} is not a YYYY-MM-DD date") from None
    kind = str(action).strip().upper()
    if kind not in ACTIONS:
        raise ActionError(f"{where}: action {action!r} is not split or dividend")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ActionError(f"{where}: {kind.lower()} value {value!r} is not a number") from None
    if not (math.isfinite(number) and number > 0):
        raise ActionError(f"{where}: {kind.lower()} value {value!r} must be positive")
    if kind == SPLIT and number == 1:
        raise ActionError(f"{where}: a split ratio of 1 changes nothing")
    return {
        "symbol": name,
        "ex_date": day,
        "action": kind,
        "ratio": number if kind == SPLIT else np.nan,
        "amount": number if kind == DIVIDEND else np.nan,
    }


def parse_action_list(text: str, name: str = "STOCK_ASSETS_SIMULATED_ACTIONS") -> pd.DataFrame:
    """Actions from `SYMBOL:YYYY-MM-DD:split|dividend:VALUE` entries separated by commas
    (the STOCK_ASSETS_SIMULATED_ACTIONS form); ActionError naming the entry and reason."""
    records = []
    for number, entry in enumerate((e.strip() for e in text.split(",") if e.strip()), 1):
        parts = [p.strip() for p in entry.split(":")]
        where = f"{name} entry {number} ({entry!r})"
        if len(parts) != 4:
            raise ActionError(f"{where}: expected SYMBOL:YYYY-MM-DD:split|dividend:VALUE")
        records.append(action_record(*parts, where=where))
    return unique_actions(action_frame(records), name)


def action_frame(records: Iterable[dict[str, object]]) -> pd.DataFrame:
    """ACTION_COLUMNS rows, sorted by symbol, ex-date and action."""
    frame = pd.DataFrame(list(records), columns=list(ACTION_COLUMNS))
    frame = frame.astype({"ratio": "float64", "amount": "float64"})
    return frame.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)


def unique_actions(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """`frame`, refused (ActionError) if it lists a (symbol, ex-date, action) twice."""
    twice = frame[frame.duplicated(list(KEY_COLUMNS), keep=False)]
    if not twice.empty:
        first = twice.iloc[0]
        raise ActionError(
            f"{where}: {first.action.lower()} of {first.symbol} on {first.ex_date} is listed "
            "more than once"
        )
    return frame


def actions_table(frame: pd.DataFrame, source: str, ingested_at: dt.datetime) -> pd.DataFrame:
    """Action rows as silver.corporate_actions stores them."""
    return conform(frame.assign(source=source, ingested_at=ingested_at), CORPORATE_ACTIONS)


def empty_actions() -> pd.DataFrame:
    return action_frame([])
