"""Runs racing on the same partition or landing object: nothing is duplicated.

DuckDB lets one process write a file at a time; the second one's connection fails with
"Could not set lock on file" and the IO manager must wait its turn (its connect backs off
on that error) instead of failing the run. In AWS mode the race is on
the Iceberg table's metadata pointer in Glue: the fault proxy makes two runs commit at the
same instant, and the refused one is redone on the winner's snapshot.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import dagster as dg
import pytest

from stock_assets.assets.stream import HISTORY_KEY, stream_assets
from stock_assets.io_managers.iceberg import IcebergIOManager
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.resources.aws import aws_resources
from stock_assets_tests.io_managers.test_iceberg import read
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


def test_two_stream_runs_committing_the_same_partition_at_once(fault_proxy, reliability_record):
    """AWS mode, no pool: both runs read the day without the other's rows and commit at once."""
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

    assert ingest("2024-07-03")  # the tables exist; the race is on the commit
    meet = Fault("POST", target="AWSGlue.UpdateTable", body_contains='"stream_history"',
                 action=HOLD)  # fmt: skip
    with fault_proxy.inject(meet), ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(ingest, ["2024-07-05"] * 2))
    assert meet.injected == 2  # both commits were in flight together
    history = read(resources, HISTORY_KEY, "2024-07-05")
    glue = boto3.client("glue")
    versions = glue.get_table_versions(DatabaseName="silver", TableName="stream_history")

    # Glue refuses the stale commit; that run reads the day again, finds the quotes and
    # commits nothing more: both succeed and every quote is stored once.
    assert outcomes == [True, True]
    assert len(history) == len(quotes) and not history.duplicated(["symbol", "ts"]).any()
    assert len(versions["TableVersions"]) >= 3  # created, 07-03, 07-05 (once)
    reliability_record(
        "concurrency",
        "AWS mode, no pool: two stream runs of the same object commit the same Iceberg "
        "table at the same instant",
        f"Glue refused the stale commit, the loser re-read and had nothing left to add: both "
        f"runs succeeded, {len(history)} rows, 0 duplicates",
    )


# -- AWS mode: writer processes racing on Iceberg commits -----------------------------------


def _iceberg_writer(task: tuple[str, str, list[str], float]) -> int:
    """One writer process: merge its symbols' quotes into a day, or replace its day's bars."""
    from stock_assets.io_managers.iceberg import IcebergIOManager
    from stock_assets_tests.io_managers.test_iceberg import bars
    from stock_assets_tests.io_managers.test_iceberg_lake import history_table, quotes

    kind, day, symbols, value = task
    manager = IcebergIOManager(bucket=PROXIED_BUCKET, prefix="stock-assets")
    if kind == "merge":
        for minute in range(3):
            manager.write(history_table(manager), quotes(minute, symbols), [day])
    else:
        table = manager.table("silver.prices", partitioned=True)
        manager.write(table, bars([day], value, symbols=tuple(symbols)), [day])
    return 0


def race_writers(tasks: list[tuple[str, str, list[str], float]]) -> list[int]:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(len(tasks)) as pool:
        return pool.map(_iceberg_writer, tasks, chunksize=1)


def test_writer_processes_racing_on_one_partition_all_land_once(fault_proxy, reliability_record):
    """Four processes merge different symbols into the same day of one table at once."""
    groups = [[f"S{p}{i}" for i in range(3)] for p in range(4)]
    assert race_writers([("merge", "2024-07-05", g, 0.0) for g in groups]) == [0] * 4
    manager = IcebergIOManager(bucket=PROXIED_BUCKET, prefix="stock-assets")
    history = manager.read("silver.stream_history", ["2024-07-05"])
    assert len(history) == 4 * 3 * 3  # processes x symbols x minutes
    assert not history.duplicated(["symbol", "ts"]).any()
    assert sorted(history.symbol.unique()) == sorted(s for g in groups for s in g)
    reliability_record(
        "concurrency",
        "AWS mode, no pool: 4 writer processes merge into the same Iceberg partition at once",
        "all succeeded (any commit Glue refused as stale was redone on the winner's snapshot; "
        f"how many varies with timing): {len(history)} rows, every quote once",
    )


def test_writer_processes_on_disjoint_partitions_and_on_one_replace(fault_proxy):
    """Disjoint days land side by side; two replaces of one day leave one of them whole."""
    tasks = [
        ("replace", "2024-07-01", ["AAPL", "MSFT"], 10.0),
        ("replace", "2024-07-02", ["AAPL", "MSFT"], 20.0),
        ("replace", "2024-07-03", ["AAPL", "MSFT"], 30.0),
        ("replace", "2024-07-03", ["XOM"], 40.0),
    ]
    assert race_writers(tasks) == [0] * 4
    manager = IcebergIOManager(bucket=PROXIED_BUCKET, prefix="stock-assets")
    stored = manager.read("silver.prices", ["2024-07-01", "2024-07-02", "2024-07-03"])
    by_day = {str(d): sorted(g.symbol) for d, g in stored.groupby("trade_date")}
    assert by_day["2024-07-01"] == by_day["2024-07-02"] == ["AAPL", "MSFT"]
    assert by_day["2024-07-03"] in (["AAPL", "MSFT"], ["XOM"])  # one replace, whole
    opens = stored[stored.trade_date == dt.date(2024, 7, 3)].open.unique().tolist()
    assert opens in ([30.0], [40.0])
