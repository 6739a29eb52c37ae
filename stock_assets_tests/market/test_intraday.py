"""Intraday bars and daily figures against DuckDB SQL over the same quotes, and edge cases.

The reference aggregation below is written from the contract's words in SQL, with the
sessions taken from exchange_calendars directly, never from the code under test.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from stock_assets.market.intraday import (
    bars_from_quotes,
    bars_to_rewrite,
    daily_kpis,
    resample_bars,
    session_minutes,
    split_invalid_bars,
    vendor_bars,
)

# One bar per (symbol, session minute): first/last quote by ts, max/min price; volume is the
# increase of the cumulative volume over the bar, never negative; vwap weighs each quote by
# its own increase (the mean price when nothing traded).
REFERENCE_BARS_SQL = """
WITH q AS (
  SELECT q.symbol, q.ts, q.price, q.volume, s.day AS trade_date,
         date_trunc('minute', q.ts) AS bar_start
  FROM quotes AS q JOIN sessions AS s ON q.ts >= s.open_ts AND q.ts < s.close_ts
),
levels AS (
  SELECT *, last_value(volume IGNORE NULLS) OVER (
    PARTITION BY symbol, trade_date ORDER BY ts
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS level
  FROM q
),
increases AS (
  SELECT *, CASE WHEN level IS NULL THEN 0 ELSE greatest(level - coalesce(
    lag(level) OVER (PARTITION BY symbol, trade_date ORDER BY ts), 0), 0) END AS inc
  FROM levels
),
bars AS (
  SELECT symbol, trade_date, bar_start, arg_min(price, ts) AS open, max(price) AS high,
         min(price) AS low, arg_max(price, ts) AS close, count(*) AS quotes,
         arg_max(level, ts) AS level_end, sum(price * inc) AS pv, sum(inc) AS traded,
         avg(price) AS mean_price
  FROM increases GROUP BY symbol, trade_date, bar_start
)
SELECT symbol, trade_date, bar_start, open, high, low, close,
  CASE WHEN level_end IS NULL THEN 0 ELSE greatest(level_end - coalesce(lag(level_end) OVER (
    PARTITION BY symbol, trade_date ORDER BY bar_start), 0), 0) END AS volume,
  CASE WHEN traded > 0 THEN pv / traded ELSE mean_price END AS vwap, quotes
FROM bars ORDER BY symbol, bar_start
"""


def xnys_sessions(start: dt.date, end: dt.date) -> pd.DataFrame:
    schedule = xcals.get_calendar("XNYS").schedule.loc[str(start) : str(end)]
    return pd.DataFrame(
        {
            "day": schedule.index.date,
            "open_ts": schedule["open"].dt.tz_convert("UTC").dt.tz_localize(None),
            "close_ts": schedule["close"].dt.tz_convert("UTC").dt.tz_localize(None),
        }
    )


def reference_bars(quotes: pd.DataFrame, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    if sessions is None:
        days = pd.to_datetime(quotes["ts"]).dt.date
        first, last = days.min() - dt.timedelta(days=1), days.max() + dt.timedelta(days=1)
        sessions = xnys_sessions(first, last)
    con = duckdb.connect()
    con.register("quotes", quotes)
    con.register("sessions", sessions)
    return con.execute(REFERENCE_BARS_SQL).df()


def random_quotes(
    symbols: list[str], days: list[dt.date], per_minute: float, seed: int
) -> pd.DataFrame:
    """Quotes at random instants from 09:00 to 16:30 New York (so some fall outside the
    session), a rising cumulative volume with gaps (NULL) and one reset per symbol-day."""
    rng = np.random.default_rng(seed)
    frames = []
    for day in days:
        start = pd.Timestamp(f"{day} 09:00", tz="America/New_York").tz_convert("UTC")
        for symbol in symbols:
            n = int(450 * per_minute)
            offsets = np.sort(rng.choice(450 * 60 * 1000, size=n, replace=False))
            ts = start.tz_localize(None) + pd.to_timedelta(offsets, unit="ms")
            price = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
            volume = np.cumsum(rng.integers(0, 500, n)).astype(float)
            volume[n // 2 :] -= volume[n // 2] - 10  # the feed restarts its counter
            volume[rng.random(n) < 0.1] = np.nan
            frames.append(
                pd.DataFrame(
                    {
                        "symbol": symbol,
                        "ts": ts.as_unit("us"),
                        "price": price.round(4),
                        "volume": pd.array(volume, dtype="Float64").astype("Int64"),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def assert_bars_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(actual) == len(expected)
    left = actual.sort_values(["symbol", "bar_start"], ignore_index=True)
    right = expected.sort_values(["symbol", "bar_start"], ignore_index=True)
    assert left["symbol"].tolist() == right["symbol"].tolist()
    assert left["trade_date"].tolist() == list(pd.to_datetime(right["trade_date"]).dt.date)
    assert (left["bar_start"].to_numpy() == right["bar_start"].to_numpy()).all()
    for column in ("open", "high", "low", "close", "vwap"):
        np.testing.assert_allclose(left[column].to_numpy(float), right[column], rtol=1e-12)
    assert left["volume"].astype("int64").tolist() == right["volume"].astype("int64").tolist()
    assert left["quotes"].astype("int64").tolist() == right["quotes"].astype("int64").tolist()


DAYS = [dt.date(2024, 7, 2), dt.date(2024, 7, 3), dt.date(2024, 7, 5)]  # 07-03 closes at 13:00


def test_bars_equal_a_duckdb_aggregation_of_the_same_quotes():
    quotes = random_quotes(["AAPL", "MSFT", "T"], DAYS, per_minute=4, seed=1)
    bars = bars_from_quotes(quotes)
    assert_bars_equal(bars, reference_bars(quotes))
    assert set(bars["source"]) == {"stream"}
    assert bars["bar_start"].dtype == "datetime64[us]"


def test_bars_do_not_depend_on_row_order():
    quotes = random_quotes(["AAPL", "MSFT"], DAYS[:1], per_minute=3, seed=2)
    shuffled = quotes.sample(frac=1, random_state=7).reset_index(drop=True)
    pd.testing.assert_frame_equal(bars_from_quotes(shuffled), bars_from_quotes(quotes))


def test_merging_touched_bars_batch_by_batch_in_any_order_gives_the_full_day():
    """What the stream asset does: after each batch, rewrite the bars its quotes touch."""
    quotes = random_quotes(["AAPL", "MSFT"], DAYS[:1], per_minute=3, seed=3)
    batches = np.random.default_rng(5).integers(0, 6, len(quotes))
    for arrival in ([3, 0, 5, 1, 4, 2], [0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]):
        stored: dict[tuple[str, pd.Timestamp], tuple] = {}
        seen = np.zeros(len(quotes), dtype=bool)
        for batch in arrival:
            new = batches == batch
            seen |= new
            history = quotes[seen]
            update = bars_to_rewrite(history, quotes[new])
            for row in update.itertuples(index=False):
                stored[(row.symbol, row.bar_start)] = row
        merged = pd.DataFrame(list(stored.values()))
        assert_bars_equal(merged, reference_bars(quotes))


def test_cumulative_volume_deltas_handle_gaps_resets_and_the_first_quote():
    def quote(minute: str, volume: int | None) -> dict:
        return {"symbol": "X", "ts": pd.Timestamp(f"2024-07-02 {minute}"), "price": 10.0,
                "volume": volume}  # fmt: skip

    quotes = pd.DataFrame(
        [
            quote("13:25:00", 900),  # pre-market (09:25 New York): no bar, no base
            quote("13:30:10", 1_000),  # first bar: 0 before the first quote -> 1000
            quote("13:30:50", 1_200),
            quote("13:31:30", None),  # no volume: carries 1200 -> 0
            quote("13:32:05", 1_500),  # +300
            quote("13:33:00", 40),  # the counter restarts: never negative -> 0
            quote("13:34:00", 100),  # +60 from the new level
            quote("13:34:30", 90),  # a dip inside the bar: the bar ends at 90 -> 50
        ]
    ).astype({"volume": "Int64"})
    bars = bars_from_quotes(quotes)
    assert bars["volume"].tolist() == [1_200, 0, 300, 0, 50]
    assert bars["quotes"].tolist() == [2, 1, 1, 1, 2]
    # vwap weighs quotes by their own increase; the flat bar falls back to the mean price.
    assert bars["vwap"].tolist() == [10.0] * 5
    assert_bars_equal(bars, reference_bars(quotes))


def test_early_close_day_after_thanksgiving_and_the_holiday_before_it():
    ny = "America/New_York"
    stamps = [
        ("2024-11-28 10:00", 50.0),  # Thanksgiving: a holiday, no session
        ("2024-11-29 09:30", 51.0),  # the first bar of the short session
        ("2024-11-29 12:59:59", 52.0),  # the last bar
        ("2024-11-29 13:00", 53.0),  # the early close: outside
        ("2024-11-29 15:59", 54.0),  # a normal day's last minute: outside today
    ]
    quotes = pd.DataFrame(
        {
            "symbol": "IBM",
            "ts": [pd.Timestamp(t, tz=ny).tz_convert("UTC") for t, _ in stamps],
            "price": [p for _, p in stamps],
            "volume": pd.array([10, 20, 30, 40, 50], dtype="Int64"),
        }
    )
    bars = bars_from_quotes(quotes)
    assert bars["trade_date"].tolist() == [dt.date(2024, 11, 29)] * 2
    assert bars["close"].tolist() == [51.0, 52.0]
    assert bars["volume"].tolist() == [20, 10]  # nothing before the open counts
    minutes = session_minutes(dt.date(2024, 11, 29))
    assert len(minutes) == 210 and len(session_minutes(dt.date(2024, 11, 27))) == 390
    assert minutes[-1] == pd.Timestamp("2024-11-29 17:59")  # 12:59 New York, in UTC
    assert bars_from_quotes(quotes.iloc[:1]).empty


def test_a_new_quote_rewrites_its_bar_and_the_next_ones_up_to_one_with_volume():
    quotes = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "A", "A", "B"],
            "ts": pd.to_datetime(
                [
                    "2024-07-02 13:30:05",
                    "2024-07-02 13:33:00",
                    "2024-07-02 13:35:00",
                    "2024-07-02 13:40:00",
                    "2024-07-02 13:50:00",
                    "2024-07-02 13:30:00",
                ]
            ),
            "price": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "volume": pd.array([10, None, 20, 30, 40, 5], dtype="Int64"),
        }
    )
    update = bars_to_rewrite(quotes, quotes.iloc[[0]])
    # 13:33 has no volume of its own, so 13:35 counts from the new quote; 13:40 does not.
    assert update["bar_start"].dt.strftime("%H:%M").tolist() == ["13:30", "13:33", "13:35"]
    assert update["symbol"].tolist() == ["A"] * 3
    assert bars_to_rewrite(quotes, quotes.iloc[[4]])["bar_start"].dt.minute.tolist() == [50]


def test_vendor_bars_keep_the_session_and_use_the_typical_price():
    frame = pd.DataFrame(
        {
            "symbol": "IBM",
            "bar_start": pd.to_datetime(
                ["2024-07-02 09:29", "2024-07-02 09:30", "2024-07-02 15:59", "2024-07-02 16:00"]
            ).tz_localize("America/New_York"),
            "open": [1.0, 2.0, 3.0, 4.0],
            "high": [1.5, 2.5, 3.5, 4.5],
            "low": [0.5, 1.5, 2.5, 3.5],
            "close": [1.0, 2.0, 3.0, 4.0],
            "volume": [1, 2, 3, 4],
        }
    )
    bars = vendor_bars(frame, "yahoo")
    assert bars["bar_start"].dt.strftime("%H:%M").tolist() == ["13:30", "19:59"]
    assert bars["vwap"].tolist() == [6.0 / 3, 9.0 / 3]
    assert bars["quotes"].isna().all() and set(bars["source"]) == {"yahoo"}


def test_resampled_bars_match_pandas_resample_per_symbol():
    bars = bars_from_quotes(random_quotes(["AAPL", "T"], DAYS[:1], per_minute=2, seed=4))
    five = resample_bars(bars, 5)
    for symbol, own in bars.groupby("symbol"):
        expected = (
            own.set_index("bar_start")
            .resample("5min")
            .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        )
        expected = expected.dropna(subset=["open"])
        got = five[five.symbol == symbol].set_index("bar_start")
        pd.testing.assert_frame_equal(
            got[["open", "high", "low", "close"]], expected[["open", "high", "low", "close"]],
            check_freq=False, check_names=False,
        )  # fmt: skip
        assert got["volume"].astype(int).tolist() == expected["volume"].astype(int).tolist()


def test_daily_kpis_against_figures_computed_by_hand_from_the_bars():
    quotes = random_quotes(["AAPL", "MSFT"], DAYS, per_minute=1, seed=6)
    bars = bars_from_quotes(quotes)
    kpis = daily_kpis(bars, DAYS[1:])
    assert sorted(set(kpis["trade_date"])) == DAYS[1:]
    row = kpis[(kpis.symbol == "MSFT") & (kpis.trade_date == DAYS[1])].iloc[0]
    own = bars[(bars.symbol == "MSFT") & (bars.trade_date == DAYS[1])].sort_values("bar_start")
    before = bars[(bars.symbol == "MSFT") & (bars.trade_date == DAYS[0])]
    prev_close = before.sort_values("bar_start")["close"].iloc[-1]
    volume = own["volume"].astype(float)
    closes = own["close"].to_numpy()
    assert row.prev_close == prev_close
    assert row.volume == volume.sum()
    assert row.vwap == pytest.approx((own["vwap"] * volume).sum() / volume.sum())
    assert row.avg_price == pytest.approx(closes.mean())
    assert row.change_pct == pytest.approx(100 * (closes[-1] / prev_close - 1))
    assert row.oc_change_pct == pytest.approx(100 * (closes[-1] / own["open"].iloc[0] - 1))
    high, low = own["high"].max(), own["low"].min()
    assert row.range_pct == pytest.approx(100 * (high - low) / own["open"].iloc[0])
    assert row.realized_vol == pytest.approx(100 * np.sqrt((np.diff(np.log(closes)) ** 2).sum()))
    assert row.bars_expected == 210  # 2024-07-03 closes at 13:00
    assert row.bars == len(own) and row.completeness == pytest.approx(len(own) / 210)
    # The first requested day of the other symbol has no earlier day in the input.
    first = daily_kpis(bars, DAYS[:1])
    assert first["prev_close"].isna().all()


def test_invalid_vendor_bars_are_rejected_with_a_reason_and_the_rest_kept():
    frame = pd.DataFrame(
        {
            "symbol": "IBM",
            "bar_start": pd.to_datetime(
                ["2024-07-02 14:00", "2024-07-02 14:01", "2024-07-02 14:02", "2024-07-02 14:03"],
                utc=True,
            ),
            "open": [10.0, np.nan, 10.0, 10.0],
            "high": [11.0, 11.0, 9.5, 11.0],  # the third has high < open
            "low": [9.0, 9.0, 9.0, 9.0],
            "close": [10.5, 10.5, 9.2, 10.5],
            "volume": [5, 5, 5, -1],
        }
    )
    good, rejected = split_invalid_bars(vendor_bars(frame, "alpha_vantage"))
    assert good["bar_start"].dt.minute.tolist() == [0]
    assert rejected["bar_start"].dt.minute.tolist() == [1, 2, 3]
    assert rejected["reason"].str.contains("outside \\[low, high\\]").all()
