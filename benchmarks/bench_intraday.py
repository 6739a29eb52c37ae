"""Intraday bars benchmark: one session of 1-minute bars from ~4 quotes per bar.

Ours (market.intraday.bars_from_quotes) against a bare DuckDB aggregation of the same
quotes in the same process (the reference SQL of the unit tests), outputs checked equal.
Ours runs first, so the resident-set peak read after it is ours alone.

    python benchmarks/bench_intraday.py --symbols 500
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2024, 7, 2)
QUOTES_PER_BAR = 4


def session_quotes(symbols: int, seed: int = 16) -> pd.DataFrame:
    """~4 quotes in each minute of the session per symbol, cumulative volume rising."""
    from stock_assets.market.intraday import session_minutes

    rng = np.random.default_rng(seed)
    minutes = session_minutes(DAY).to_numpy().view(np.int64)
    per_symbol = len(minutes) * QUOTES_PER_BAR
    # Distinct millisecond offsets inside each minute: 4 of 60,000 per bar.
    offsets = np.sort(rng.integers(0, 15_000, (symbols, len(minutes), QUOTES_PER_BAR)), axis=2)
    offsets = offsets + np.arange(QUOTES_PER_BAR) * 15_000
    ts = (minutes[None, :, None] + offsets * 1_000).reshape(-1)
    steps = rng.normal(0, 0.0005, (symbols, per_symbol))
    price = (100 * np.exp(np.cumsum(steps, axis=1))).round(4).reshape(-1)
    volume = np.cumsum(rng.integers(0, 400, (symbols, per_symbol)), axis=1).reshape(-1)
    names = np.array([f"S{n:05d}" for n in range(symbols)], dtype=object)
    return pd.DataFrame(
        {
            "symbol": np.repeat(names, per_symbol),
            "ts": ts.astype("datetime64[us]"),
            "price": price,
            "volume": volume,
        }
    )


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def bench(symbols: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from stock_assets.market.intraday import bars_from_quotes
    from stock_assets_tests.market.test_intraday import reference_bars, xnys_sessions

    quotes = session_quotes(symbols)
    sessions = xnys_sessions(DAY, DAY)  # the calendar is not part of either timing
    bars_from_quotes(quotes.iloc[:10])  # nor is ours: the calendar cache, first imports
    before = peak_rss_bytes()
    started, cpu = time.perf_counter(), time.process_time()
    ours = bars_from_quotes(quotes)
    ours_seconds, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
    ours_peak = peak_rss_bytes()
    started, cpu = time.perf_counter(), time.process_time()
    bare = reference_bars(quotes, sessions)
    bare_seconds, bare_cpu = time.perf_counter() - started, time.process_time() - cpu
    equal = (
        len(ours) == len(bare)
        and (ours["symbol"].to_numpy() == bare["symbol"].to_numpy()).all()
        and (ours["bar_start"].to_numpy() == bare["bar_start"].to_numpy()).all()
        and all(
            np.allclose(ours[c].to_numpy(float), bare[c].to_numpy(float), rtol=1e-12)
            for c in ("open", "high", "low", "close", "vwap")
        )
        and (ours["volume"].to_numpy(np.int64) == bare["volume"].to_numpy(np.int64)).all()
        and (ours["quotes"].to_numpy(np.int64) == bare["quotes"].to_numpy(np.int64)).all()
    )
    return {
        "symbols": symbols,
        "quotes": len(quotes),
        "bars": len(ours),
        "ours_seconds": ours_seconds,
        "bare_duckdb_seconds": bare_seconds,
        "ratio": ours_seconds / bare_seconds,
        # CPU seconds of the process: on a shared machine, what the wall time cannot show.
        "ours_cpu_seconds": ours_cpu,
        "bare_duckdb_cpu_seconds": bare_cpu,
        "outputs_equal": bool(equal),
        "peak_rss_before_ours_bytes": before,
        "peak_rss_ours_bytes": ours_peak,
        "peak_rss_with_duckdb_bytes": peak_rss_bytes(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = bench(args.symbols)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0 if result["outputs_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
