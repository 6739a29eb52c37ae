"""AWS mode's warehouse: Parquet on S3, registered in Glue so that Athena reads what assets write.

Layout: `s3://{bucket}/{prefix}/{layer}/{table}/trade_date=YYYY-MM-DD/v={version}/part-00000.parquet`
(unpartitioned tables: `.../{table}/v={version}/...`). The layer (the asset key's prefix)
is the Glue database (`glue_database`), the key's last part the table, and the contract
in market.schemas gives the column types.

Every write is a new version under a new sub-prefix. Once all of its objects are written,
one Glue call points the partition (or, unpartitioned, the table) at it: the atomic switch
that Athena and this IO manager both read through, so a reader sees the old version or the
new one, never half of one. The replaced version's objects are deleted after the switch; a
write that fails before the switch deletes its own objects and leaves the catalog alone.

Partition keys are Glue `date` columns (values 'YYYY-MM-DD'): Athena prunes on
`trade_date = DATE '2024-07-05'` and ranges like any DATE, matching the contract's type. The
partition column lives in the catalog only, never inside the Parquet files.

Assets whose definition metadata declares `merge_keys` (io_managers.merge) are merged into
the stored rows (read the current version, merge, write a new version) instead of replacing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import AssetKey, ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from pydantic import Field

from stock_assets.io_managers.glue_table import (
    PART_FILE,
    VERSION_DIR,
    GlueTable,
    batch_errors,
    chunks,
    owned_definition,
    partition_values,
    split_uri,
    to_frame,
)
from stock_assets.io_managers.merge import merge_frames, merge_spec
from stock_assets.io_managers.table_metadata import output_metadata, valid_table_name
from stock_assets.market.schemas import TABLES, conform
from stock_assets.market.sql import glue_database
from stock_assets.settings import aws_region

_TABLE_NAME = re.compile(r"[a-z0-9_]+")
# Glue batch API limits per call.
_GET_BATCH, _WRITE_BATCH, _DELETE_BATCH, _S3_DELETE_BATCH = 1000, 100, 25, 1000
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class _Written:
    """What a write did, for the materialization's metadata."""

    rows: int
    uri: str
    partitions_written: int = 0
    partitions_emptied: int = 0


class S3ParquetIOManager(ConfigurableIOManager):
    """Pandas DataFrames as Parquet on S3, registered in the Glue catalog for Athena.

    Each write lands under a new version prefix and is published with one Glue call (see
    the module docstring). Reads find the current version of each partition in Glue (one
    batched call for up to 1000 partitions, then the objects are fetched in parallel) and
    load only the input's partitions: lookback windows included, absent ones skipped.
    """

    bucket: str = Field(description="The lake bucket (STOCK_ASSETS_S3_BUCKET)")
    prefix: str = Field(default="stock-assets", description="Key prefix of the lake")
    glue_database_prefix: str = Field(
        default="",
        description="Glue databases are the layers, or '<prefix>_<layer>' when this is set",
    )
    region_name: str | None = Field(
        default=None, description="AWS region; unset: AWS_REGION, then boto3's default chain"
    )
    max_concurrency: int = Field(
        default=16, description="Parallel S3 requests when writing or reading many partitions"
    )

    # -- Dagster entry points ---------------------------------------------------------------

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: S3ParquetIOManager stores pandas "
                f"DataFrames, got {type(obj).__name__}"
            )
        table = self._table(
            context.asset_key, context.definition_metadata, context.has_asset_partitions
        )
        frame = conform(obj, table.contract) if table.contract else obj.reset_index(drop=True)
        glue, s3 = self._client("glue"), self._client("s3")
        self._ensure_database(glue, table)
        if table.partition_column is None:
            written = self._write_table(glue, s3, table, frame, context.run_id, context.log)
        else:
            written = self._write_partitions(
                glue, s3, table, frame, context.asset_partition_keys, context.run_id, context.log
            )
        context.add_output_metadata(
            {
                **output_metadata(context, frame, written.rows, table.qualified_name),
                "dagster/uri": MetadataValue.path(written.uri),
                **(
                    {
                        "partition_count": len(context.asset_partition_keys),
                        "partitions_written": written.partitions_written,
                        "partitions_emptied": written.partitions_emptied,
                    }
                    if table.partition_column
                    else {}
                ),
            }
        )

    def load_input(self, context: InputContext) -> pd.DataFrame:
        upstream = context.upstream_output
        table = self._table(
            context.asset_key,
            upstream.definition_metadata if upstream is not None else {},
            context.has_asset_partitions,
        )
        glue, s3 = self._client("glue"), self._client("s3")
        if table.partition_column is None:
            return self._read_table(glue, s3, table)
        return self._read_partitions(glue, s3, table, context.asset_partition_keys)

    # -- the public read ------------------------------------------------------------------

    def read(self, table: str, partitions: Sequence[str | dt.date] | None = None) -> pd.DataFrame:
        """The stored rows of `table` (`layer.table`), as the asset produced them.

        With `partitions` (trading days), exactly those partitions (absent ones skipped);
        without, the whole unpartitioned table. A table not written yet reads as empty."""
        layer, name = valid_table_name(table).split(".")
        stored = self._table(AssetKey([layer, name]), {}, partitioned=bool(partitions))
        glue, s3 = self._client("glue"), self._client("s3")
        if not partitions:
            return self._read_table(glue, s3, stored)
        return self._read_partitions(glue, s3, stored, [str(p) for p in partitions])

    # -- naming --------------------------------------------------------------------------

    def _client(self, service: str):
        import boto3  # the [aws] extra: local mode never needs it

        return boto3.client(service, region_name=self.region_name or aws_region())

    def _table(self, key: AssetKey, metadata: Mapping[str, Any], partitioned: bool) -> GlueTable:
        if len(key.path) < 2:
            raise ValueError(
                f"asset key {key.to_user_string()!r} has no layer: S3ParquetIOManager stores "
                "keys like ['silver', 'prices'] (layer = Glue database, last part = table)"
            )
        layer, name = key.path[-2], key.path[-1]
        if not _TABLE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid Athena table name (a-z, 0-9, _)")
        column = None
        if partitioned:
            expr = metadata.get("partition_expr", "trade_date")
            column = str(getattr(expr, "value", expr))
        root = "/".join(p for p in (self.prefix.strip("/"), layer, name) if p) + "/"
        return GlueTable(
            database=glue_database(layer, self.glue_database_prefix),
            name=name,
            bucket=self.bucket,
            root=root,
            partition_column=column,
            contract=TABLES.get(f"{layer}.{name}"),
            merge=merge_spec(metadata),
        )

    @staticmethod
    def _version(run_id: str) -> str:
        """A new, unique version directory: sortable by time, traceable to its run."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"{VERSION_DIR}{stamp}-{run_id[:8]}-{uuid.uuid4().hex[:8]}/"

    # -- writes --------------------------------------------------------------------------

    def _put_object(self, s3, key: str, body: bytes) -> None:
        """One S3 PUT (its own method so tests can make a write fail part-way)."""
        s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def _write_version(self, s3, key_prefix: str, frame: pd.DataFrame, schema: pa.Schema) -> None:
        data = frame.loc[:, schema.names]
        arrow = pa.Table.from_pandas(data, schema=schema, preserve_index=False)
        buffer = pa.BufferOutputStream()
        pq.write_table(
            arrow,
            buffer,
            compression="snappy",
            coerce_timestamps="us",
            allow_truncated_timestamps=True,
        )
        self._put_object(s3, f"{key_prefix}{PART_FILE}", buffer.getvalue().to_pybytes())

    def _write_table(
        self, glue, s3, table: GlueTable, frame: pd.DataFrame, run_id: str, log: logging.Logger
    ) -> _Written:
        """Write an unpartitioned table as a new version and point the Glue table at it."""
        if table.merge is not None:
            frame = merge_frames(self._read_table(glue, s3, table), frame, table.merge)
        schema = table.file_schema(frame)
        version = f"{table.root}{self._version(run_id)}"
        try:
            self._write_version(s3, version, frame, schema)
        except BaseException:
            self._delete_prefixes(s3, [version], log)
            raise
        # Not undone on failure: a Glue error can hide an applied switch, and an orphaned
        # version only costs storage while deleting a published one loses the table.
        previous = self._put_table(glue, table, schema, table.uri(version))
        if previous is not None:
            self._delete_locations(s3, table, [previous], log)
        return _Written(rows=len(frame), uri=table.uri(version))

    def _write_partitions(
        self,
        glue,
        s3,
        table: GlueTable,
        frame: pd.DataFrame,
        keys: Sequence[str],
        run_id: str,
        log: logging.Logger,
    ) -> _Written:
        """Replace (or merge into) each of the run's partitions; absent rows empty them."""
        column = table.partition_column
        values = partition_values(frame, column)
        stray = sorted(set(values) - set(keys))
        if stray:
            raise ValueError(
                f"{table.qualified_name}: {column} values {stray[:5]} are outside the run's "
                f"partitions {keys[0]}..{keys[-1]}"
            )
        parts = {str(key): part for key, part in frame.groupby(values, sort=True)}
        if table.merge is not None:
            stored = self._read_partitions(glue, s3, table, list(parts))
            stored_values = partition_values(stored, column)
            parts = {
                key: merge_frames(stored[stored_values == key], part, table.merge)
                for key, part in parts.items()
            }
        schema = table.file_schema(frame)
        self._put_table(glue, table, schema, table.uri(table.root))
        version = self._version(run_id)
        new = {key: table.partition_root(key) + version for key in parts}
        try:
            self._parallel(
                lambda key: self._write_version(s3, new[key], parts[key], schema), list(new)
            )
        except BaseException:
            self._delete_prefixes(s3, list(new.values()), log)
            raise
        current = self._partition_locations(glue, table, keys)
        # Merged assets keep the partitions the run brought no rows for.
        emptied = [] if table.merge else [k for k in current if k not in parts]
        failed = self._switch_partitions(
            glue,
            table,
            schema,
            {k: (table.uri(p), len(parts[k])) for k, p in new.items()},
            current,
            emptied,
            run_id,
        )
        replaced = [current[k] for k in [*new, *emptied] if k in current and k not in failed]
        self._delete_locations(s3, table, replaced, log)
        self._delete_prefixes(s3, [new[k] for k in failed if k in new], log)
        if failed:
            raise RuntimeError(
                f"{table.qualified_name}: Glue refused partitions {sorted(failed.items())[:5]}; "
                "those partitions keep their previous version"
            )
        uri = table.uri(next(iter(new.values())) if len(new) == 1 else table.root)
        return _Written(
            rows=sum(len(p) for p in parts.values()),
            uri=uri,
            partitions_written=len(new),
            partitions_emptied=len([k for k in emptied if k not in failed]),
        )

    # -- the Glue catalog ----------------------------------------------------------------

    @staticmethod
    def _ensure_database(glue, table: GlueTable) -> None:
        with contextlib.suppress(glue.exceptions.AlreadyExistsException):
            glue.create_database(
                DatabaseInput={
                    "Name": table.database,
                    "Description": "stock_assets lake layer (S3 Parquet, written by Dagster)",
                }
            )

    @staticmethod
    def _put_table(glue, table: GlueTable, schema: pa.Schema, location: str) -> str | None:
        """Create the table or bring its definition up to date; returns the replaced location.

        For unpartitioned tables `location` is the new version, so this is the switch.
        """
        desired = table.table_input(schema, location)
        try:
            existing = glue.get_table(DatabaseName=table.database, Name=table.name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=table.database, TableInput=desired)
            return None
        if owned_definition(existing) != owned_definition(desired):
            glue.update_table(DatabaseName=table.database, TableInput=desired, SkipArchive=True)
        previous = existing.get("StorageDescriptor", {}).get("Location")
        return previous if previous != location else None

    @staticmethod
    def _partition_locations(glue, table: GlueTable, keys: Iterable[str]) -> dict[str, str]:
        """Current location of each existing partition among `keys` (absent ones omitted)."""
        wanted = [{"Values": [k]} for k in dict.fromkeys(keys)]
        found: dict[str, str] = {}
        for chunk in chunks(wanted, _GET_BATCH):
            pending = chunk
            while pending:
                try:
                    response = glue.batch_get_partition(
                        DatabaseName=table.database,
                        TableName=table.name,
                        PartitionsToGet=pending,
                    )
                except glue.exceptions.EntityNotFoundException:
                    return {}  # the table does not exist yet
                for partition in response.get("Partitions", []):
                    found[partition["Values"][0]] = partition["StorageDescriptor"]["Location"]
                pending = response.get("UnprocessedKeys", [])
        return found

    def _switch_partitions(
        self,
        glue,
        table: GlueTable,
        schema: pa.Schema,
        new: dict[str, tuple[str, int]],
        current: dict[str, str],
        emptied: list[str],
        run_id: str,
    ) -> dict[str, str]:
        """Point each partition at its new version (or drop it); returns refused keys."""

        def partition_input(key: str) -> dict[str, Any]:
            location, rows = new[key]
            return {
                "Values": [key],
                "StorageDescriptor": table.storage_descriptor(schema, location),
                "Parameters": {"stock_assets.run_id": run_id, "stock_assets.rows": str(rows)},
            }

        names = {"DatabaseName": table.database, "TableName": table.name}
        failed: dict[str, str] = {}
        for chunk in chunks([k for k in new if k not in current], _WRITE_BATCH):
            response = glue.batch_create_partition(
                **names, PartitionInputList=[partition_input(k) for k in chunk]
            )
            failed.update(batch_errors(response, "PartitionValues"))
        for chunk in chunks([k for k in new if k in current], _WRITE_BATCH):
            response = glue.batch_update_partition(
                **names,
                Entries=[
                    {"PartitionValueList": [k], "PartitionInput": partition_input(k)} for k in chunk
                ],
            )
            failed.update(batch_errors(response, "PartitionValueList"))
        for chunk in chunks(emptied, _DELETE_BATCH):
            response = glue.batch_delete_partition(
                **names, PartitionsToDelete=[{"Values": [k]} for k in chunk]
            )
            errors = batch_errors(response, "PartitionValues")
            failed.update({k: e for k, e in errors.items() if "EntityNotFound" not in e})
        return failed

    # -- reads ---------------------------------------------------------------------------

    def _read_partitions(self, glue, s3, table: GlueTable, keys: Sequence[str]) -> pd.DataFrame:
        """The current version of each partition in `keys`, as the asset produced it."""
        locations = self._partition_locations(glue, table, keys)
        column = table.partition_column
        schema = table.file_schema()

        def read(key: str) -> pa.Table:
            data = self._read_location(s3, table, locations[key], schema)
            day = dt.date.fromisoformat(key)
            return data.append_column(
                pa.field(column, pa.date32()), pa.array([day] * len(data), pa.date32())
            )

        tables = self._parallel(read, sorted(locations))
        return to_frame(table, tables)

    def _read_table(self, glue, s3, table: GlueTable) -> pd.DataFrame:
        """The current version of an unpartitioned table (empty if it does not exist yet)."""
        try:
            existing = glue.get_table(DatabaseName=table.database, Name=table.name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            return to_frame(table, [])
        location = existing["StorageDescriptor"]["Location"]
        return to_frame(table, [self._read_location(s3, table, location, table.file_schema())])

    def _read_location(
        self, s3, table: GlueTable, location: str, schema: pa.Schema | None
    ) -> pa.Table:
        """Every Parquet object under one version's location."""
        bucket, prefix = split_uri(location)
        keys = sorted(
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
            if obj["Key"].endswith(".parquet")
        )
        parts = [
            pq.read_table(
                pa.BufferReader(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), schema=schema
            )
            for k in keys
        ]
        if not parts:
            return schema.empty_table() if schema is not None else pa.table({})
        return pa.concat_tables(parts, promote_options="permissive")

    # -- cleanup -------------------------------------------------------------------------

    def _delete_locations(
        self, s3, table: GlueTable, locations: Iterable[str], log: logging.Logger
    ) -> None:
        """Delete replaced versions; anything not a version directory of this table is kept."""
        prefixes = []
        for location in locations:
            bucket, prefix = split_uri(location)
            last = prefix.rstrip("/").rsplit("/", 1)[-1]
            if (
                bucket == table.bucket
                and prefix.startswith(table.root)
                and last.startswith(VERSION_DIR)
            ):
                prefixes.append(prefix)
            else:
                log.warning(f"{table.qualified_name}: left {location} in place (not a version)")
        self._delete_prefixes(s3, prefixes, log)

    def _delete_prefixes(self, s3, prefixes: Sequence[str], log: logging.Logger) -> None:
        """Best effort: the catalog no longer points here, so leftovers only cost storage."""
        try:
            listed = self._parallel(
                lambda p: [
                    obj["Key"]
                    for page in s3.get_paginator("list_objects_v2").paginate(
                        Bucket=self.bucket, Prefix=p
                    )
                    for obj in page.get("Contents", [])
                ],
                list(prefixes),
            )
            keys = [k for found in listed for k in found]
            for chunk in chunks(keys, _S3_DELETE_BATCH):
                response = s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
                )
                for error in response.get("Errors", []):
                    log.warning(f"could not delete s3://{self.bucket}/{error.get('Key')}: {error}")
        except Exception as exc:  # cleanup must never fail a write that is already published
            log.warning(f"could not delete old versions {list(prefixes)[:3]}: {exc}")

    def _parallel(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """fn over items on a thread pool (boto3 clients are thread-safe), in order."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(items))) as pool:
            return list(pool.map(fn, items))
