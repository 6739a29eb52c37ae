"""Expert reference: one daily session by hand, with DuckDB, pandas and TA-Lib.

What an engineer who knows the tables would write for the evening's batch, with no
orchestrator and none of the project's pipeline code: pull the session's quotes from the
same vendor (the simulator), keep them verbatim as a JSON Lines object and in
bronze.raw_quotes, parse and validate them in DuckDB into silver.prices, compute the
indicators with TA-Lib over the same anchored window (market.lookback: the series start
that makes values reproducible), detect the five signals and the market summary in numpy,
and run the same data-quality rules as SQL aggregates over the session's rows. The
project is used only for the vendor, the exchange calendar and the window anchor.

It does not do the intraday part of the daily job (vendor minute bars, daily KPIs, the
volume profile), the charts, the views or alerting; bench_daily reports that with the ratio.

    python benchmarks/expert_daily.py --database warehouse.duckdb --lake lake \
        --day 2025-01-08 --symbols S000,S001

Prints the seconds of each step as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import talib

from stock_assets.market import lookback
from stock_assets.market.sources.simulated import SimulatedSource

FIELDS = '{"symbol": "VARCHAR", "date": "VARCHAR", "open": "DOUBLE", "high": "DOUBLE", '
FIELDS += '"low": "DOUBLE", "close": "DOUBLE", "adj_close": "DOUBLE", "volume": "BIGINT"}'
INDICATORS = [
    *("sma_5", "sma_20", "sma_50", "ema_12", "ema_26", "macd", "macd_signal", "macd_hist"),
    *("bb_upper", "bb_middle", "bb_lower", "rsi_14", "volatility_20", "pct_change"),
]
REL_TOL = 1e-9

SILVER = f"""
WITH parsed AS (
    SELECT r.symbol AS key_symbol, r.record_no, r.source, r.object_key, r.payload,
           json_transform(r.payload, '{FIELDS}') AS p
    FROM bronze.raw_quotes r WHERE r.trade_date = $day
), typed AS (
    SELECT *, p.symbol AS symbol, TRY_CAST(p.date AS DATE) AS trade_date,
        CASE
            WHEN p.symbol IS DISTINCT FROM key_symbol THEN 'symbol does not match the request'
            WHEN TRY_CAST(p.date AS DATE) IS DISTINCT FROM $day THEN 'date is not the session'
            WHEN NOT (isfinite(p.open) AND isfinite(p.high) AND isfinite(p.low)
                      AND isfinite(p.close) AND isfinite(p.adj_close)) THEN 'price not finite'
            WHEN least(p.open, p.high, p.low, p.close, p.adj_close) <= 0 THEN 'price <= 0'
            WHEN p.volume IS NULL OR p.volume < 0 THEN 'volume missing or < 0'
            WHEN p.high < greatest(p.open, p.close) OR p.low > least(p.open, p.close)
                THEN 'high/low inconsistent'
        END AS reason
    FROM parsed
)
SELECT * FROM typed
"""


def pull(symbols: list[str], day: dt.date, database: str, lake: Path) -> None:
    """The session's vendor records, as a lake object and as bronze rows."""
    extraction = SimulatedSource().fetch(symbols, day, day)
    fetched_at = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    key = f"bronze/raw_quotes/{day:%Y/%m/%d}/{extraction.source}-{fetched_at:%Y%m%dT%H%M%SZ}.jsonl"
    lines = [
        json.dumps({"record_no": i, "symbol": r.symbol, "payload": r.payload})
        for i, r in enumerate(extraction.records)
    ]
    (lake / key).parent.mkdir(parents=True, exist_ok=True)
    (lake / key).write_text("\n".join(lines) + "\n")
    rows = pa.table(
        {
            "symbol": [r.symbol for r in extraction.records],
            "trade_date": pa.array([day] * len(lines), pa.date32()),
            "record_no": pa.array(range(len(lines)), pa.int32()),
            "payload": [r.payload for r in extraction.records],
            "source": [extraction.source] * len(lines),
            "fetched_at": pa.array([fetched_at] * len(lines), pa.timestamp("us")),
            "object_key": [key] * len(lines),
        }
    )
    with duckdb.connect(database) as conn:
        conn.execute("DELETE FROM bronze.raw_quotes WHERE trade_date = ?", [day])
        conn.register("pulled", rows)
        conn.execute("INSERT INTO bronze.raw_quotes BY NAME SELECT * FROM pulled")


def clean(day: dt.date, database: str) -> None:
    """bronze -> silver in DuckDB: parse, validate, keep the last record per symbol."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with duckdb.connect(database) as conn:
        conn.execute(f"CREATE TEMP TABLE typed AS {SILVER}", {"day": day})
        conn.execute("DELETE FROM silver.prices WHERE trade_date = ?", [day])
        conn.execute(
            "INSERT INTO silver.prices BY NAME SELECT symbol, trade_date, p.open AS open, "
            "p.high AS high, p.low AS low, p.close AS close, p.adj_close AS adj_close, "
            "p.volume AS volume, source, ? AS ingested_at FROM typed WHERE reason IS NULL "
            "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY record_no DESC) = 1",
            [now],
        )
        conn.execute("DELETE FROM silver.price_rejects WHERE trade_date = ?", [day])
        conn.execute(
            "INSERT INTO silver.price_rejects BY NAME SELECT object_key, record_no, "
            "key_symbol AS symbol, $day AS trade_date, source, reason, payload "
            "FROM typed WHERE reason IS NOT NULL",
            {"day": day},
        )


def indicators(day: dt.date, database: str) -> pd.DataFrame:
    """TA-Lib per symbol over the anchored window; the whole window's rows (the signals
    need the earlier ones), the session's rows written to gold.indicators."""
    with duckdb.connect(database) as conn:
        prices = conn.execute(
            "SELECT symbol, trade_date, close, volume FROM silver.prices "
            "WHERE trade_date BETWEEN ? AND ? ORDER BY symbol, trade_date",
            [lookback.window_start(day), day],
        ).df()
        close = prices["close"].to_numpy(dtype=np.float64)
        out = np.full((len(INDICATORS), len(close)), np.nan)
        symbol = prices["symbol"].to_numpy()
        bounds = np.flatnonzero(np.r_[True, symbol[1:] != symbol[:-1], True])
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            c, o = close[lo:hi], out[:, lo:hi]
            o[0], o[1], o[2] = talib.SMA(c, 5), talib.SMA(c, 20), talib.SMA(c, 50)
            o[3], o[4] = talib.EMA(c, 12), talib.EMA(c, 26)
            o[5], o[6], o[7] = talib.MACD(c, 12, 26, 9)
            o[8], o[9], o[10] = talib.BBANDS(c, 20, 2.0, 2.0, 0)
            o[11] = talib.RSI(c, 14)
            if hi - lo > 1:
                o[13, 1:] = 100.0 * (c[1:] - c[:-1]) / c[:-1]
                # TA-Lib's STDDEV is the population deviation: scaled to the sample one.
                o[12, 1:] = talib.STDDEV(np.log(c[1:] / c[:-1]), 20, 1.0) * np.sqrt(20 / 19 * 252)
        frame = pd.concat([prices, pd.DataFrame(out.T, columns=INDICATORS)], axis=1)
        conn.register("today", frame[frame["trade_date"] == pd.Timestamp(day)])
        conn.execute("DELETE FROM gold.indicators WHERE trade_date = ?", [day])
        conn.execute("INSERT INTO gold.indicators BY NAME SELECT * FROM today")
    return frame


def signals(window: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The five signals of the session, from each symbol's last 21 rows of the window."""
    from_end = window.groupby("symbol").cumcount(ascending=False)
    recent = window[from_end <= 20]
    now = recent[from_end <= 0].set_index("symbol")
    now = now[now["trade_date"] == pd.Timestamp(day)]
    before = recent[from_end == 1].set_index("symbol").reindex(now.index)
    earlier = recent[from_end >= 1].groupby("symbol")["volume"].agg(["sum", "count", "size"])
    earlier = earlier.reindex(now.index)
    fast, slow, close = now["sma_5"], now["sma_20"], now["close"]
    was_fast, was_slow = before["sma_5"], before["sma_20"]
    known = fast.notna() & slow.notna() & was_fast.notna() & was_slow.notna()
    tol, was = REL_TOL * slow.abs(), REL_TOL * was_slow.abs()
    full = (earlier["size"] == 20) & (earlier["count"] == 20)
    baseline = (earlier["sum"] / 20).where(full)
    ratio = now["volume"] / baseline.where(baseline > 0)
    upper, lower = now["bb_upper"], now["bb_lower"]
    over = close - upper > REL_TOL * upper.abs()
    under = lower - close > REL_TOL * lower.abs()
    band = upper.where(over, lower)
    fired = {
        "BUY": (known & (fast - slow > tol) & ~(was_fast - was_slow > was), close),
        "SELL": (known & (slow - fast > tol) & ~(was_slow - was_fast > was), close),
        "ANOMALY": (now["pct_change"].fillna(0).abs() > 5.0, now["pct_change"]),
        "VOLUME_SPIKE": (ratio > 2.0, ratio),
        "BB_BREAKOUT": (over | under, 100.0 * (close - band) / band.abs()),
    }
    found = pd.concat(
        [
            pd.DataFrame({"symbol": value[mask].index, "signal": name, "value": value[mask]})
            for name, (mask, value) in fired.items()
        ],
        ignore_index=True,
    )
    found.insert(1, "trade_date", day)
    found["reason"] = found["signal"]
    return found.sort_values(["symbol", "signal"], kind="stable", ignore_index=True)


def summary(window: pd.DataFrame, found: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Breadth, top movers and signal counts of the session."""
    today = window[window["trade_date"] == pd.Timestamp(day)]
    pct = today.set_index("symbol")["pct_change"].dropna()
    gain = pct[pct > 0].sort_index().sort_values(ascending=False, kind="stable")
    loss = pct[pct < 0].sort_index().sort_values(kind="stable")
    best = pct.sort_index().sort_values(ascending=False, kind="stable")
    worst = pct.sort_index().sort_values(kind="stable")

    def movers(ranked: pd.Series) -> str | None:
        return ", ".join(f"{s} {v:+.1f}%" for s, v in ranked.head(3).items()) or None

    return pd.DataFrame(
        [
            {
                "trade_date": day,
                "symbols": today["symbol"].nunique(),
                "advancers": int((pct > 0).sum()),
                "decliners": int((pct < 0).sum()),
                "unchanged": int((pct == 0).sum()),
                "top_gainers": movers(gain),
                "top_losers": movers(loss),
                "best_symbol": best.index[0] if len(best) else None,
                "best_pct": best.iloc[0] if len(best) else None,
                "worst_symbol": worst.index[0] if len(worst) else None,
                "worst_pct": worst.iloc[0] if len(worst) else None,
                "anomaly_count": int((found["signal"] == "ANOMALY").sum()),
                "signal_count": len(found),
            }
        ]
    )


CHECKS = {
    "silver.prices": (
        "count(*) FILTER (WHERE symbol IS NULL OR trade_date IS NULL)",
        "count(*) - count(DISTINCT (symbol, trade_date))",
        "count(*) FILTER (WHERE NOT (open > 0 AND high > 0 AND low > 0 AND close > 0 "
        "AND adj_close > 0 AND isfinite(open + high + low + close + adj_close)))",
        "count(*) FILTER (WHERE high < greatest(open, close) OR low > least(open, close))",
        "count(*) FILTER (WHERE volume IS NULL OR volume < 0)",
        "(SELECT count(*) FROM unnest($symbols) s(symbol)) - count(DISTINCT symbol)",
    ),
    "gold.indicators": (
        "count(*) - count(DISTINCT (symbol, trade_date))",
        "count(*) FILTER (WHERE NOT bb_lower <= bb_middle OR NOT bb_middle <= bb_upper)",
        "count(*) FILTER (WHERE NOT rsi_14 BETWEEN 0 AND 100)",
    ),
    "gold.signals": ("count(*) - count(DISTINCT (symbol, trade_date, signal))",),
    "gold.market_summary": ("abs(count(*) - 1)",),
}


def checks(day: dt.date, symbols: list[str], database: str) -> int:
    """The session's rows judged in SQL, one aggregate query per table: failing rules."""
    failed = 0
    with duckdb.connect(database, read_only=True) as conn:
        for table, rules in CHECKS.items():
            query = f"SELECT {', '.join(rules)} FROM {table} WHERE trade_date = $day"
            used = {"day": day, **({"symbols": symbols} if "$symbols" in query else {})}
            failed += sum(value != 0 for value in conn.execute(query, used).fetchone())
    return failed


def run(database: str, lake: Path, day: dt.date, symbols: list[str]) -> dict[str, float]:
    seconds, started = {}, time.perf_counter()

    def lap(step: str) -> None:
        nonlocal started
        seconds[step] = time.perf_counter() - started
        started = time.perf_counter()

    pull(symbols, day, database, lake)
    lap("pull")
    clean(day, database)
    lap("clean")
    window = indicators(day, database)
    lap("indicators")
    found = signals(window, day)
    table = summary(window, found, day)
    with duckdb.connect(database) as conn:
        for name, frame in (("gold.signals", found), ("gold.market_summary", table)):
            conn.register("frame", frame)
            conn.execute(f"DELETE FROM {name} WHERE trade_date = ?", [day])
            conn.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
            conn.unregister("frame")
    lap("signals and summary")
    seconds["failed_rules"] = checks(day, symbols, database)
    lap("checks")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--symbols", required=True, help="comma-separated")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database, args.lake, args.day, args.symbols.split(","))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
