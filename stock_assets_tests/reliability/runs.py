"""Materializations in their own processes, and the warehouse read back for comparison.

`python -m stock_assets_tests.reliability.runs prices HOME START END SYMBOLS` backfills
bronze + silver prices for a range as one run into HOME (a STOCK_ASSETS_DATA_DIR);
`... stream HOME DAY KEY...` ingests landing objects like a sensor-requested run. With
`--wait-for FILE` the process starts materializing only once FILE exists, so two of them
start at the same instant. The exit code is 0 only when the run succeeded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

# Columns that differ between two runs of the same input by design (time of ingestion,
# and object keys that carry the run id); everything else must be identical.
RUN_SPECIFIC = ("fetched_at", "ingested_at", "object_key", "updated_at")
REPO_ROOT = Path(__file__).resolve().parents[2]


def read_tables(database: Path, names: Sequence[str], keep_run_specific: bool = False):
    """Each table's rows in a canonical order (run-specific columns dropped unless kept)."""
    frames = {}
    with duckdb.connect(str(database), read_only=True) as conn:
        for name in names:
            frame = conn.execute(f"SELECT * FROM {name}").fetchdf()
            if not keep_run_specific:
                frame = frame.drop(columns=[c for c in RUN_SPECIFIC if c in frame])
            frames[name] = frame.sort_values(list(frame.columns), ignore_index=True)
    return frames


def warehouse_tables(home: Path) -> set[str]:
    """The schema-qualified names of the tables in HOME's warehouse."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    return {f"{schema}.{table}" for schema, table in rows}


def assert_same_tables(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    assert list(got) == list(expected)
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)


def start(*args: str, wait_for: Path | None = None) -> subprocess.Popen:
    """Start this module's CLI in a new Python process (output captured)."""
    command = [sys.executable, "-m", "stock_assets_tests.reliability.runs", *args]
    if wait_for is not None:
        command += ["--wait-for", str(wait_for)]
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 120) -> int:
    """Wait for a process; its output is shown when it failed."""
    output, _ = process.communicate(timeout=timeout)
    if process.returncode != 0:
        print(output[-4000:])
    return process.returncode


def recorded_market_data(server, sleep, symbols: str):
    """The alpha_vantage source over recorded answers (RecordedAlphaVantage replaces only
    the socket); the key comes from ALPHA_VANTAGE_API_KEY through EnvVar, as in production."""
    import dagster as dg

    from stock_assets.market.sources.alpha_vantage import AlphaVantageSource
    from stock_assets.resources.market_data import MarketDataResource
    from stock_assets_tests.market.sources.test_alpha_vantage import AFTER_CLOSE

    class RecordedMarketData(MarketDataResource):
        def client(self) -> AlphaVantageSource:
            return AlphaVantageSource(
                self.alpha_vantage_api_key or "",
                session=server.session(),
                sleep=sleep,
                now=lambda: AFTER_CLOSE,
            )

    return RecordedMarketData(
        source="alpha_vantage",
        symbols=symbols,
        alpha_vantage_api_key=dg.EnvVar("ALPHA_VANTAGE_API_KEY"),
    )


def backfill(resources: dict, first: str, last: str) -> bool:
    """bronze + silver prices for a range of trading days, as one run."""
    import dagster as dg

    from stock_assets.assets.prices import prices, raw_quotes

    return dg.materialize(
        [raw_quotes, prices],
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        raise_on_error=False,
    ).success


def backfill_prices(home: Path, first: str, last: str, symbols: str) -> bool:
    """`backfill` with the local resources of the data home `home`."""
    from stock_assets_tests.conftest import local_resources

    return backfill(local_resources(home, symbols=symbols), first, last)


def ingest_landing(home: Path, day: str, keys: list[str]) -> bool:
    """A stream run over landing objects, as the arrivals sensor requests it."""
    import dagster as dg

    from stock_assets.assets.snapshot import latest_snapshot
    from stock_assets.assets.stream import LandingBatchConfig, stream_assets
    from stock_assets_tests.conftest import local_resources

    return dg.materialize(
        [stream_assets, latest_snapshot],
        resources=local_resources(home),
        run_config=dg.RunConfig(ops={"stream_assets": LandingBatchConfig(object_keys=keys)}),
        partition_key=day,
        raise_on_error=False,
    ).success


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job", choices=["prices", "stream"])
    parser.add_argument("home", type=Path)
    parser.add_argument("args", nargs="+")
    parser.add_argument("--wait-for", type=Path)
    options = parser.parse_args(argv)
    if options.wait_for is not None:
        while not options.wait_for.exists():
            time.sleep(0.005)
    if options.job == "prices":
        success = backfill_prices(options.home, *options.args)
    else:
        day, *keys = options.args
        success = ingest_landing(options.home, day, keys)
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
