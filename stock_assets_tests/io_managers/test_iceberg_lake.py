"""What Iceberg gives readers and the stream: atomic range replaces, held snapshots, merges
that append, and maintenance that never pulls files from under a reader within retention.

The readers are pyiceberg's own catalog and scans (not the IO manager's read path)."""

from __future__ import annotations

import datetime as dt
import threading

import boto3
import pandas as pd
import pytest

from stock_assets.io_managers.iceberg import IcebergIOManager
from stock_assets.io_managers.iceberg_maintenance import compact, expire, maintain
from stock_assets.io_managers.merge import MergeSpec
from stock_assets.market.schemas import STREAM_HISTORY, conform
from stock_assets_tests.io_managers.test_iceberg import BUCKET, bars, commits, iceberg

DAYS = ["2024-07-01", "2024-07-02", "2024-07-03"]
HISTORY = "silver.stream_history"


@pytest.fixture
def manager(aws_endpoint) -> IcebergIOManager:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return IcebergIOManager(bucket=BUCKET, prefix="stock-assets")


def prices_table(manager: IcebergIOManager):
    return manager.table("silver.prices", partitioned=True)


def quotes(minute: int, symbols=("AAPL", "MSFT")) -> pd.DataFrame:
    ts = pd.Timestamp("2024-07-05 14:00") + pd.Timedelta(minutes=minute)
    frame = pd.DataFrame(
        {
            "symbol": list(symbols),
            "ts": [ts] * len(symbols),
            "price": [100.0 + minute] * len(symbols),
            "volume": [1_000 + minute] * len(symbols),
            "change": [0.1] * len(symbols),
            "change_pct": [0.01] * len(symbols),
            "name": [None] * len(symbols),
            "source": ["stream"] * len(symbols),
            "object_key": [f"landing/quotes/b{minute}.jsonl"] * len(symbols),
            "ingested_at": [ts] * len(symbols),
            "trade_date": [dt.date(2024, 7, 5)] * len(symbols),
        }
    )
    return conform(frame, STREAM_HISTORY)


def history_table(manager: IcebergIOManager):
    return manager.table(HISTORY, partitioned=True, merge=MergeSpec(keys=("symbol", "ts")))


def data_files(table: str) -> list[str]:
    return sorted(iceberg(table).inspect.files().column("file_path").to_pylist())


def test_a_backfill_range_is_visible_all_or_nothing_to_a_concurrent_reader(manager):
    table = prices_table(manager)
    manager.write(table, bars(DAYS, 10.0), DAYS)
    seen: list[tuple[float, ...]] = []
    done = threading.Event()

    def reader() -> None:
        reading = iceberg()
        while not done.is_set():
            rows = reading.refresh().scan().to_arrow()
            seen.append(tuple(sorted(set(rows.column("open").to_pylist()))))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for value in (20.0, 30.0, 40.0):
            manager.write(table, bars(DAYS, value), DAYS)
    finally:
        done.set()
        thread.join()
    # Every read saw one write's three days whole: a single value, six rows' worth.
    assert seen and all(len(values) == 1 for values in seen)
    assert {values[0] for values in seen} <= {10.0, 20.0, 30.0, 40.0}
    assert manager.read("silver.prices", DAYS).open.unique().tolist() == [40.0]


def test_a_reader_holding_a_snapshot_reads_it_after_a_replace_and_a_compaction(manager):
    table = prices_table(manager)
    for day in DAYS:  # three commits: three small files for the compaction to merge
        manager.write(table, bars([day], 10.0), [day])
    held = iceberg().current_snapshot().snapshot_id
    expected = iceberg().scan(snapshot_id=held).to_arrow().sort_by("trade_date")

    manager.write(table, bars(DAYS[:1], 99.0), DAYS[:1])
    assert compact(manager, table, min_files=1) == 3
    assert len(data_files("silver.prices")) == 3  # one file per day after the rewrite
    assert iceberg().scan(snapshot_id=held).to_arrow().sort_by("trade_date").equals(expected)
    # Expiry with a week's retention keeps it; only an expiry past it frees the files.
    assert expire(manager, table) == (0, 0)
    assert iceberg().scan(snapshot_id=held).to_arrow().num_rows == expected.num_rows
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    expired, deleted = expire(manager, table, now=later)
    assert expired >= 4 and deleted >= 3
    current = manager.read("silver.prices", DAYS)
    assert sorted(current.open.unique()) == [10.0, 99.0] and len(current) == 6
    assert iceberg().snapshot_by_id(held) is None


def test_stream_merges_append_their_rows_once_without_rewriting_the_day(manager):
    table = history_table(manager)
    day = ["2024-07-05"]
    manager.write(table, quotes(0), day)
    first_files = data_files(HISTORY)
    manager.write(table, quotes(1), day)
    after = commits(HISTORY)
    manager.write(table, quotes(1), day)  # re-delivered: nothing new, no commit
    manager.write(table, pd.concat([quotes(1), quotes(2)]), day)  # half new

    assert commits(HISTORY) == after + 1
    files = data_files(HISTORY)
    assert set(first_files) < set(files) and len(files) == 3  # appended, never rewritten
    stored = iceberg(HISTORY).scan().to_arrow().to_pandas()
    assert len(stored) == 6 and not stored.duplicated(["symbol", "ts"]).any()


def test_maintenance_compacts_a_stream_day_and_keeps_its_rows(manager):
    table = history_table(manager)
    for minute in range(4):
        manager.write(table, quotes(minute), ["2024-07-05"])
    before = (
        iceberg(HISTORY).scan().to_arrow().sort_by([("ts", "ascending"), ("symbol", "ascending")])
    )
    (done,) = maintain(manager, [HISTORY, "gold.indicators"], min_files=4)
    assert done.table == HISTORY and done.partitions_compacted == 1
    assert len(data_files(HISTORY)) == 1
    after = (
        iceberg(HISTORY).scan().to_arrow().sort_by([("ts", "ascending"), ("symbol", "ascending")])
    )
    assert after.equals(before)
