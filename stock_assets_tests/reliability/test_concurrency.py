"""Runs racing on the same partition or landing object: nothing is duplicated.

DuckDB lets one process write a file at a time; the second one's connection fails with
"Could not set lock on file" and the IO manager must wait its turn (its connect backs off
on that error) instead of failing the run. On S3 the race is on the Glue
catalog: the fault proxy makes two runs create the same partition at the same instant.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import dagster as dg
import pytest

from stock_assets.assets.stream import HISTORY_KEY, stream_assets
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.resources.aws import aws_resources
from stock_assets_tests.io_managers.test_s3_parquet import read
from stock_assets_tests.reliability.fault_proxy import (
    HOLD,
    PROXIED_BUCKET,
    Fault,
)
from stock_assets_tests.reliability.runs import (
    assert_same_tables,
    backfill_prices,
    finish,
    read_tables,
    start,
)

PRICE_TABLES = ("bronze.raw_quotes", "silver.prices")
STREAM_TABLES = ("silver.stream_history", "gold.latest_snapshot")
SYMBOLS = "AAPL,MSFT,ARM"
FIRST, LAST = "2024-07-01", "2024-07-03"


def race(tmp_path: Path, *commands: tuple[str, ...]) -> list[int]:
    """Start every command at the same instant (a barrier file); return their exit codes."""
    go = tmp_path / "go"
    processes = [start(*command, wait_for=go) for command in commands]
    go.touch()
    return [finish(p) for p in processes]


def duplicates(frame, keys: list[str]) -> int:
    return int(frame.duplicated(keys).sum())


@pytest.mark.slow
def test_two_runs_of_the_same_partitions_at_once_both_succeed_without_duplicates(
    tmp_path, reliability_record
):
    clean, raced = tmp_path / "clean", tmp_path / "raced"
    codes = race(tmp_path, *[("prices", str(raced), FIRST, LAST, SYMBOLS)] * 2)
    assert backfill_prices(clean, FIRST, LAST, SYMBOLS)  # the reference: one run alone

    assert codes == [0, 0]
    got = read_tables(raced / "warehouse.duckdb", PRICE_TABLES)
    assert duplicates(got["silver.prices"], ["symbol", "trade_date"]) == 0
    assert duplicates(got["bronze.raw_quotes"], ["symbol", "trade_date", "record_no"]) == 0
    assert_same_tables(got, read_tables(clean / "warehouse.duckdb", PRICE_TABLES))
    reliability_record(
        "concurrency",
        "two processes backfill the same 3 partitions into one DuckDB file at once",
        f"both runs succeeded (no lock failure); silver.prices {len(got['silver.prices'])} "
        f"rows, bronze.raw_quotes {len(got['bronze.raw_quotes'])} rows, 0 duplicates, "
        "identical to a single run",
    )


@pytest.mark.slow
def test_two_stream_runs_of_the_same_landing_object_at_once_add_each_quote_once(
    tmp_path, reliability_record
):
    home = tmp_path / "home"
    key = "landing/quotes/2024/07/05/batch.jsonl"
    as_of = dt.datetime(2024, 7, 5, 14, 30, tzinfo=dt.UTC)
    quotes = SimulatedSource().latest_quotes(SYMBOLS.split(","), as_of)
    target = home / "lake" / key
    target.parent.mkdir(parents=True)
    target.write_bytes(encode_micro_batch(quotes))

    codes = race(tmp_path, *[("stream", str(home), "2024-07-05", key)] * 2)

    assert codes == [0, 0]
    got = read_tables(home / "warehouse.duckdb", STREAM_TABLES)
    history, snapshot = got["silver.stream_history"], got["gold.latest_snapshot"]
    assert len(history) == len(quotes) and duplicates(history, ["symbol", "ts"]) == 0
    assert sorted(snapshot.symbol) == sorted(SYMBOLS.split(","))
    reliability_record(
        "concurrency",
        "two stream runs ingest the same landing object at once",
        f"both runs succeeded; stream_history {len(history)} rows for {len(quotes)} quotes "
        f"(0 duplicates), latest_snapshot {len(snapshot)} rows (one per symbol)",
    )


def test_two_stream_runs_racing_to_create_the_same_s3_partition(fault_proxy, reliability_record):
    """AWS mode: both runs find the partition absent and create it at the same instant."""
    resources = aws_resources()
    as_of = dt.datetime(2024, 7, 5, 14, 30, tzinfo=dt.UTC)
    quotes = SimulatedSource().latest_quotes(SYMBOLS.split(","), as_of)
    earlier = SimulatedSource().latest_quotes(SYMBOLS.split(","), as_of - dt.timedelta(days=2))
    keys = {"2024-07-03": "landing/quotes/earlier.jsonl", "2024-07-05": "landing/quotes/b.jsonl"}
    resources["lake"].put(keys["2024-07-03"], encode_micro_batch(earlier))
    resources["lake"].put(keys["2024-07-05"], encode_micro_batch(quotes))

    def ingest(day: str) -> bool:
        return dg.materialize(
            [stream_assets],
            resources=resources,
            run_config={"ops": {"stream_assets": {"config": {"object_keys": [keys[day]]}}}},
            partition_key=day,
            raise_on_error=False,
        ).success

    assert ingest("2024-07-03")  # the tables exist; the race is on a new partition
    meet = Fault("POST", target="AWSGlue.BatchCreatePartition", body_contains="stream_history/",
                 action=HOLD)  # fmt: skip
    with fault_proxy.inject(meet), ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(ingest, ["2024-07-05"] * 2))
    assert meet.injected == 2  # both creates were in flight together
    history = read(resources, HISTORY_KEY, "2024-07-05")
    listed = boto3.client("s3").list_objects_v2(
        Bucket=PROXIED_BUCKET, Prefix="stock-assets/silver/stream_history/trade_date=2024-07-05/"
    )
    versions = {o["Key"].split("/")[-2] for o in listed.get("Contents", [])}

    # Glue refuses the second create; that run fails and removes its own version, so the
    # partition holds the winner's rows once. Deployments never get here: both dagster.yaml
    # files limit the warehouse pool to one step at a time.
    assert outcomes == [False, True]
    assert len(history) == len(quotes) and not history.duplicated(["symbol", "ts"]).any()
    assert len(versions) == 1
    reliability_record(
        "concurrency",
        "S3 mode, no pool: two stream runs of the same object create the same new Glue "
        "partition at the same instant",
        f"one run published it, the other was refused (AlreadyExists) and failed, deleting its "
        f"own version: {len(history)} rows, 0 duplicates, {len(versions)} version folder",
    )
