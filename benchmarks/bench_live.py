"""Cost of the live signals inside an arrivals run, as a ratio to the ingest alone.

One 150,000-quote micro-batch (500 symbols x 300 quotes, four a minute from the open: a
random walk whose moves, SMA crossings and volume surges fire every signal kind) is
ingested twice, each time into a fresh warehouse seeded with the previous session's closes
and usual minute volumes:

* ingest alone: silver.stream_history, gold.latest_snapshot and silver.intraday_bars (the
  arrivals run without its last step);
* ingest with signals: the same plus gold.live_signals (and its alerts, to the local sink).

Both through dagster.materialize on one warm instance, alternating which goes first; the
headline compares the fastest of each (wall, and CPU beside it), and the tables the two
wrote are checked equal. The quotes are from 2024, so no alert is sent: this is the cost of
evaluating and storing the signals.

    python benchmarks/bench_live.py --records 150000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DAY, PREVIOUS = dt.date(2024, 7, 8), dt.date(2024, 7, 5)
OPEN = dt.datetime(2024, 7, 8, 13, 30, tzinfo=dt.UTC)
SYMBOLS = 500
QUOTE_SECONDS = 15
# Columns that differ between two runs of the same ingest (when they ran).
RUN_SPECIFIC = ("ingested_at", "updated_at")


def session_batch(records: int, seed: int = 17) -> tuple[bytes, pd.DataFrame, pd.DataFrame]:
    """The JSON Lines batch, the previous session's closes and its usual minute volumes."""
    rng = np.random.default_rng(seed)
    per_symbol = -(-records // SYMBOLS)
    symbols = [f"S{i:03d}" for i in range(SYMBOLS)]
    start = rng.uniform(20, 400, SYMBOLS)
    steps = rng.normal(0, 0.003, (SYMBOLS, per_symbol))
    prices = (start[:, None] * np.exp(np.cumsum(steps, axis=1))).round(4)
    trades = rng.integers(100, 2_000, (SYMBOLS, per_symbol))
    trades[rng.random((SYMBOLS, per_symbol)) < 0.01] *= 20  # the odd burst: a surge
    volumes = np.cumsum(trades, axis=1)
    lines = []
    for n in range(records):
        s, i = n % SYMBOLS, n // SYMBOLS
        ts = OPEN + dt.timedelta(seconds=i * QUOTE_SECONDS)
        record = {
            "symbol": symbols[s],
            "ts": ts.isoformat(),
            "price": float(prices[s, i]),
            "volume": int(volumes[s, i]),
            "name": f"{symbols[s]} Corp",
            "source": "bench",
        }
        lines.append(json.dumps(record))
    closes = pd.DataFrame({"symbol": symbols, "close": start.round(4)})
    minutes = per_symbol * QUOTE_SECONDS // 60 + 1
    usual = pd.DataFrame(
        {
            "symbol": np.repeat(symbols, minutes),
            "minute": np.tile(np.arange(minutes), SYMBOLS),
            "avg_volume": 60 / QUOTE_SECONDS * 1_050.0,
            "sessions": 20,
        }
    )
    return ("\n".join(lines) + "\n").encode(), closes, usual


def _seed(database: Path, closes: pd.DataFrame, usual: pd.DataFrame) -> None:
    """silver.prices of the previous session and gold.minute_volume_profile as of it."""
    import duckdb

    from stock_assets.market.schemas import MINUTE_VOLUME_PROFILE, PRICES, conform

    prices = closes.assign(
        trade_date=PREVIOUS,
        open=closes.close,
        high=closes.close,
        low=closes.close,
        adj_close=closes.close,
        volume=1_000_000,
        source="bench",
        ingested_at=pd.Timestamp("2024-07-05 21:00"),
    )
    tables = {
        PRICES: conform(prices, PRICES),
        MINUTE_VOLUME_PROFILE: conform(usual.assign(trade_date=PREVIOUS), MINUTE_VOLUME_PROFILE),
    }
    with duckdb.connect(str(database)) as conn:
        for schema, frame in tables.items():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema.layer}")
            conn.execute(schema.ddl())
            conn.register("seed", frame)
            conn.execute(f"INSERT INTO {schema.qualified_name} BY NAME SELECT * FROM seed")
            conn.unregister("seed")


def _tables(database: Path) -> dict[str, pd.DataFrame]:
    import duckdb

    names = ("silver.stream_history", "gold.latest_snapshot", "silver.intraday_bars")
    with duckdb.connect(str(database), read_only=True) as conn:
        frames = {n: conn.execute(f"SELECT * FROM {n} ORDER BY ALL").fetchdf() for n in names}
        listed = conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
        counts = {}
        if ("live_signals",) in listed:
            query = "SELECT signal, count(*) FROM gold.live_signals GROUP BY ALL ORDER BY 1"
            counts = dict(conn.execute(query).fetchall())
    frames = {n: f.drop(columns=[c for c in RUN_SPECIFIC if c in f]) for n, f in frames.items()}
    return {**frames, "signals": counts}


def bench(records: int, repeat: int = 3) -> dict:
    import dagster as dg

    from stock_assets.assets.intraday import intraday_bars
    from stock_assets.assets.live import live_signals_asset, minute_volume_profile
    from stock_assets.assets.prices import prices, raw_quotes
    from stock_assets.assets.snapshot import latest_snapshot
    from stock_assets.assets.stream import stream_assets
    from stock_assets.definitions import resources_for
    from stock_assets.market.stream import SIGNAL_FIELDS
    from stock_assets.settings import Settings

    body, closes, usual = session_batch(records)
    assets = [
        raw_quotes,
        prices,
        stream_assets,
        intraday_bars,
        minute_volume_profile,
        latest_snapshot,
    ]
    ingest_keys = [*stream_assets.keys, intraday_bars.key, latest_snapshot.key]
    instance = dg.DagsterInstance.ephemeral()

    def run(home: Path, with_signals: bool) -> tuple[float, float]:
        """Wall and CPU seconds (all threads of this process: the run executes in it) of one
        arrivals run over the batch, in a fresh warehouse under `home`."""
        home.mkdir()
        settings = Settings.from_env({"STOCK_ASSETS_DATA_DIR": str(home)})
        resources = resources_for(settings)
        _seed(home / "warehouse.duckdb", closes, usual)
        key = resources["lake"].put("landing/quotes/bench/batch.jsonl", body)
        selection = [*ingest_keys, live_signals_asset.key] if with_signals else ingest_keys
        started, cpu = time.perf_counter(), time.process_time()
        result = dg.materialize(
            [*assets, live_signals_asset],
            selection=selection,
            resources=resources,
            run_config={"ops": {"stream_assets": {"config": {"object_keys": [key]}}}},
            partition_key=DAY.isoformat(),
            instance=instance,
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert result.success
        return seconds, cpu

    pairs, cpu_pairs, outputs = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp) / "warmup", True)  # imports and the instance's storage, outside timing
        for n in range(repeat):
            order = (False, True) if n % 2 == 0 else (True, False)
            times = {}
            for with_signals in order:
                home = Path(tmp) / f"{n}-{with_signals}"
                times[with_signals] = run(home, with_signals)
                outputs[with_signals] = _tables(home / "warehouse.duckdb")
            pairs.append((times[False][0], times[True][0]))
            cpu_pairs.append((times[False][1], times[True][1]))
    alone, signals = outputs[False], outputs[True]
    for name in ("silver.stream_history", "gold.latest_snapshot", "silver.intraday_bars"):
        # The same ingest; the snapshot written after the signals also carries them.
        own = [c for c in SIGNAL_FIELDS if c in alone[name]]
        pd.testing.assert_frame_equal(
            alone[name].drop(columns=own), signals[name].drop(columns=own)
        )
    ingest_best, signals_best = min(a for a, _ in pairs), min(s for _, s in pairs)
    ratios = [s / a for a, s in pairs]
    cpu_ingest, cpu_signals = min(a for a, _ in cpu_pairs), min(s for _, s in cpu_pairs)
    return {
        "records": records,
        "repeats": repeat,
        "ingest_seconds": round(ingest_best, 3),
        "ingest_with_signals_seconds": round(signals_best, 3),
        "ratio": round(signals_best / ingest_best, 2),
        "pair_ratios_min_median_max": [
            round(min(ratios), 2),
            round(statistics.median(ratios), 2),
            round(max(ratios), 2),
        ],
        "pairs_seconds": [[round(a, 3), round(s, 3)] for a, s in pairs],
        # CPU time is what another session's load on a shared machine changes least.
        "ingest_cpu_seconds": round(cpu_ingest, 3),
        "ingest_with_signals_cpu_seconds": round(cpu_signals, 3),
        "cpu_ratio": round(cpu_signals / cpu_ingest, 2),
        "outputs_equal": True,
        "bars": len(signals["silver.intraday_bars"]),
        "signals": signals["signals"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(bench(args.records, args.repeat), indent=2))


if __name__ == "__main__":
    main()
