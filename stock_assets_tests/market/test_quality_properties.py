"""The column-wise quality rules against per-row references that state each rule plainly.

The rules in market/quality.py work on whole columns (distinct values, integer grids,
binary search) because they judge a whole backfill at once; each reference here walks the
rows one by one. Random frames cover NULLs, late listings, windows cut by the lookback
anchor, duplicates, mixed Python types and shuffled row order.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stock_assets.market import calendar, lookback, quality
from stock_assets.market.indicators import LOOKBACK_BARS
from stock_assets.market.schemas import TableSchema

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]
# Session ordinals just before and after the lookback blocks start (multiples of 250), so
# a symbol's earlier rows fall inside or outside a row's window.
ANCHORS = [3700, 3740, 3990, 4240]
SESSIONS = [calendar.session_at(o) for o in range(3650, 4400)]
TEXT_AND_NULLS = [
    "a",
    np.str_("b"),
    "",
    None,
    np.nan,
    pd.NaT,
    pd.NA,
    1,
    2.5,
    b"x",
    dt.date(2024, 7, 5),
    dt.datetime(2024, 7, 5),
    pd.Timestamp("2024-07-05"),
]


def rows(frame: pd.DataFrame) -> list[tuple]:
    """A frame's evidence as plain tuples, in order (dtype-agnostic)."""
    return list(frame.itertuples(index=False, name=None))


def seeded(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


# -- warmup -------------------------------------------------------------------------------


def warmup_reference(frame, first_day, listed_since) -> list[tuple]:
    """The warm-up rule row by row: some bar count b in [lo, hi] must explain the NULLs."""
    problems = []
    for symbol, day, *values in frame[["symbol", "trade_date", *LOOKBACK_BARS]].itertuples(
        index=False, name=None
    ):
        start = lookback.window_start(day)
        lo = sum(
            s == symbol and start <= d < day
            for s, d in zip(frame.symbol, frame.trade_date, strict=True)
        )
        floor = max(start, first_day, listed_since.get(symbol) or first_day)
        first_session = next(s for s in SESSIONS if s >= floor)
        hi = SESSIONS.index(day) - SESSIONS.index(first_session)
        nulls = [pd.isna(v) for v in values]
        fits = any(
            all(null == (b < n) for null, n in zip(nulls, LOOKBACK_BARS.values(), strict=True))
            for b in range(lo, hi + 1)
        )
        if not fits:
            names = " ".join(c for c, null in zip(LOOKBACK_BARS, nulls, strict=True) if null)
            problems.append((symbol, day, names, lo, hi))
    return problems


@st.composite
def warmup_cases(draw):
    rng = seeded(draw)
    symbols = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True))
    parts = []
    for symbol in symbols:
        ordinals = set()
        for _ in range(draw(st.integers(1, 3))):
            start = draw(st.sampled_from(ANCHORS)) + draw(st.integers(0, 30))
            ordinals |= set(range(start, start + draw(st.integers(1, 40))))
        bars = np.arange(len(ordinals))
        # Mostly the textbook mask of a bar count near the symbol's rows, sometimes shifted
        # or with flipped cells.
        bars = np.maximum(bars + rng.choice([0] * 20 + [-1, 1, 3, -20], size=len(bars)), 0)
        nulls = bars[:, None] < np.array(list(LOOKBACK_BARS.values()))
        nulls ^= rng.random(nulls.shape) < draw(st.sampled_from([0.0, 0.0, 0.002, 0.01]))
        parts.append(
            pd.DataFrame(np.where(nulls, np.nan, 1.0), columns=list(LOOKBACK_BARS)).assign(
                symbol=symbol, trade_date=[calendar.session_at(o) for o in sorted(ordinals)]
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    if draw(st.booleans()):  # a duplicated key
        frame = pd.concat([frame, frame.sample(1, random_state=rng)], ignore_index=True)
    frame = frame.sample(frac=1, random_state=rng).reset_index(drop=True)  # any row order
    first_day = calendar.session_at(draw(st.sampled_from(ANCHORS[:2])) + draw(st.integers(-50, 40)))
    listings = st.one_of(
        st.none(),
        st.sampled_from(SESSIONS[:700]),
        st.sampled_from(SESSIONS[:700]).map(lambda d: d + dt.timedelta(days=1)),  # any weekday
    )
    listed_since = draw(st.dictionaries(st.sampled_from(SYMBOLS), listings, max_size=4))
    return frame, first_day + dt.timedelta(days=draw(st.integers(0, 1))), listed_since


@PROPERTY
@given(warmup_cases())
def test_warmup_matches_the_row_by_row_rule(case):
    frame, first_day, listed_since = case
    outcome = quality.warmup_nulls_as_expected(frame, first_day, listed_since)
    assert rows(outcome.failing) == warmup_reference(frame, first_day, listed_since)
    assert list(outcome.failing.columns) == [
        "symbol",
        "trade_date",
        "null_columns",
        "bars_at_least",
        "bars_at_most",
    ]


# -- schema -------------------------------------------------------------------------------

CONTRACT = TableSchema("test", "mixed", (("text", "VARCHAR"), ("day", "DATE")), "")


def schema_reference(frame) -> list[str]:
    """The columns whose non-NULL values are not all str, or not all plain dates."""
    text = [v for v in frame["text"] if not pd.isna(v)]
    days = [v for v in frame["day"] if not pd.isna(v)]
    bad = []
    if not all(isinstance(v, str) for v in text):
        bad.append("text")
    if not all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in days):
        bad.append("day")
    return bad


NULLS = [None, np.nan, pd.NaT, pd.NA]


@st.composite
def column_of(draw, good: list, size: int) -> pd.Series:
    """Values of the right type and NULLs, perhaps with one value of any type among them."""
    nulls = draw(st.lists(st.sampled_from(NULLS), max_size=2))  # some kinds of NULL, or none
    values = draw(st.lists(st.sampled_from(good + nulls), min_size=size, max_size=size))
    if size and draw(st.booleans()):
        values[draw(st.integers(0, size - 1))] = draw(st.sampled_from(TEXT_AND_NULLS))
    return pd.Series(values, dtype=object)


@st.composite
def mixed_columns(draw):
    size = draw(st.integers(0, 30))
    text = draw(column_of(["a", np.str_("b"), ""], size))
    return pd.DataFrame({"text": text, "day": draw(column_of(SESSIONS[:3], size))})


@PROPERTY
@given(mixed_columns())
def test_schema_types_match_a_per_value_isinstance(frame):
    outcome = quality.schema_matches(frame, CONTRACT)
    assert list(outcome.failing.get("column", [])) == schema_reference(frame)


# -- not in future ------------------------------------------------------------------------


def future_reference(frame, now) -> list[int]:
    """Row positions with a date after the New York day of now (+ tolerance)."""
    today = (now + quality.FUTURE_TOLERANCE).astimezone(ZoneInfo("America/New_York")).date()
    return [i for i, d in enumerate(frame["trade_date"]) if not pd.isna(d) and d > today]


@st.composite
def dated_frames(draw):
    days = [*SESSIONS[:5], SESSIONS[4] + dt.timedelta(days=1), None, np.nan, pd.NaT]
    values = draw(st.lists(st.sampled_from(days), max_size=40))
    now = dt.datetime.combine(draw(st.sampled_from(SESSIONS[:6])), dt.time(), dt.UTC)
    now += dt.timedelta(minutes=draw(st.sampled_from([0, 238, 240, 236, 600, 1439])))
    index = draw(st.sampled_from([None, np.arange(len(values))[::-1] * 3]))
    return pd.DataFrame({"trade_date": pd.Series(values, dtype=object, index=index)}), now


@PROPERTY
@given(dated_frames())
def test_future_dates_match_a_per_row_comparison(case):
    frame, now = case
    outcome = quality.not_in_future(frame, ["trade_date"], now)
    assert list(outcome.failing.index) == list(frame.index[future_reference(frame, now)])


# -- watchlist ----------------------------------------------------------------------------


def watchlist_reference(frame, days, watchlist, listed_since, rejects, errors) -> list[tuple]:
    """Every (symbol, day) of the grid, in order, without a row and without a reason."""
    present = set(zip(frame.symbol, frame.trade_date, strict=True))
    rejected = set(zip(rejects.symbol, rejects.trade_date, strict=True))
    missing = []
    for day in sorted(set(days)):
        for symbol in sorted(set(watchlist)):
            since = listed_since.get(symbol)
            listed = since is None or day >= since
            excused = (symbol, day) in rejected or symbol in errors.get(day, {}) or not listed
            if (symbol, day) not in present and not excused:
                missing.append((symbol, day))
    return missing


@st.composite
def watchlist_cases(draw):
    days = SESSIONS[100:110]
    pairs = st.tuples(st.sampled_from([*SYMBOLS, "ZZZ"]), st.sampled_from(SESSIONS[98:112]))
    frame = pd.DataFrame(draw(st.lists(pairs, max_size=40)), columns=["symbol", "trade_date"])
    rejects = pd.DataFrame(draw(st.lists(pairs, max_size=6)), columns=["symbol", "trade_date"])
    errors = draw(
        st.dictionaries(
            st.sampled_from(days),
            st.dictionaries(st.sampled_from([*SYMBOLS, "YYY"]), st.just("HTTP 500"), max_size=2),
            max_size=3,
        )
    )
    listed_since = draw(
        st.dictionaries(st.sampled_from(SYMBOLS), st.none() | st.sampled_from(SESSIONS[95:115]))
    )
    wanted = draw(st.lists(st.sampled_from(days), max_size=12))
    watchlist = draw(st.lists(st.sampled_from(SYMBOLS), max_size=6))
    return frame, wanted, watchlist, listed_since, rejects, errors


@PROPERTY
@given(watchlist_cases())
def test_watchlist_gaps_match_the_nested_loops(case):
    frame, days, watchlist, listed_since, rejects, errors = case
    outcome = quality.watchlist_covered(frame, days, watchlist, listed_since, rejects, errors)
    assert rows(outcome.failing) == watchlist_reference(*case)
    no_rejects = quality.watchlist_covered(frame, days, watchlist, listed_since, None, errors)
    assert rows(no_rejects.failing) == watchlist_reference(*case[:4], rejects.iloc[:0], errors)


# -- signals and ts -----------------------------------------------------------------------


@st.composite
def signal_cases(draw):
    pairs = st.tuples(st.sampled_from([*SYMBOLS, None]), st.sampled_from([*SESSIONS[:4], None]))
    prices = pd.DataFrame(draw(st.lists(pairs, max_size=12)), columns=["symbol", "trade_date"])
    signals = pd.DataFrame(draw(st.lists(pairs, max_size=12)), columns=["symbol", "trade_date"])
    return prices, signals.assign(signal="BUY")


@PROPERTY
@given(signal_cases())
def test_orphan_signals_match_a_per_row_lookup(case):
    """A signal needs a bar of its (symbol, day); a NULL in either matches no bar."""
    prices, signals = case
    outcome = quality.signals_have_prices(signals, prices)
    bars = set(zip(prices.symbol, prices.trade_date, strict=True))
    known = {s for s in prices.symbol if not pd.isna(s)}
    expected = [
        (i, "no price bar that day" if s in known else "unknown symbol")
        for i, (s, d) in enumerate(zip(signals.symbol, signals.trade_date, strict=True))
        if pd.isna(s) or pd.isna(d) or (s, d) not in bars
    ]
    assert list(zip(outcome.failing.index, outcome.failing.problem, strict=True)) == expected


@st.composite
def quote_frames(draw):
    """Quotes mostly filed under their New York day, some under another day or a non-date."""
    minutes = draw(st.lists(st.integers(0, 3 * 24 * 60) | st.none(), max_size=20))
    ts = pd.Series(
        [
            None if m is None else pd.Timestamp("2024-07-04") + pd.Timedelta(minutes=m)
            for m in minutes
        ],
        dtype="datetime64[us]",
    )
    filed = ts.dt.tz_localize("UTC").dt.tz_convert("America/New_York").dt.date.astype(object)
    others = [dt.date(2024, 7, 5), dt.date(2024, 7, 6), None, dt.datetime(2024, 7, 5)]
    for i in draw(st.lists(st.integers(0, max(len(ts) - 1, 0)), max_size=3)) if len(ts) else []:
        filed[i] = draw(st.sampled_from(others))
    return pd.DataFrame({"ts": ts, "trade_date": filed})


@PROPERTY
@given(quote_frames())
def test_trade_date_of_ts_matches_a_per_row_conversion(frame):
    outcome = quality.trade_date_matches_ts(frame)
    new_york = ZoneInfo("America/New_York")
    expected = [
        i
        for i, (ts, day) in enumerate(zip(frame.ts, frame.trade_date, strict=True))
        if pd.isna(ts) or ts.tz_localize("UTC").astimezone(new_york).date() != day
    ]
    assert list(outcome.failing.index) == expected
