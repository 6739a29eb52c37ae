"""Output metadata both IO managers record, under Dagster's documented table keys."""

from __future__ import annotations

import re

import dagster as dg
import pandas as pd

ROW_COUNT = "dagster/row_count"
PARTITION_ROW_COUNT = "dagster/partition_row_count"
TABLE_NAME = "dagster/table_name"
COLUMN_SCHEMA = "dagster/column_schema"
PARTITION_COLUMN = "trade_date"  # every partitioned table is partitioned by its trading day

_QUALIFIED_NAME = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+")


def qualified_name(key: dg.AssetKey) -> str:
    """`layer.table` of an asset key like ['silver', 'prices']."""
    if len(key.path) < 2:
        raise ValueError(
            f"asset key {key.to_user_string()!r} has no layer: tables are stored under keys "
            "like ['silver', 'prices'] (layer, table)"
        )
    return valid_table_name(f"{key.path[-2]}.{key.path[-1]}")


def input_columns(context: dg.InputContext) -> tuple[str, ...] | None:
    """The columns an input asks for (its ``columns`` metadata), or None for all: a lookback
    over years of history reads only what it computes from."""
    columns = (context.definition_metadata or {}).get("columns")
    columns = getattr(columns, "value", columns)
    return tuple(columns) if columns else None


def valid_table_name(table: str) -> str:
    """`table` if it is a `layer.table` name of a-z, 0-9 and _; refused otherwise, since
    it is written into SQL and storage paths."""
    if not _QUALIFIED_NAME.fullmatch(table):
        raise ValueError(f"{table!r} is not a table name like 'silver.prices' (a-z, 0-9, _)")
    return table


def output_metadata(
    context: dg.OutputContext, frame: pd.DataFrame, rows: int, table_name: str
) -> dict[str, object]:
    """The table's name, and for a one-partition (or unpartitioned) output its row count
    and the frame's columns.

    A backfill's output metadata is copied onto every day's materialization, so there it
    holds only run-level facts; the assets record each day's own counts."""
    metadata: dict[str, object] = {TABLE_NAME: dg.MetadataValue.text(table_name)}
    if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
        return metadata
    count = PARTITION_ROW_COUNT if context.has_asset_partitions else ROW_COUNT
    columns = [dg.TableColumn(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]
    return {
        **metadata,
        count: dg.MetadataValue.int(rows),
        "dataframe_columns": dg.MetadataValue.table_schema(dg.TableSchema(columns=columns)),
    }
