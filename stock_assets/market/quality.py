"""Data-quality rules on the stored tables: pure functions on DataFrames (no Dagster).

Each rule returns an ``Outcome`` holding *every* failing row (or column, or day) as
evidence, plus sentences for the failing and the passing state. Rules run once on all rows
a check loaded (the run's partitions); ``stock_assets.checks`` lists the failing days from
the evidence's trade_date. Keeping the rules here means each is tested on hand-built frames.

NULL handling: a NULL can never show that a value rule holds, so NULL fails value rules
unless the rule is told the column is optional (``allow_null``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_assets.market import calendar, lookback
from stock_assets.market.indicators import LOOKBACK_BARS
from stock_assets.market.schemas import TableSchema

# Clocks disagree a little (producer, S3, this host): a timestamp this far ahead is still "now".
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


@dataclass(frozen=True, eq=False)
class Outcome:
    failing: pd.DataFrame  # the evidence: every failing row, column or day
    what: str  # what the failing rows have, e.g. "rows have a NULL in symbol"
    ok: str  # the passing state, e.g. "no NULL in symbol"
    error: str | None = None  # set when the rule could not be evaluated at all

    @property
    def passed(self) -> bool:
        return self.error is None and self.failing.empty

    @property
    def failing_count(self) -> int:
        return len(self.failing)

    @property
    def description(self) -> str:
        if self.error is not None:
            return f"could not evaluate ({self.ok}): {self.error}"
        return self.ok if self.failing.empty else f"{len(self.failing)} {self.what}"


def failed_to_evaluate(ok: str, error: Exception) -> Outcome:
    """A rule that raised on the data: failed, with the reason (the data is not readable)."""
    return Outcome(pd.DataFrame(), "", ok, f"{type(error).__name__}: {error}")


# -- schema ------------------------------------------------------------------------------


def _is_date(values: pd.Series) -> bool:
    present = values.dropna()
    if pd.api.types.is_datetime64_dtype(values.dtype):  # how DuckDB returns an empty DATE
        return bool((present.dt.normalize() == present).all())
    return values.dtype == object and all(
        isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in present
    )


def _is_text(values: pd.Series) -> bool:
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return True
    return values.dtype == object and all(isinstance(v, str) for v in values.dropna())


# SQL type -> does the loaded pandas column hold it (any NULL-capable variant is fine).
_TYPE_TESTS: dict[str, Callable[[pd.Series], bool]] = {
    "VARCHAR": _is_text,
    "DOUBLE": lambda s: pd.api.types.is_float_dtype(s.dtype),
    "BIGINT": lambda s: pd.api.types.is_integer_dtype(s.dtype),
    "INTEGER": lambda s: pd.api.types.is_integer_dtype(s.dtype),
    "DATE": _is_date,
    # Naive: the contract stores UTC without a zone (Athena's TIMESTAMP has none).
    "TIMESTAMP": lambda s: pd.api.types.is_datetime64_dtype(s.dtype),
}


def schema_matches(frame: pd.DataFrame, contract: TableSchema) -> Outcome:
    """Every contract column is present with a dtype that holds its SQL type.

    Extra columns are allowed (the contract lists what users may rely on, at least).
    """
    bad = []
    for name, sql_type in contract.columns:
        if name not in frame.columns:
            bad.append({"column": name, "expected": sql_type, "found": "missing"})
        elif not _TYPE_TESTS[sql_type](frame[name]):
            bad.append({"column": name, "expected": sql_type, "found": str(frame[name].dtype)})
    return Outcome(
        pd.DataFrame(bad),
        f"contract columns of {contract.qualified_name} are missing or mistyped",
        f"{contract.qualified_name} has every contract column with its type",
    )


# -- keys --------------------------------------------------------------------------------


def no_nulls(frame: pd.DataFrame, columns: Sequence[str]) -> Outcome:
    """Key columns are never NULL."""
    failing = frame[frame[list(columns)].isna().any(axis=1)]
    keys = ", ".join(columns)
    return Outcome(failing, f"rows have a NULL in {keys}", f"no NULL in {keys}")


def unique(frame: pd.DataFrame, columns: Sequence[str]) -> Outcome:
    """At most one row per key; every row of a duplicated key is reported."""
    failing = frame[frame.duplicated(list(columns), keep=False)]
    failing = failing.sort_values(list(columns), kind="stable")
    keys = ", ".join(columns)
    return Outcome(failing, f"rows share their ({keys}) with another row", f"({keys}) unique")


# -- values ------------------------------------------------------------------------------


def _violations(
    frame: pd.DataFrame,
    columns: Sequence[str],
    holds: Callable[[pd.Series], pd.Series],
    allow_null: bool,
) -> pd.Series:
    """Rows where `holds` is false for any column; NULL fails unless allowed."""
    bad = pd.Series(False, index=frame.index)
    for name in columns:
        values = frame[name].astype("float64")
        bad |= ~(holds(values) | (values.isna() if allow_null else False))
    return bad


def positive(frame: pd.DataFrame, columns: Sequence[str], allow_null: bool = False) -> Outcome:
    """Prices are finite and > 0."""
    bad = _violations(frame, columns, lambda v: np.isfinite(v) & (v > 0), allow_null)
    names = ", ".join(columns)
    return Outcome(frame[bad], f"rows have {names} not > 0", f"{names} > 0")


def non_negative(frame: pd.DataFrame, columns: Sequence[str], allow_null: bool = False) -> Outcome:
    """Counts (volume, advancers, ...) are finite and >= 0."""
    bad = _violations(frame, columns, lambda v: np.isfinite(v) & (v >= 0), allow_null)
    names = ", ".join(columns)
    return Outcome(frame[bad], f"rows have {names} < 0", f"{names} >= 0")


def ohlc_consistent(frame: pd.DataFrame) -> Outcome:
    """high >= max(open, close) and low <= min(open, close) (so also high >= low)."""
    o, h, lo, c = (frame[n].astype("float64") for n in ("open", "high", "low", "close"))
    holds = (h >= np.maximum(o, c)) & (lo <= np.minimum(o, c))
    return Outcome(
        frame[~holds],
        "bars have high < max(open, close) or low > min(open, close)",
        "every bar has low <= open, close <= high",
    )


def not_in_future(
    frame: pd.DataFrame,
    columns: Sequence[str],
    now: dt.datetime,
    tolerance: dt.timedelta = FUTURE_TOLERANCE,
) -> Outcome:
    """No timestamp after now (+ tolerance), no trade date after today in New York.

    TIMESTAMP columns are naive UTC (the contract); DATE columns compare with the New York
    calendar date of now + tolerance.
    """
    limit = pd.Timestamp(now + tolerance).tz_convert("UTC").tz_localize(None)
    today = calendar.trading_day_of(now + tolerance)
    bad = pd.Series(False, index=frame.index)
    for name in columns:
        values = frame[name]
        if pd.api.types.is_datetime64_dtype(values.dtype):
            bad |= values > limit
        else:  # DATE columns load as datetime.date objects
            bad |= values.map(lambda d: not pd.isna(d) and d > today).astype(bool)
    names = ", ".join(columns)
    return Outcome(
        frame[bad],
        f"rows have {names} in the future (now: {now.isoformat(timespec='seconds')})",
        f"no {names} in the future",
    )


def trade_date_matches_ts(frame: pd.DataFrame) -> Outcome:
    """trade_date is the New York calendar day of ts (the partition a quote belongs to)."""
    local = (
        pd.to_datetime(frame["ts"]).dt.tz_localize("UTC").dt.tz_convert(calendar.MARKET_TIMEZONE)
    )
    bad = local.dt.date != frame["trade_date"]
    return Outcome(
        frame[bad],
        "quotes are filed under a trade_date other than their New York day",
        "every quote's trade_date is its New York day",
    )


def _symbol_days(frame: pd.DataFrame) -> list[tuple[str, dt.date]]:
    return list(zip(frame["symbol"], frame["trade_date"], strict=True))


# -- completeness ------------------------------------------------------------------------


def on_sessions(frame: pd.DataFrame) -> Outcome:
    """No rows dated on an exchange holiday or weekend."""
    closed_days = [d for d in frame["trade_date"].dropna().unique() if not calendar.is_session(d)]
    return Outcome(
        frame[frame["trade_date"].isin(closed_days)],
        "rows are dated on a day the NYSE is closed",
        "every row is dated on an NYSE session",
    )


def rows_on_days(frame: pd.DataFrame, days: Iterable[dt.date]) -> Outcome:
    """Each trading day checked has at least one row."""
    wanted = sorted(set(days))
    present = set(frame["trade_date"])
    empty = pd.DataFrame({"trade_date": [d for d in wanted if d not in present]})
    return Outcome(empty, "trading days have no rows", "every trading day has rows")


def watchlist_covered(
    frame: pd.DataFrame,
    days: Iterable[dt.date],
    watchlist: Iterable[str],
    listed_since: Mapping[str, dt.date | None],
    rejects: pd.DataFrame | None = None,
    symbol_errors: Mapping[dt.date, Mapping[str, str]] | None = None,
) -> Outcome:
    """Every watchlist symbol has a row on every trading day, or a reason it has none.

    Reasons that explain a gap: the symbol was not listed yet (`listed_since`, the
    simulator's listings; unknown symbols count as always listed), the source reported an
    error for it in that day's pull (`symbol_errors`), or its record for that day is in
    `rejects` (silver.price_rejects). Failing rows are the unexplained (symbol, day) pairs.
    """
    present = set(_symbol_days(frame))
    rejected = set() if rejects is None else set(_symbol_days(rejects))
    errors = symbol_errors or {}

    def explained(symbol: str, day: dt.date) -> bool:
        since = listed_since.get(symbol)
        return (
            (since is not None and day < since)
            or symbol in errors.get(day, {})
            or (symbol, day) in rejected
        )

    missing = [
        {"symbol": symbol, "trade_date": day}
        for day in sorted(set(days))
        for symbol in sorted(set(watchlist))
        if (symbol, day) not in present and not explained(symbol, day)
    ]
    return Outcome(
        pd.DataFrame(missing, columns=["symbol", "trade_date"]),
        "watchlist (symbol, day) pairs have no row and no reason",
        "every watchlist symbol is present or explained",
    )


# -- indicators and signals --------------------------------------------------------------


@functools.cache
def _first_session_ordinal(day: dt.date) -> int:
    """Ordinal of the first NYSE session on or after `day`."""
    return calendar.session_ordinal(calendar.sessions_between(day, day + dt.timedelta(days=10))[0])


_WARMUP_EVIDENCE = ["symbol", "trade_date", "null_columns", "bars_at_least", "bars_at_most"]


def warmup_nulls_as_expected(
    indicators: pd.DataFrame, first_day: dt.date, listed_since: Mapping[str, dt.date | None]
) -> Outcome:
    """Indicator NULLs are exactly a warm-up: column c is NULL iff bar number < LOOKBACK_BARS[c].

    A row's bar number b is its symbol's count of earlier silver bars in the window the row
    was computed from (market.lookback: from window_start(day) up to the day). The rows a
    check loads (its run's partitions) cannot count them exactly, so the rule brackets b and
    asks that the row's NULL mask fit some b in the bracket:

    * at least the symbol's earlier rows in `indicators` that fall inside the window (each
      indicator row is a silver bar);
    * at most the sessions in the window since the later of `first_day` (the first
      partition: silver has no earlier bars) and the symbol's listing day.

    So a NULL after the warm-up, a hole in the middle of the mask (sma_50 set, rsi_14 NULL)
    and a value before enough bars can exist all fail. When the loaded rows reach back to
    the first partition or the listing, the bracket closes and the check is exact.
    """
    dates = {
        symbol: np.sort(np.array(list(group), dtype="datetime64[D]"))
        for symbol, group in indicators.groupby("symbol")["trade_date"]
    }
    days = set(indicators["trade_date"])
    starts = {day: lookback.window_start(day) for day in days}
    ordinals = {day: calendar.session_ordinal(day) for day in days}
    names = np.array(list(LOOKBACK_BARS))
    lookbacks = np.array(list(LOOKBACK_BARS.values()))
    nulls = indicators[list(LOOKBACK_BARS)].isna().to_numpy()
    problems = []
    for i, (symbol, day) in enumerate(_symbol_days(indicators)):
        seen = dates[symbol]
        lo = int(
            np.searchsorted(seen, np.datetime64(day))
            - np.searchsorted(seen, np.datetime64(starts[day]))
        )
        floor = max(starts[day], first_day, listed_since.get(symbol) or first_day)
        hi = ordinals[day] - _first_session_ordinal(floor)
        mask_lo = lookbacks[~nulls[i]].max(initial=0)  # b >= L of every column with a value
        mask_hi = lookbacks[nulls[i]].min(initial=hi + 1) - 1  # b < L of every NULL
        if max(mask_lo, lo) > min(mask_hi, hi):
            problems.append((symbol, day, " ".join(names[nulls[i]]), lo, hi))
    return Outcome(
        pd.DataFrame(problems, columns=_WARMUP_EVIDENCE),
        "rows have a NULL mask that is not a warm-up for their bar count",
        "NULLs only where each lookback is not yet filled",
    )


def bollinger_ordered(frame: pd.DataFrame) -> Outcome:
    """bb_lower <= bb_middle <= bb_upper wherever the bands have values."""
    lo, mid, up = (frame[n].astype("float64") for n in ("bb_lower", "bb_middle", "bb_upper"))
    known = lo.notna() & mid.notna() & up.notna()
    failing = frame[known & ~((lo <= mid) & (mid <= up))]
    return Outcome(failing, "rows have misordered Bollinger bands", "bands are ordered")


def rsi_in_range(frame: pd.DataFrame) -> Outcome:
    """RSI-14 lies within [0, 100] wherever it has a value."""
    rsi = frame["rsi_14"].astype("float64")
    failing = frame[rsi.notna() & ~rsi.between(0, 100)]
    return Outcome(failing, "rows have RSI outside [0, 100]", "RSI within [0, 100]")


def signals_have_prices(signals: pd.DataFrame, prices: pd.DataFrame) -> Outcome:
    """Every signal names a symbol known to silver.prices and a day that symbol has a bar."""
    known = set(prices["symbol"])
    bars = set(_symbol_days(prices))
    pairs = _symbol_days(signals)
    orphan = np.array([pair not in bars for pair in pairs], dtype=bool)
    failing = signals[orphan].assign(
        problem=[
            "no price bar that day" if symbol in known else "unknown symbol"
            for (symbol, _), lost in zip(pairs, orphan, strict=True)
            if lost
        ]
    )
    return Outcome(
        failing,
        "signals have no matching silver.prices bar",
        "every signal refers to a silver.prices bar",
    )
