"""One-off conversion of the former AWS lake layout into Iceberg tables.

The former layout kept each table as Parquet under `{prefix}/{layer}/{table}/`, one
`v=<version>/` folder per write, with Glue (a Hive table and its partitions) naming the
current version of each partition. For every contract table still in that layout this
reads each partition's current Glue location, writes the rows as an Iceberg table under
`{prefix}/tables/{layer}/{table}/` (staged under a temporary Glue name), then replaces the
Glue entry with the Iceberg table. Iceberg tables are left alone, so a second run, or a
run after an interruption, finishes what is left and changes nothing else.

`--delete-old-files` then removes the former version folders' Parquet objects; the raw
objects that shared those prefixes (bronze payloads under `bronze/raw_quotes/`) stay
where they are, now the only objects there.

    python -m stock_assets.io_managers.migrate [--delete-old-files]

(reads STOCK_ASSETS_S3_BUCKET, STOCK_ASSETS_S3_PREFIX, STOCK_ASSETS_GLUE_DATABASE, AWS_*).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stock_assets.io_managers.iceberg import IcebergIOManager, IcebergTable, arrow_schema, catalog
from stock_assets.io_managers.table_metadata import PARTITION_COLUMN
from stock_assets.market.schemas import TABLES, TableSchema, conform
from stock_assets.settings import Settings

STAGING_SUFFIX = "_migrating"
VERSION_SEGMENT = "/v="  # the former layout's version folders


def migrate_table(manager: IcebergIOManager, name: str) -> str:
    """Convert one table; returns what happened ('migrated', 'iceberg', 'absent')."""
    glue = boto3.client("glue", region_name=manager.region_name)
    target = manager.table(name, partitioned=False)
    staging = f"{target.name}{STAGING_SUFFIX}"
    current = _glue_table(glue, target.database, target.name)
    staged = _glue_table(glue, target.database, staging)
    if current is not None and _is_iceberg(current):
        if staged is not None:  # an interrupted run had already switched the table
            glue.delete_table(DatabaseName=target.database, Name=staging)
        return "iceberg"
    if current is None and staged is None:
        return "absent"
    if current is not None:  # (re)stage from the former layout's current versions
        if staged is not None:
            glue.delete_table(DatabaseName=target.database, Name=staging)
        rows, days = _read_former(glue, current, TABLES[name])
        table = IcebergTable(
            database=target.database,
            name=staging,
            location=target.location,
            partitioned=bool(current.get("PartitionKeys")),
            contract=TABLES[name],
        )
        manager.write(table, rows, days)
        glue.delete_table(DatabaseName=target.database, Name=target.name)
        staged = _glue_table(glue, target.database, staging)
    location = staged["Parameters"]["metadata_location"]
    catalog(manager.region_name).register_table(target.identifier, location)
    glue.delete_table(DatabaseName=target.database, Name=staging)
    return "migrated"


def delete_former_files(manager: IcebergIOManager) -> int:
    """Delete the former layout's Parquet version objects; returns how many."""
    s3 = boto3.client("s3", region_name=manager.region_name)
    root = f"{manager.prefix.strip('/')}/" if manager.prefix.strip("/") else ""
    doomed = [
        key
        for key in _keys(s3, manager.bucket, root)
        if VERSION_SEGMENT in f"/{key}" and key.endswith(".parquet")
    ]
    for start in range(0, len(doomed), 1000):
        chunk = [{"Key": k} for k in doomed[start : start + 1000]]
        s3.delete_objects(Bucket=manager.bucket, Delete={"Objects": chunk})
    return len(doomed)


def _read_former(glue, table: dict, contract: TableSchema) -> tuple[pd.DataFrame, list[str]]:
    """Every partition's current version (or the unpartitioned table's), with its day."""
    s3 = boto3.client("s3")
    schema = arrow_schema(contract)
    files = (
        schema.remove(schema.get_field_index(PARTITION_COLUMN))
        if table.get("PartitionKeys")
        else schema
    )
    if not table.get("PartitionKeys"):
        data = _read_location(s3, table["StorageDescriptor"]["Location"], files)
        return conform(data.to_pandas(), contract), []
    parts, days = [], []
    pages = glue.get_paginator("get_partitions").paginate(
        DatabaseName=table["DatabaseName"], TableName=table["Name"]
    )
    for partition in (p for page in pages for p in page["Partitions"]):
        day = dt.date.fromisoformat(partition["Values"][0])
        data = _read_location(s3, partition["StorageDescriptor"]["Location"], files)
        parts.append(data.append_column(PARTITION_COLUMN, pa.array([day] * len(data))))
        days.append(day.isoformat())
    if not parts:
        return contract.empty_frame(), []
    frame = pa.concat_tables(parts).to_pandas()
    return conform(frame, contract), sorted(days)


def _read_location(s3, location: str, schema: pa.Schema) -> pa.Table:
    uri = urlsplit(location)
    prefix = uri.path.strip("/") + "/"
    tables = [
        pq.read_table(pa.BufferReader(s3.get_object(Bucket=uri.netloc, Key=k)["Body"].read()))
        .select(schema.names)
        .cast(schema)
        for k in sorted(_keys(s3, uri.netloc, prefix))
        if k.endswith(".parquet")
    ]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _keys(s3, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from (obj["Key"] for obj in page.get("Contents", []))


def _glue_table(glue, database: str, name: str) -> dict | None:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None


def _is_iceberg(table: dict) -> bool:
    return table.get("Parameters", {}).get("table_type", "").upper() == "ICEBERG"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--delete-old-files",
        action="store_true",
        help="afterwards, delete the former layout's Parquet version objects",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not settings.s3_bucket:
        parser.error("STOCK_ASSETS_S3_BUCKET names the lake to migrate")
    manager = IcebergIOManager(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        glue_database_prefix=settings.glue_database,
        region_name=settings.aws_region,
    )
    for name in sorted(TABLES):
        print(f"{name}: {migrate_table(manager, name)}", flush=True)
    if args.delete_old_files:
        print(f"deleted {delete_former_files(manager)} former Parquet objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
