"""Benchmark: the dashboard's symbol page over ten years of daily bars and a full session
of one-minute bars.

A warehouse of `--symbols` x `--days` synthetic bars (bench_indicators' random walks, with
their indicators and signals), quarterly dividends and a split for every tenth symbol
(silver.corporate_actions, read by the gold.adjusted_prices view), and the one-minute bars
of the last `--minute-sessions` full sessions of every symbol is written to DuckDB with the
contract DDL and the project's view. One page view is what the symbol page does on the
server for a price basis (`queries.PRICE_TABLES`; the first is the page's default): its
three queries through the SQL engine (bars with indicators and 7/30-session averages,
signals, the newest session's minute bars; read-only, pushed down to one symbol), the two
Plotly figures, and their JSON (what Streamlit sends to the browser). Timed cold (first
view of the default basis in the process) and as the best of `--repeat` views per basis;
the figure is the slower basis. The reference is the same page fed by loading the three
whole tables into pandas and filtering there.

Usage: python benchmarks/bench_dashboard.py --symbols 500 --days 2520 --repeat 3 \
           --out benchmarks/results/dashboard.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import plotly.io
from bench_indicators import synthetic_prices

from stock_assets.dashboard.charts import minute_figure, symbol_figure
from stock_assets.dashboard.queries import PRICE_TABLES, Warehouse
from stock_assets.market import calendar
from stock_assets.market.indicators import compute_indicators
from stock_assets.market.intraday import session_minutes
from stock_assets.market.schemas import (
    CORPORATE_ACTIONS,
    INDICATORS,
    INTRADAY_BARS,
    PRICES,
    SIGNALS,
    TABLES,
    conform,
)
from stock_assets.market.signals import SignalThresholds, detect_signals
from stock_assets.market.sql import load_views
from stock_assets.resources.sql_engine import DuckDBSqlEngine

TARGET_SECONDS = 2.0
DIVIDEND_EVERY = 63  # sessions: quarterly
SPLIT_EVERY = 10  # symbols: every tenth has one 2-for-1 split in the middle of its history


def synthetic_actions(prices: pd.DataFrame) -> pd.DataFrame:
    """silver.corporate_actions: each symbol's quarterly dividend (0.5% of that day's close)
    and, for every SPLIT_EVERY-th symbol, one 2-for-1 split."""
    days = sorted(prices.trade_date.unique())
    closes = prices.set_index(["symbol", "trade_date"]).close
    rows = []
    for n, symbol in enumerate(prices.symbol.unique()):
        for day in days[DIVIDEND_EVERY::DIVIDEND_EVERY]:
            rows.append((symbol, day, "DIVIDEND", None, 0.005 * closes[symbol, day]))
        if n % SPLIT_EVERY == 0:
            rows.append((symbol, days[len(days) // 2], "SPLIT", 2.0, None))
    frame = pd.DataFrame(rows, columns=["symbol", "ex_date", "action", "ratio", "amount"])
    frame = frame.assign(source="synthetic", ingested_at=pd.Timestamp("2025-01-01"))
    return conform(frame, CORPORATE_ACTIONS)


def synthetic_minute_bars(prices: pd.DataFrame, sessions: int, seed: int = 21) -> pd.DataFrame:
    """silver.intraday_bars: every symbol's one-minute bars of the last `sessions` full NYSE
    sessions of the history, random walks from that day's open."""
    days = [d for d in sorted(prices.trade_date.unique()) if calendar.is_session(d)]
    full = [d for d in days if len(session_minutes(d)) == 390][-sessions:]
    rng = np.random.default_rng(seed)
    opens = prices.set_index(["trade_date", "symbol"]).open
    frames = []
    for day in full:
        starts = session_minutes(day)
        day_opens = opens[day]
        walk = np.exp(np.cumsum(rng.normal(0, 0.0005, (len(day_opens), len(starts))), axis=1))
        close = day_opens.to_numpy()[:, None] * walk
        volume = rng.integers(100, 50_000, close.shape)
        frames.append(
            pd.DataFrame(
                {
                    "symbol": np.repeat(day_opens.index.to_numpy(), len(starts)),
                    "trade_date": day,
                    "bar_start": np.tile(starts.to_numpy(), len(day_opens)),
                    "open": close.ravel() * 0.9999,
                    "high": close.ravel() * 1.0005,
                    "low": close.ravel() * 0.9995,
                    "close": close.ravel(),
                    "volume": volume.ravel(),
                    "vwap": close.ravel(),
                    "quotes": 4,
                    "source": "stream",
                    "ingested_at": pd.Timestamp("2025-01-01"),
                }
            )
        )
    return conform(pd.concat(frames, ignore_index=True), INTRADAY_BARS)


def build_warehouse(
    path: Path, symbols: int, days: int, minute_sessions: int
) -> tuple[dt.date, dt.date]:
    """The tables and the view the symbol page reads, for the synthetic history."""
    prices = conform(synthetic_prices(symbols, days), PRICES)
    indicators = conform(compute_indicators(prices), INDICATORS)
    signals = conform(detect_signals(indicators, SignalThresholds()), SIGNALS)
    with duckdb.connect(str(path)) as conn:
        for table in TABLES.values():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.layer}")
            conn.execute(table.ddl())
        for name, frame in [
            ("silver.prices", prices),
            ("gold.indicators", indicators),
            ("gold.signals", signals),
            ("silver.corporate_actions", synthetic_actions(prices)),
            ("silver.intraday_bars", synthetic_minute_bars(prices, minute_sessions)),
        ]:
            conn.register("frame", frame)
            conn.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
            conn.unregister("frame")
    (adjusted,) = (view for view in load_views() if view.qualified_name == "gold.adjusted_prices")
    DuckDBSqlEngine(database=str(path)).create_view(adjusted)
    return prices.trade_date.min(), prices.trade_date.max()


def page_view(warehouse: Warehouse, symbol: str, first: dt.date, last: dt.date, basis: str) -> dict:
    """The symbol page's sections (`screens/symbol.py`) without Streamlit: daily, minutes."""
    started = time.perf_counter()
    history = warehouse.symbol_history(symbol, first, last, basis)
    signals = warehouse.signals_between(first, last, symbol)
    minutes = warehouse.latest_session_bars(symbol, last)
    queried = time.perf_counter()
    payloads = [
        plotly.io.to_json(figure, validate=False)
        for figure in (symbol_figure(symbol, history, signals), minute_figure(symbol, minutes))
    ]
    drawn = time.perf_counter()
    return {
        "seconds": drawn - started,
        "query_seconds": queried - started,
        "figure_seconds": drawn - queried,
        "bars": len(history),
        "minute_bars": len(minutes),
        "signals": len(signals),
        "figure_bytes": sum(map(len, payloads)),
    }


def whole_table_view(database: Path, symbol: str) -> float:
    """The reference: the tables loaded whole, the symbol filtered in pandas."""
    started = time.perf_counter()
    with duckdb.connect(str(database), read_only=True) as conn:
        prices = conn.execute("SELECT * FROM silver.prices").fetchdf()
        indicators = conn.execute("SELECT * FROM gold.indicators").fetchdf()
        minutes = conn.execute("SELECT * FROM silver.intraday_bars").fetchdf()
    prices = prices[prices.symbol == symbol]
    indicators = indicators[indicators.symbol == symbol]
    prices.merge(indicators, on=["symbol", "trade_date"], how="left")
    minutes = minutes[minutes.symbol == symbol]
    minutes[minutes.trade_date == minutes.trade_date.max()]
    return time.perf_counter() - started


def run(symbols: int, days: int, repeat: int, home: Path, minute_sessions: int = 5) -> dict:
    database = home / "warehouse.duckdb"
    built = time.perf_counter()
    first, last = build_warehouse(database, symbols, days, minute_sessions)
    build_seconds = time.perf_counter() - built
    symbol = f"SYM{symbols // 2 // SPLIT_EVERY * SPLIT_EVERY:04d}"  # one with a split
    warehouse = Warehouse(DuckDBSqlEngine(database=str(database)))
    default = next(iter(PRICE_TABLES))
    cold = page_view(warehouse, symbol, first, last, default)
    bases = {
        basis: min(
            (page_view(warehouse, symbol, first, last, basis) for _ in range(repeat)),
            key=lambda view: view["seconds"],
        )
        for basis in PRICE_TABLES
    }
    reference = min(whole_table_view(database, symbol) for _ in range(repeat))
    return {
        "symbols": symbols,
        "days": days,
        "minute_sessions": minute_sessions,
        "symbol": symbol,
        "build_seconds": build_seconds,
        "cold": cold,
        "best": bases[default],
        "bases": bases,
        "ours_seconds": max(view["seconds"] for view in bases.values()),
        "whole_tables_seconds": reference,
        "target_seconds": TARGET_SECONDS,
        "date_range": [str(first), str(last)],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=2520)
    parser.add_argument("--minute-sessions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_dashboard_") as tmp:
        result = run(args.symbols, args.days, args.repeat, Path(tmp), args.minute_sessions)
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
