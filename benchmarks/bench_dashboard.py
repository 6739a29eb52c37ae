"""Benchmark: the dashboard's symbol page over ten years of daily bars.

A warehouse of `--symbols` x `--days` synthetic bars (bench_indicators' random walks, with
their indicators and signals) is written to DuckDB with the contract DDL. One page view is
what the symbol page does on the server: its two queries through the SQL engine (bars with
indicators and 7/30-session averages, then signals; read-only, pushed down to one symbol),
the Plotly figure, and the figure's JSON (what Streamlit sends to the browser). Timed cold
(first view in the process) and as the best of `--repeat` views. The reference is the
same page fed by loading the two whole tables into pandas and filtering there.

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
import plotly.io
from bench_indicators import synthetic_prices

from stock_assets.dashboard.charts import symbol_figure
from stock_assets.dashboard.queries import Warehouse
from stock_assets.market.indicators import compute_indicators
from stock_assets.market.schemas import INDICATORS, PRICES, SIGNALS, TABLES, conform
from stock_assets.market.signals import SignalThresholds, detect_signals
from stock_assets.resources.sql_engine import DuckDBSqlEngine

TARGET_SECONDS = 2.0


def build_warehouse(path: Path, symbols: int, days: int) -> tuple[dt.date, dt.date]:
    """silver.prices, gold.indicators and gold.signals for the synthetic history."""
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
        ]:
            conn.register("frame", frame)
            conn.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
            conn.unregister("frame")
    return prices.trade_date.min(), prices.trade_date.max()


def page_view(warehouse: Warehouse, symbol: str, first: dt.date, last: dt.date) -> dict:
    started = time.perf_counter()
    history = warehouse.symbol_history(symbol, first, last)
    signals = warehouse.signals_between(first, last, symbol)
    queried = time.perf_counter()
    payload = plotly.io.to_json(symbol_figure(symbol, history, signals), validate=False)
    drawn = time.perf_counter()
    return {
        "seconds": drawn - started,
        "query_seconds": queried - started,
        "figure_seconds": drawn - queried,
        "bars": len(history),
        "signals": len(signals),
        "figure_bytes": len(payload),
    }


def whole_table_view(database: Path, symbol: str) -> float:
    """The reference: both tables loaded whole, the symbol filtered in pandas."""
    started = time.perf_counter()
    with duckdb.connect(str(database), read_only=True) as conn:
        prices = conn.execute("SELECT * FROM silver.prices").fetchdf()
        indicators = conn.execute("SELECT * FROM gold.indicators").fetchdf()
    prices = prices[prices.symbol == symbol]
    indicators = indicators[indicators.symbol == symbol]
    prices.merge(indicators, on=["symbol", "trade_date"], how="left")
    return time.perf_counter() - started


def run(symbols: int, days: int, repeat: int, home: Path) -> dict:
    database = home / "warehouse.duckdb"
    built = time.perf_counter()
    first, last = build_warehouse(database, symbols, days)
    build_seconds = time.perf_counter() - built
    symbol = f"SYM{symbols // 2:04d}"
    warehouse = Warehouse(DuckDBSqlEngine(database=str(database)))
    cold = page_view(warehouse, symbol, first, last)
    warm = min(
        (page_view(warehouse, symbol, first, last) for _ in range(repeat)),
        key=lambda view: view["seconds"],
    )
    reference = min(whole_table_view(database, symbol) for _ in range(repeat))
    return {
        "symbols": symbols,
        "days": days,
        "build_seconds": build_seconds,
        "cold": cold,
        "best": warm,
        "ours_seconds": warm["seconds"],
        "whole_tables_seconds": reference,
        "target_seconds": TARGET_SECONDS,
        "date_range": [str(first), str(last)],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=2520)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_dashboard_") as tmp:
        result = run(args.symbols, args.days, args.repeat, Path(tmp))
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
