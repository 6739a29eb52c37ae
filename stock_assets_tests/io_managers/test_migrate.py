"""Migration of the former lake layout (Parquet version folders switched in Glue) to Iceberg.

The former layout is written here the way its writer laid it out: Parquet without the
partition column under `trade_date=<day>/v=<version>/`, a Hive table in Glue whose
partitions name the current version; an older version and a bronze payload file sit in
the same folders, as they did in real lakes."""

from __future__ import annotations

import datetime as dt
import io

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stock_assets.io_managers.iceberg import IcebergIOManager, arrow_schema
from stock_assets.io_managers.migrate import main, migrate_table
from stock_assets.market.schemas import LATEST_SNAPSHOT, PRICES, conform
from stock_assets_tests.io_managers.test_iceberg import BUCKET, bars, commits, iceberg, keys

PREFIX = "stock-assets"
DAYS = ["2024-07-01", "2024-07-02"]
PAYLOAD = f"{PREFIX}/bronze/raw_quotes/trade_date=2024-07-01/simulated-run.jsonl"


def put_parquet(key: str, frame: pd.DataFrame, schema: pa.Schema) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame[schema.names], schema=schema), buffer)
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())


def hive_table(name: str, schema: pa.Schema, location: str, partitioned: bool) -> dict:
    types = {pa.string(): "string", pa.float64(): "double", pa.int64(): "bigint"}
    types |= {pa.timestamp("us"): "timestamp", pa.date32(): "date"}
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": "trade_date", "Type": "date"}] if partitioned else [],
        "StorageDescriptor": {
            "Columns": [{"Name": f.name, "Type": types[f.type]} for f in schema],
            "Location": location,
        },
    }


def write_former_lake() -> tuple[pd.DataFrame, pd.DataFrame]:
    """silver.prices (2 days, each with a stale version beside the current) and
    gold.latest_snapshot, in the former layout; returns the current rows of both."""
    s3, glue = boto3.client("s3"), boto3.client("glue")
    s3.create_bucket(Bucket=BUCKET)
    for database in ("silver", "gold", "bronze"):
        glue.create_database(DatabaseInput={"Name": database})
    files = arrow_schema(PRICES).remove(arrow_schema(PRICES).get_field_index("trade_date"))
    root = f"{PREFIX}/silver/prices/"
    glue.create_table(
        DatabaseName="silver", TableInput=hive_table("prices", files, f"s3://{BUCKET}/{root}", True)
    )
    current = bars(DAYS, 10.0)
    for day in DAYS:
        stale = f"{root}trade_date={day}/v=20240701T000000Z-old/part-00000.parquet"
        put_parquet(stale, bars([day], 1.0, symbols=("OLD",)), files)
        new = f"{root}trade_date={day}/v=20240702T000000Z-new/"
        put_parquet(
            f"{new}part-00000.parquet", current[current.trade_date.astype(str) == day], files
        )
        glue.create_partition(
            DatabaseName="silver",
            TableName="prices",
            PartitionInput={
                "Values": [day],
                "StorageDescriptor": {"Location": f"s3://{BUCKET}/{new}"},
            },
        )
    snapshot = conform(
        pd.DataFrame(
            {
                "symbol": ["AAPL"],
                "ts": pd.to_datetime(["2024-07-05 14:00"]),
                "price": [10.0],
                "change": [0.5],
                "change_pct": [0.1],
                "name": ["Apple Inc."],
                "updated_at": pd.to_datetime(["2024-07-05 14:00"]),
                "volume": [1_000],
                "last_signal": [None],
                "last_signal_at": pd.to_datetime([None]),
                "last_signal_reason": [None],
            }
        ),
        LATEST_SNAPSHOT,
    )
    version = f"{PREFIX}/gold/latest_snapshot/v=20240705T000000Z-x/"
    put_parquet(f"{version}part-00000.parquet", snapshot, arrow_schema(LATEST_SNAPSHOT))
    location = f"s3://{BUCKET}/{version}"
    glue.create_table(
        DatabaseName="gold",
        TableInput=hive_table("latest_snapshot", arrow_schema(LATEST_SNAPSHOT), location, False),
    )
    s3.put_object(Bucket=BUCKET, Key=PAYLOAD, Body=b'{"record_no": 0}\n')
    return current, snapshot


@pytest.fixture
def manager(aws_endpoint) -> IcebergIOManager:
    return IcebergIOManager(bucket=BUCKET, prefix=PREFIX)


def test_the_former_layout_migrates_to_iceberg_once(manager, monkeypatch, capsys):
    prices, snapshot = write_former_lake()

    assert migrate_table(manager, "silver.prices") == "migrated"
    assert migrate_table(manager, "gold.latest_snapshot") == "migrated"
    assert migrate_table(manager, "gold.indicators") == "absent"

    table = boto3.client("glue").get_table(DatabaseName="silver", Name="prices")["Table"]
    assert table["Parameters"]["table_type"] == "ICEBERG"
    migrated = iceberg().scan().to_arrow().to_pandas()
    key = ["trade_date", "symbol"]
    got = conform(migrated, PRICES).sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(got, prices.sort_values(key, ignore_index=True))
    assert iceberg().location() == f"s3://{BUCKET}/{PREFIX}/tables/silver/prices"
    assert [f.name for f in iceberg().spec().fields] == ["trade_date"]
    pd.testing.assert_frame_equal(manager.read("gold.latest_snapshot"), snapshot)
    names = [t["Name"] for t in boto3.client("glue").get_tables(DatabaseName="silver")["TableList"]]
    assert names == ["prices"]  # the staging entry is gone

    # Idempotent: a second run (here through the command) changes nothing.
    before = commits()
    monkeypatch.setenv("STOCK_ASSETS_S3_BUCKET", BUCKET)
    assert main(["--delete-old-files"]) == 0
    assert "silver.prices: iceberg" in capsys.readouterr().out
    assert commits() == before
    # The former version folders are gone; the raw payload beside them stays.
    assert not [k for k in keys(f"{PREFIX}/") if "/v=" in k]
    assert PAYLOAD in keys(f"{PREFIX}/bronze/")
    assert manager.read("silver.prices", DAYS).shape == prices.shape


def test_an_interrupted_migration_is_finished_by_the_next_run(manager):
    """Staged but not switched (the former Glue table already dropped): the rerun registers."""
    prices, _ = write_former_lake()
    staged = manager.table("silver.prices", partitioned=True)
    staging = staged.__class__(**{**staged.__dict__, "name": "prices_migrating"})
    manager.write(staging, prices, DAYS)
    boto3.client("glue").delete_table(DatabaseName="silver", Name="prices")

    assert migrate_table(manager, "silver.prices") == "migrated"
    got = manager.read("silver.prices", DAYS).sort_values(["trade_date", "symbol"])
    assert got.close.tolist() == prices.sort_values(["trade_date", "symbol"]).close.tolist()
    assert dt.date(2024, 7, 1) in set(got.trade_date)
