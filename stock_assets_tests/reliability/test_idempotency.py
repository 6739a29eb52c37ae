"""Re-materializing a partition gives the same tables (apart from ingestion timestamps)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from stock_assets.assets.gold import indicators, market_summary, signals
from stock_assets.assets.prices import corporate_actions, prices, raw_quotes
from stock_assets.assets.snapshot import latest_snapshot
from stock_assets.assets.stream import stream_assets
from stock_assets.market import schemas
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets_tests.conftest import JULY_2024, local_resources
from stock_assets_tests.reliability.runs import RUN_SPECIFIC, assert_same_tables, read_tables

BATCH_TABLES = tuple(t.qualified_name for t in schemas.BATCH_TABLES)
STREAM_TABLES = ("silver.stream_history", "gold.latest_snapshot")
SYMBOLS = "AAPL,MSFT,ARM"


def materialize(resources: dict, first: dt.date, last: dt.date) -> None:
    result = dg.materialize(
        [raw_quotes, prices, corporate_actions, indicators, signals, market_summary],
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )
    assert result.success


def test_rematerializing_batch_partitions_reproduces_every_table(data_home, reliability_record):
    # A 20 % fault rate puts rejected records (and duplicates) in the run as well.
    resources = local_resources(data_home, symbols=SYMBOLS, fault_rate=0.2)
    warehouse = data_home / "warehouse.duckdb"
    materialize(resources, *JULY_2024)
    first = read_tables(warehouse, BATCH_TABLES)
    middle = dt.date(2024, 7, 8)
    materialize(resources, middle, middle)  # one partition alone
    after_one = read_tables(warehouse, BATCH_TABLES)
    materialize(resources, *JULY_2024)  # the whole range again
    after_all = read_tables(warehouse, BATCH_TABLES)

    assert_same_tables(after_one, first)
    assert_same_tables(after_all, first)
    assert len(first["silver.price_rejects"]) > 0 and len(first["gold.signals"]) > 0
    counts = ", ".join(f"{name} {len(frame)}" for name, frame in first.items())
    reliability_record(
        "idempotency",
        "batch tables: 9 sessions x 3 symbols (20 % bad records) re-materialized for one "
        "partition, then for the whole range",
        f"identical rows each time except {', '.join(RUN_SPECIFIC)}: {counts}",
    )


def test_rerunning_a_stream_run_reproduces_history_and_snapshot(data_home, reliability_record):
    resources = local_resources(data_home)
    keys = [f"landing/quotes/2024/07/05/b{minute}.jsonl" for minute in (30, 31)]
    for key, minute in zip(keys, (30, 31), strict=True):
        as_of = dt.datetime(2024, 7, 5, 14, minute, tzinfo=dt.UTC)
        quotes = SimulatedSource().latest_quotes(SYMBOLS.split(","), as_of)
        resources["lake"].put(key, encode_micro_batch(quotes))

    def run() -> dict:
        assert dg.materialize(
            [stream_assets, latest_snapshot],
            resources=resources,
            run_config={"ops": {"stream_assets": {"config": {"object_keys": keys}}}},
            partition_key="2024-07-05",
        ).success
        return read_tables(data_home / "warehouse.duckdb", STREAM_TABLES, keep_run_specific=True)

    first, again = run(), run()
    assert_same_tables(again, first)  # merged: even the ingestion timestamps are kept
    symbols = len(SYMBOLS.split(","))
    assert len(first["silver.stream_history"]) == symbols * len(keys)  # not two empty runs
    assert len(first["gold.latest_snapshot"]) == symbols
    reliability_record(
        "idempotency",
        "stream run over the same 2 landing objects executed twice",
        f"identical rows, ingestion timestamps included: stream_history "
        f"{len(first['silver.stream_history'])}, latest_snapshot "
        f"{len(first['gold.latest_snapshot'])}",
    )
