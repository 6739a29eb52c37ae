"""AWS mode's warehouse: Apache Iceberg tables in the Glue catalog, written with pyiceberg.

Each asset key `[layer, table]` is the Iceberg table `table` in the Glue database of its
layer, stored under `s3://{bucket}/{prefix}/tables/{layer}/{table}/` (Iceberg's `data/` and
`metadata/` folders): nothing else lives there, so raw lake objects never mix with table
files. Columns get the contract's types (market.schemas); partitioned tables are
partitioned by `trade_date` (identity), which Athena and the scans below prune on.

Every write is one Iceberg commit: a run's partitions (a whole single-run backfill) are
replaced together, so a reader sees the table before or after the run, never a mix.
Readers holding an older snapshot keep reading it until the maintenance job expires it.

Commits are optimistic: the table's metadata pointer moves only if nobody committed since
the write read it. A refused commit is redone from the fresh table (merges read the stored
rows again), so concurrent runs on the same or on disjoint partitions all land correctly.

Assets whose definition metadata declares `merge_keys` (io_managers.merge) are merged: new
keys are appended, and with `merge_newest_by` the rows a newer one replaces are rewritten
in the same commit. A stream micro-batch therefore writes its own rows, not its whole day.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
from pydantic import Field

from stock_assets.io_managers.merge import MergeSpec, merge_frames, merge_spec
from stock_assets.io_managers.table_metadata import (
    PARTITION_COLUMN,
    input_columns,
    output_metadata,
    qualified_name,
    valid_table_name,
)
from stock_assets.market.schemas import TABLES, TableSchema, conform
from stock_assets.market.sql import glue_database
from stock_assets.settings import aws_endpoint_url, aws_region

TABLES_PREFIX = "tables"  # {prefix}/tables/{layer}/{table}/: Iceberg's data/ and metadata/
ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DATE": pa.date32(),
    # Microseconds, zone-less: values are UTC wall times (Iceberg `timestamp`, Athena TIMESTAMP).
    "TIMESTAMP": pa.timestamp("us"),
}
# Refused commits are redone here from a fresh read (pyiceberg's own retry would re-apply
# the same rows, which a merge must not do).
# Each commit writes a new metadata.json; older ones beyond the last 100 are deleted.
TABLE_PROPERTIES = {
    "commit.retry.num-retries": "0",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}
_NULLABLE_INTS = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}


def catalog(region: str | None = None):
    """The Glue catalog (pyiceberg), honouring AWS_ENDPOINT_URL like every boto3 client."""
    return _cached_catalog(region or aws_region(), aws_endpoint_url())


@lru_cache(maxsize=4)
def _cached_catalog(region: str | None, endpoint: str | None):
    from pyiceberg.catalog import load_catalog  # the [aws] extra: local mode never needs it

    # One attempt per Glue call: a commit whose reply was lost must not be re-sent, since
    # the re-send is refused as stale and pyiceberg then deletes the files of the commit
    # that did land. The run fails instead, with the table at the new snapshot.
    properties: dict[str, Any] = {"type": "glue", "glue.max-retries": 0}
    if region:
        properties |= {"glue.region": region, "s3.region": region}
    if endpoint:
        properties |= {"glue.endpoint": endpoint, "s3.endpoint": endpoint}
    return load_catalog("glue", **properties)


def arrow_schema(contract: TableSchema) -> pa.Schema:
    """The contract's columns as Arrow types (what pyiceberg maps to Iceberg types)."""
    return pa.schema([pa.field(n, ARROW_TYPES[t]) for n, t in contract.columns])


@dataclass(frozen=True)
class IcebergTable:
    """One asset's table: Glue database and name, location, contract and write mode."""

    database: str
    name: str
    location: str
    partitioned: bool
    contract: TableSchema | None
    merge: MergeSpec | None = None

    @property
    def identifier(self) -> str:
        return f"{self.database}.{self.name}"

    def schema(self, frame: pd.DataFrame | None = None) -> pa.Schema:
        """The contract's Arrow schema, or (no contract) the frame's with nulls as strings."""
        if self.contract is not None:
            return arrow_schema(self.contract)
        inferred = pa.Schema.from_pandas(frame, preserve_index=False).remove_metadata()
        return pa.schema(
            [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in inferred]
        )

    def to_arrow(self, frame: pd.DataFrame) -> pa.Table:
        schema = self.schema(frame)
        return pa.Table.from_pandas(frame.loc[:, schema.names], schema=schema, preserve_index=False)

    def to_frame(self, data: pa.Table | None) -> pd.DataFrame:
        """Arrow -> pandas with the dtypes the assets produce (market.schemas.conform);
        columns the contract gained after the table was written read as NULL."""
        if data is None:
            return self.contract.empty_frame() if self.contract else pd.DataFrame()
        frame = data.to_pandas(types_mapper=_NULLABLE_INTS.get)
        if self.contract is None:
            return frame
        return conform(frame.reindex(columns=self.contract.column_names), self.contract)


class IcebergIOManager(dg.ConfigurableIOManager):
    """DataFrames as Iceberg tables in the Glue catalog, one commit per write, optimistic
    concurrency with retry, merges (io_managers.merge), and partition-pruned reads."""

    bucket: str = Field(description="The lake bucket (STOCK_ASSETS_S3_BUCKET)")
    prefix: str = Field(default="stock-assets", description="Key prefix of the lake")
    glue_database_prefix: str = Field(
        default="",
        description="Glue databases are the layers, or '<prefix>_<layer>' when this is set",
    )
    region_name: str | None = Field(
        default=None, description="AWS region; unset: AWS_REGION, then boto3's default chain"
    )
    commit_attempts: int = Field(
        default=10, description="Tries of a commit that concurrent writers keep refusing"
    )

    # -- Dagster entry points ---------------------------------------------------------------

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: IcebergIOManager stores pandas "
                f"DataFrames, got {type(obj).__name__}"
            )
        table = self.table(
            qualified_name(context.asset_key),
            partitioned=context.has_asset_partitions,
            merge=merge_spec(context.definition_metadata),
        )
        expr = (context.definition_metadata or {}).get("partition_expr", PARTITION_COLUMN)
        if table.partitioned and str(getattr(expr, "value", expr)) != PARTITION_COLUMN:
            raise ValueError(
                f"{table.identifier}: Iceberg tables are partitioned by {PARTITION_COLUMN!r}, "
                f"not by the declared partition_expr {expr!r}"
            )
        frame = conform(obj, table.contract) if table.contract else obj.reset_index(drop=True)
        days = sorted(context.asset_partition_keys) if table.partitioned else []
        snapshot = self.write(table, frame, days, run_id=context.run_id)
        context.add_output_metadata(
            {
                **output_metadata(context, frame, len(frame), table.identifier),
                "dagster/uri": dg.MetadataValue.path(table.location),
                "iceberg_snapshot_id": dg.MetadataValue.text(str(snapshot or "")),
                **({"partition_count": len(days)} if table.partitioned else {}),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = self.table(
            qualified_name(context.asset_key), partitioned=context.has_asset_partitions
        )
        columns = input_columns(context)
        if not table.partitioned:
            return self.scan(table, columns=columns)
        if not context.asset_partition_keys:
            frame = table.to_frame(None)
            return frame[list(columns)] if columns else frame
        window = context.asset_partitions_time_window  # lookbacks included: one range scan
        return self.scan(table, _day_range(window.start.date(), window.end.date()), columns=columns)

    # -- the public read --------------------------------------------------------------------

    def read(self, table: str, partitions: Sequence[str | dt.date] | None = None) -> pd.DataFrame:
        """The stored rows of `table` (`layer.table`), as the asset produced them.

        With `partitions` (trading days), exactly those partitions (absent ones skipped);
        without, the whole table. A table not written yet reads as empty."""
        stored = self.table(valid_table_name(table), partitioned=bool(partitions))
        if not partitions:
            return self.scan(stored)
        return self.scan(stored, _days_filter([str(p) for p in partitions]))

    def distinct(
        self,
        table: str,
        columns: Sequence[str],
        partitions: Sequence[str | dt.date] | None = None,
    ) -> pd.DataFrame:
        """The distinct values of `columns` among the rows `read` would return, deduplicated
        batch by batch: a check that asks which keys exist never holds the whole table."""
        stored = self.table(valid_table_name(table), partitioned=bool(partitions))
        columns = list(columns)
        current = self.load(stored)
        if current is None or current.current_snapshot() is None:
            return stored.to_frame(None)[columns]
        kwargs: dict[str, Any] = {"selected_fields": tuple(columns)}
        if partitions:
            kwargs["row_filter"] = _days_filter([str(p) for p in partitions])
        keys = None
        for batch in current.scan(**kwargs).to_arrow_batch_reader():
            found = pa.Table.from_batches([batch]).select(columns)
            keys = found if keys is None else pa.concat_tables([keys, found])
            keys = keys.group_by(columns).aggregate([])
        if keys is None:
            return stored.to_frame(None)[columns]
        return stored.to_frame(keys.select(columns))[columns]

    # -- tables ----------------------------------------------------------------------------

    def table(self, name: str, partitioned: bool, merge: MergeSpec | None = None) -> IcebergTable:
        """The Iceberg table of a `layer.table` name."""
        layer, table = name.split(".")
        root = "/".join(p for p in (self.prefix.strip("/"), TABLES_PREFIX, layer, table) if p)
        return IcebergTable(
            database=glue_database(layer, self.glue_database_prefix),
            name=table,
            location=f"s3://{self.bucket}/{root}",
            partitioned=partitioned,
            contract=TABLES.get(name),
            merge=merge,
        )

    def load(self, table: IcebergTable):
        """The Iceberg table, or None when it does not exist yet."""
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return catalog(self.region_name).load_table(table.identifier)
        except NoSuchTableError:
            return None

    def create(self, table: IcebergTable, schema: pa.Schema):
        """Create the table (and its database) unless it exists; safe against racing runs."""
        from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC

        glue = catalog(self.region_name)
        glue.create_namespace_if_not_exists(table.database)
        spec = _day_spec(schema) if table.partitioned else UNPARTITIONED_PARTITION_SPEC
        return glue.create_table_if_not_exists(
            table.identifier,
            schema=_iceberg_schema(schema),
            location=table.location,
            partition_spec=spec,
            properties=TABLE_PROPERTIES,
        )

    # -- writes ----------------------------------------------------------------------------

    def write(
        self, table: IcebergTable, frame: pd.DataFrame, days: Sequence[str], run_id: str = ""
    ) -> int | None:
        """Replace the run's partitions (or the whole table) with `frame`, or merge it in,
        in one commit; returns the table's snapshot id after it."""
        if table.partitioned:
            _refuse_stray_rows(table, frame, days)
        data = table.to_arrow(frame)
        scope = _days_filter(days) if table.partitioned else None
        properties = {"stock_assets.run_id": run_id} if run_id else {}

        def apply(transaction, current) -> bool:
            if table.merge is None:
                transaction.overwrite(
                    data, overwrite_filter=scope or _always_true(), **_props(properties)
                )
                return True
            return _merge(transaction, current, table, frame, scope, properties)

        written = self.commit(table, data.schema, apply)
        return written.current_snapshot().snapshot_id if written.current_snapshot() else None

    def commit(self, table: IcebergTable, schema: pa.Schema, apply: Callable[[Any, Any], bool]):
        """Run `apply(transaction, table)` on the current table and commit; a commit refused
        because another writer moved the table first is redone on the new state."""
        from pyiceberg.exceptions import CommitFailedException, ValidationException

        for attempt in range(self.commit_attempts):
            current = _with_new_columns(self.load(table) or self.create(table, schema), schema)
            transaction = current.transaction()
            try:
                with warnings.catch_warnings():  # replacing a partition not written before
                    warnings.filterwarnings("ignore", "Delete operation did not match any records")
                    changed = apply(transaction, current)
                if not changed:
                    return current
                return transaction.commit_transaction()
            except (CommitFailedException, ValidationException):
                if attempt == self.commit_attempts - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * 2 ** min(attempt, 5))
        raise AssertionError("unreachable")

    # -- reads -----------------------------------------------------------------------------

    def scan(
        self,
        table: IcebergTable,
        row_filter=None,
        snapshot_id: int | None = None,
        columns: Sequence[str] | None = None,
    ):
        """The table's rows (matching `row_filter`; all columns or `columns`) at its current
        or a given snapshot."""
        current = self.load(table)
        if current is None or current.current_snapshot() is None:
            frame = table.to_frame(None)
            return frame[list(columns)] if columns else frame
        kwargs = {"row_filter": row_filter} if row_filter is not None else {}
        if columns:
            kwargs["selected_fields"] = tuple(columns)
        data = current.scan(snapshot_id=snapshot_id, **kwargs).to_arrow()
        frame = table.to_frame(data)
        return frame[list(columns)] if columns else frame


def _with_new_columns(current, schema: pa.Schema):
    """The table with the columns the contract gained since it was created (e.g. the
    snapshot's `volume` and `last_signal*`) added, NULL in the rows it holds."""
    stored = {field.name for field in current.schema().fields}
    if all(name in stored for name in schema.names):
        return current
    with current.update_schema() as update:
        update.union_by_name(schema)
    return current.refresh()


def _merge(transaction, current, table: IcebergTable, frame, scope, properties) -> bool:
    """Stage a merge of `frame` (io_managers.merge semantics); False when nothing changes.

    Only the stored rows the batch's keys can match are read (the keys' ranges within the
    run's partitions). New keys are appended; rows a newer one replaces are deleted and
    rewritten in the same commit."""
    from pyiceberg.expressions import And

    spec = table.merge
    if frame.empty:
        return False
    bounds = _key_bounds(frame, spec.keys)
    candidates = And(scope, bounds) if scope is not None else bounds
    stored = table.to_frame(
        current.scan(row_filter=candidates).to_arrow() if current.current_snapshot() else None
    )
    merged = merge_frames(stored.assign(_new=False), frame.assign(_new=True), spec)
    winners = merged[merged["_new"].astype(bool)].drop(columns="_new")
    if winners.empty:
        return False
    stored_keys = set(map(tuple, stored[list(spec.keys)].itertuples(index=False, name=None)))
    replaced = [
        k for k in winners[list(spec.keys)].itertuples(index=False, name=None) if k in stored_keys
    ]
    data = table.to_arrow(winners.reset_index(drop=True))
    if replaced:
        doomed = _keys_filter(spec.keys, replaced)
        where = And(scope, doomed) if scope is not None else doomed
        transaction.overwrite(data, overwrite_filter=where, **_props(properties))
    else:
        transaction.append(data, **_props(properties))
    return True


# -- Iceberg expressions and specs ----------------------------------------------------------


def _props(properties: Mapping[str, str]) -> dict[str, Any]:
    return {"snapshot_properties": dict(properties)} if properties else {}


def _always_true():
    from pyiceberg.expressions import AlwaysTrue

    return AlwaysTrue()


def _days_filter(days: Sequence[str]):
    """Rows of exactly these trading days (pruned to their partitions)."""
    from pyiceberg.expressions import AlwaysFalse, In

    values = sorted({dt.date.fromisoformat(d).isoformat() for d in days})
    return In(PARTITION_COLUMN, values) if values else AlwaysFalse()


def _day_range(start: dt.date, end: dt.date):
    """Rows dated in [start, end): a lookback window's partitions in one pruned scan."""
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    return And(
        GreaterThanOrEqual(PARTITION_COLUMN, start.isoformat()),
        LessThan(PARTITION_COLUMN, end.isoformat()),
    )


def _key_bounds(frame: pd.DataFrame, keys: Sequence[str]):
    """Stored rows whose merge keys lie within the batch's (prunes files by min/max)."""
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThanOrEqual

    terms = []
    for key in keys:
        low, high = _literal(frame[key].min()), _literal(frame[key].max())
        terms += [GreaterThanOrEqual(key, low), LessThanOrEqual(key, high)]
    return And(*terms) if len(terms) > 1 else terms[0]


def _keys_filter(keys: Sequence[str], values: Sequence[tuple]):
    """Rows whose merge keys equal one of `values` (the rows a merge replaces)."""
    from pyiceberg.expressions import And, EqualTo, In, Or

    if len(keys) == 1:
        return In(keys[0], sorted({_literal(v[0]) for v in values}))
    rows = [
        And(*[EqualTo(k, _literal(v)) for k, v in zip(keys, row, strict=True)]) for row in values
    ]
    return Or(*rows) if len(rows) > 1 else rows[0]


def _literal(value: object) -> object:
    """A pandas/NumPy scalar as the Python value an Iceberg literal takes."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _iceberg_schema(schema: pa.Schema):
    """The Iceberg schema of an Arrow one, field ids 1..n in column order."""
    from pyiceberg.io.pyarrow import _ConvertToIcebergWithoutIDs, visit_pyarrow
    from pyiceberg.schema import assign_fresh_schema_ids

    return assign_fresh_schema_ids(visit_pyarrow(schema, _ConvertToIcebergWithoutIDs()))


def _day_spec(schema: pa.Schema):
    """Identity partitioning on trade_date (Athena prunes `trade_date = DATE '...'`)."""
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform

    if PARTITION_COLUMN not in schema.names:
        raise ValueError(f"a partitioned table needs a {PARTITION_COLUMN!r} column")
    source = _iceberg_schema(schema).find_field(PARTITION_COLUMN).field_id
    return PartitionSpec(
        PartitionField(
            source_id=source, field_id=1000, transform=IdentityTransform(), name=PARTITION_COLUMN
        )
    )


def _refuse_stray_rows(table: IcebergTable, frame: pd.DataFrame, days: Sequence[str]) -> None:
    """Rows must belong to the run's partitions: a write never touches other days."""
    if PARTITION_COLUMN not in frame.columns:
        raise ValueError(f"{table.identifier}: the frame has no {PARTITION_COLUMN!r} column")
    values = pd.to_datetime(frame[PARTITION_COLUMN])
    if values.isna().any():
        raise ValueError(f"{table.identifier}: {int(values.isna().sum())} rows have no trade_date")
    stray = sorted(set(values.dt.strftime("%Y-%m-%d")) - set(days))
    if stray:
        raise ValueError(
            f"{table.identifier}: trade_date values {stray[:5]} are outside the run's "
            f"partitions {days[0] if days else '-'}..{days[-1] if days else '-'}"
        )
