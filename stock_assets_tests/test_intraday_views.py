"""The intraday views (sql/views), translated to DuckDB, against pandas on the same rows."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from stock_assets.market.intraday import bars_from_quotes
from stock_assets.market.schemas import DAILY_KPIS, INTRADAY_BARS, STREAM_HISTORY, conform
from stock_assets.market.sql import load_views
from stock_assets_tests.market.test_intraday import DAYS, random_quotes

VIEWS = {view.name: view for view in load_views()}


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        for layer in ("silver", "gold"):
            connection.execute(f"CREATE SCHEMA {layer}")
        yield connection


def store(conn, frame: pd.DataFrame, contract) -> None:
    conn.execute(contract.ddl())
    conn.register("rows", conform(frame, contract))
    conn.execute(f"INSERT INTO {contract.qualified_name} BY NAME SELECT * FROM rows")
    conn.unregister("rows")


def view_rows(conn, name: str, order: str) -> pd.DataFrame:
    conn.execute(VIEWS[name].to_duckdb())
    return conn.execute(f"SELECT * FROM gold.{name} ORDER BY {order}").fetchdf()


def test_resampled_bars_equal_pandas_resample_of_the_minute_bars(conn):
    bars = bars_from_quotes(random_quotes(["AAPL", "T"], DAYS[:2], per_minute=2, seed=8))
    store(conn, bars.assign(ingested_at=pd.Timestamp("2024-07-06")), INTRADAY_BARS)
    got = view_rows(conn, "intraday_bars_resampled", "interval_minutes, symbol, bar_start")
    for minutes in (5, 15):
        mine = got[got.interval_minutes == minutes]
        expected = []
        for (symbol, _), own in bars.groupby(["symbol", "trade_date"]):
            volume = own["volume"].astype(float)
            frame = own.assign(pv=own["vwap"] * volume, volume=volume).set_index("bar_start")
            agg = frame.resample(f"{minutes}min").agg(
                {"open": "first", "high": "max", "low": "min", "close": "last",
                 "volume": "sum", "pv": "sum", "vwap": "mean", "symbol": "size"}
            )  # fmt: skip
            agg = agg[agg["symbol"] > 0]
            agg["vwap"] = np.where(
                agg.volume > 0, agg.pv / agg.volume.where(agg.volume > 0, 1), agg.vwap
            )
            expected.append(agg.assign(bars=agg["symbol"], symbol=symbol).reset_index())
        expected = pd.concat(expected).sort_values(["symbol", "bar_start"], ignore_index=True)
        assert len(mine) == len(expected)
        for column in ("open", "high", "low", "close", "volume", "vwap", "bars"):
            np.testing.assert_allclose(mine[column].astype(float), expected[column], rtol=1e-12)
        assert (mine["bar_start"].to_numpy() == expected["bar_start"].to_numpy()).all()


def test_stock_kpis_average_seven_sessions_and_score_volatility(conn):
    days = pd.bdate_range("2024-03-01", periods=30).date
    rng = np.random.default_rng(3)
    kpis = pd.DataFrame(
        {
            "symbol": "AAPL",
            "trade_date": days,
            "close": 100 + rng.normal(size=30).cumsum(),
            "realized_vol": rng.uniform(0.5, 2.0, 30),
            "volume": rng.integers(1, 10**6, 30),
            "change_pct": rng.normal(size=30),
        }
    )
    for column in ("open", "prev_close", "avg_price", "vwap", "range_pct", "oc_change_pct"):
        kpis[column] = 1.0
    kpis = kpis.assign(bars=390, bars_expected=390, completeness=1.0)
    store(conn, kpis, DAILY_KPIS)
    got = view_rows(conn, "stock_kpis", "trade_date")
    avg_7d = kpis["close"].rolling(7).mean()
    usual = kpis["realized_vol"].shift().rolling(20, min_periods=5).mean()
    np.testing.assert_allclose(got["avg_7d"].astype(float), avg_7d, rtol=1e-12)
    np.testing.assert_allclose(
        got["volatility_score"].astype(float), kpis["realized_vol"] / usual, rtol=1e-12
    )
    assert got["price_change_pct"].tolist() == kpis["change_pct"].tolist()
    assert got["volume"].tolist() == kpis["volume"].tolist()


def test_stream_quotes_analysis_shows_each_quote_with_its_percent_change(conn):
    quotes = pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT"],
            "ts": pd.to_datetime(["2024-07-05 14:30", "2024-07-05 14:31"]),
            "price": [110.0, 50.0],
            "volume": [10, 20],
            "change": [10.0, -5.0],
            "change_pct": [None, -9.0],
            "name": ["Apple Inc.", "Microsoft"],
            "source": "simulated",
            "object_key": "landing/quotes/a.jsonl",
            "ingested_at": pd.Timestamp("2024-07-05 15:00"),
            "trade_date": dt.date(2024, 7, 5),
        }
    )
    store(conn, quotes, STREAM_HISTORY)
    got = view_rows(conn, "stream_quotes_analysis", "symbol")
    assert got["stock_price"].tolist() == [110.0, 50.0]
    assert got["pct_change"].tolist() == [10.0, -9.0]  # 10 / (110 - 10); the quote's own
    assert got["trade_time"].tolist() == quotes["ts"].tolist()
    assert got["name"].tolist() == ["Apple Inc.", "Microsoft"]
