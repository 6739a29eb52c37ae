"""Data-quality rules on the stored tables: pure functions on DataFrames (no Dagster).

Each rule returns an ``Outcome`` holding *every* failing row (or column, or day) as
evidence, plus sentences for the failing and the passing state. Rules run once on all rows
a check loaded (the run's partitions); ``stock_assets.checks`` lists the failing days from
the evidence's trade_date. Keeping the rules here means each is tested on hand-built frames.
A single-run backfill checks millions of rows at once, so rules work on whole columns
(distinct values, integer codes, grids): no Python step per row.

NULL handling: a NULL can never show that a value rule holds, so NULL fails value rules
unless the rule is told the column is optional (``allow_null``).
"""

from __future__ import annotations

import bisect
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


def _holds_only(values: pd.Series, accepts: Callable[[type], bool]) -> bool:
    """Every non-NULL value of an object column has a type `accepts`.

    Judged on the distinct types present (one C-level pass, not an isinstance per value).
    NULLs (None, NaN, NaT, ...) are skipped, but a float may be a number as well as NaN, so
    a column whose types are not all accepted is judged again on its non-NULL values only.
    """
    if values.dtype != object:
        return False
    array = values.to_numpy()
    if all(accepts(kind) for kind in set(map(type, array))):
        return True
    return all(accepts(kind) for kind in set(map(type, array[~pd.isna(array)])))


def _is_plain_date(kind: type) -> bool:
    """A datetime.date that is not a datetime.datetime (nor a pandas Timestamp)."""
    return issubclass(kind, dt.date) and not issubclass(kind, dt.datetime)


def _is_date(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_dtype(values.dtype):  # how DuckDB returns an empty DATE
        present = values.dropna()
        return bool((present.dt.normalize() == present).all())
    return _holds_only(values, _is_plain_date)


def _is_text(values: pd.Series) -> bool:
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return True
    return _holds_only(values, lambda kind: issubclass(kind, str))


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
    bad = np.zeros(len(frame), dtype=bool)
    for name in columns:
        values = frame[name]
        if pd.api.types.is_datetime64_dtype(values.dtype):
            bad |= (values > limit).to_numpy()
        else:  # DATE columns load as datetime.date objects: few days, many rows
            codes, days = pd.factorize(values)  # code -1: NULL, never in the future
            late = np.array([day > today for day in days] + [False], dtype=bool)
            bad |= late[codes]
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
    local_days = local.dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    bad = local_days != _plain_dates(frame["trade_date"])  # NaT (NULL) equals nothing
    return Outcome(
        frame[bad],
        "quotes are filed under a trade_date other than their New York day",
        "every quote's trade_date is its New York day",
    )


def _plain_dates(values: pd.Series) -> np.ndarray:
    """The column as datetime64[D], converted per distinct value; NaT for anything that is
    not a plain date (NULL, a datetime, text), as such a value equals no day."""
    codes, distinct = pd.factorize(values)
    days = [value if _is_plain_date(type(value)) else None for value in distinct]
    return np.array([*days, None], dtype="datetime64[D]")[codes]  # code -1 (NULL): NaT


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
    wanted = sorted(set(days))
    symbols = sorted(set(watchlist))
    day_at, symbol_at = pd.Index(wanted, dtype=object), pd.Index(symbols, dtype=object)
    covered = np.zeros((len(wanted), len(symbols)), dtype=bool)  # day x symbol: row or reason

    def cover(rows: pd.DataFrame) -> None:
        d, s = day_at.get_indexer(rows["trade_date"]), symbol_at.get_indexer(rows["symbol"])
        wanted_pair = (d >= 0) & (s >= 0)
        covered[d[wanted_pair], s[wanted_pair]] = True

    cover(frame)
    if rejects is not None:
        cover(rejects)
    for column, symbol in enumerate(symbols):
        since = listed_since.get(symbol)
        if since is not None:
            covered[: bisect.bisect_left(wanted, since), column] = True
    for row, day in enumerate(wanted):
        for symbol in (symbol_errors or {}).get(day, {}):
            if symbol in symbol_at:
                covered[row, symbol_at.get_loc(symbol)] = True
    d, s = np.nonzero(~covered)  # day-major: sorted by day, then symbol
    missing = {
        "symbol": np.array(symbols, dtype=object)[s],
        "trade_date": np.array(wanted, dtype=object)[d],
    }
    return Outcome(
        pd.DataFrame(missing),
        "watchlist (symbol, day) pairs have no row and no reason",
        "every watchlist symbol is present or explained",
    )


# -- indicators and signals --------------------------------------------------------------


@functools.cache
def _first_session_ordinal(day: dt.date) -> int:
    """Ordinal of the first NYSE session on or after `day`."""
    return calendar.session_ordinal(calendar.sessions_between(day, day + dt.timedelta(days=10))[0])


def _session_ordinals(days: Iterable[dt.date]) -> np.ndarray:
    return np.array([calendar.session_ordinal(day) for day in days], dtype=np.int64)


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
    symbol_codes, symbols = pd.factorize(indicators["symbol"], use_na_sentinel=False)
    day_codes, days = pd.factorize(indicators["trade_date"], use_na_sentinel=False)
    # The calendar once per distinct day; per row only arithmetic on session ordinals.
    starts = [lookback.window_start(day) for day in days]
    ordinal = _session_ordinals(days)[day_codes]
    # lo: the symbol's rows dated in [window start, day), by binary search in all rows
    # sorted by (symbol, session ordinal), the pair encoded as one integer.
    span = int(ordinal.max(initial=0)) + 1
    row_key = symbol_codes * span + ordinal
    ordered = np.sort(row_key)
    window_key = symbol_codes * span + _session_ordinals(starts)[day_codes]
    lo = np.searchsorted(ordered, row_key) - np.searchsorted(ordered, window_key)
    # hi: sessions since the floor (the latest of window start, first partition and listing),
    # each distinct floor looked up once.
    since = [max(first_day, listed_since.get(symbol) or first_day) for symbol in symbols]
    floor = np.maximum(
        np.array(starts, dtype="datetime64[D]")[day_codes],
        np.array(since, dtype="datetime64[D]")[symbol_codes],
    )
    floors, floor_codes = np.unique(floor, return_inverse=True)
    floor_ordinals = [_first_session_ordinal(day) for day in floors.tolist()]
    hi = ordinal - np.array(floor_ordinals, dtype=np.int64)[floor_codes]
    # A NULL mask allows the bar counts b >= L of every column with a value and b < L of
    # every NULL column.
    names = np.array(list(LOOKBACK_BARS))
    lookbacks = np.array(list(LOOKBACK_BARS.values()), dtype=np.int64)
    nulls = indicators[list(LOOKBACK_BARS)].isna().to_numpy()
    mask_lo = np.where(nulls, 0, lookbacks).max(axis=1, initial=0)
    mask_hi = np.where(nulls, lookbacks, np.iinfo(np.int64).max).min(axis=1) - 1
    failing = np.flatnonzero(np.maximum(mask_lo, lo) > np.minimum(mask_hi, hi))
    bits = 1 << np.arange(len(names))  # a NULL mask as one integer, to name each mask once
    masks, mask_codes = np.unique(nulls[failing] @ bits, return_inverse=True)
    labels = np.array([" ".join(names[(mask & bits) > 0]) for mask in masks], dtype=object)
    problems = {
        "symbol": indicators["symbol"].to_numpy()[failing],
        "trade_date": indicators["trade_date"].to_numpy()[failing],
        "null_columns": labels[mask_codes],
        "bars_at_least": lo[failing],
        "bars_at_most": hi[failing],
    }
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
    symbol_codes, symbols = pd.factorize(prices["symbol"])  # code -1: NULL, matches nothing
    day_codes, days = pd.factorize(prices["trade_date"])
    keyed = (symbol_codes >= 0) & (day_codes >= 0)
    bars = (symbol_codes * len(days) + day_codes)[keyed]  # (symbol, day) as one integer
    symbol = symbols.get_indexer(signals["symbol"])  # -1: not in silver.prices (or NULL)
    day = days.get_indexer(signals["trade_date"])
    orphan = ~((symbol >= 0) & (day >= 0) & np.isin(symbol * len(days) + day, bars))
    problem = np.where(symbol[orphan] >= 0, "no price bar that day", "unknown symbol")
    failing = signals[orphan].assign(problem=problem.tolist())
    return Outcome(
        failing,
        "signals have no matching silver.prices bar",
        "every signal refers to a silver.prices bar",
    )


def none_rejected(rejects: pd.DataFrame) -> Outcome:
    """No record was rejected: each reject is a bar missing from silver.prices."""
    return Outcome(rejects, "records were rejected (see their reason)", "no record rejected")


# -- views -------------------------------------------------------------------------------


def view_not_empty(rows: int) -> Outcome:
    failing = pd.DataFrame({"rows": [rows]}) if rows == 0 else pd.DataFrame()
    return Outcome(failing, "view is empty", f"{rows} rows")


def columns_as_declared(actual: Sequence[str], declared: Sequence[str]) -> Outcome:
    """The view's columns are its SQL's select list, in order."""
    size = max(len(actual), len(declared))
    pairs = [
        (i, actual[i] if i < len(actual) else None, declared[i] if i < len(declared) else None)
        for i in range(size)
    ]
    failing = pd.DataFrame(
        [p for p in pairs if p[1] != p[2]], columns=["position", "column", "declared"]
    )
    return Outcome(failing, "columns differ from the declared ones", "columns as declared")


def row_count_matches(rows: int, expected: int) -> Outcome:
    """The view holds as many rows as counted from its inputs."""
    failing = (
        pd.DataFrame({"rows": [rows], "expected": [expected]})
        if rows != expected
        else pd.DataFrame()
    )
    return Outcome(failing, "row count differs from its inputs'", f"{rows} rows, as counted")
