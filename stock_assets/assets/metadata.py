"""Materialization metadata shared by every asset: what the table (or partition) holds.

Counts, schema and table name go under Dagster's documented keys (`dagster/row_count`,
`dagster/partition_row_count`, `dagster/column_schema`, `dagster/table_name`), so the UI
shows them in its own places. Asset-scoped metadata wins over what an IO manager reports
for the same key, which is how the table name stays `schema.table` in every mode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

from stock_assets.compat import add_partition_metadata
from stock_assets.io_managers.merge import merge_spec
from stock_assets.io_managers.table_metadata import (
    COLUMN_SCHEMA,
    PARTITION_ROW_COUNT,
    ROW_COUNT,
    TABLE_NAME,
)
from stock_assets.market.schemas import COLUMN_DESCRIPTIONS
from stock_assets.market.schemas import TableSchema as Contract

BATCH_ROWS = "batch_rows"  # a merge write's own rows; the table's count is the IO manager's
PREVIEW_ROWS = 5
PREVIEW_DIGITS = 4  # prices carry cents and fractions of them; floats print 17 digits
OWNERS = ["team:market-data"]

# Where each mode (Settings.env) keeps the tables and runs the views, shown as kinds.
TABLE_STORES = {"local": ("duckdb",), "aws": ("s3", "glue")}
VIEW_ENGINES = {"local": ("duckdb",), "aws": ("athena",)}


def with_mode_kinds(
    assets: Sequence[dg.AssetsDefinition], mode: str, views: Collection[dg.AssetKey]
) -> Sequence[dg.AssetsDefinition]:
    """The assets with kinds saying where `mode` keeps them (the `views` run on its SQL
    engine) next to the kind they declare, how they are computed."""

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        stores = VIEW_ENGINES if spec.key in views else TABLE_STORES
        return spec.merge_attributes(kinds=set(stores[mode]))

    return dg.map_asset_specs(apply, assets)


def column_schema(contract: Contract) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(name, sql, description=COLUMN_DESCRIPTIONS.get(name))
            for name, sql in contract.columns
        ]
    )


def definition_metadata(contract: Contract, partition_expr: str | None = None) -> dict:
    """Static metadata on the asset definition: the table contract and partition column."""
    meta: dict = {
        COLUMN_SCHEMA: MetadataValue.table_schema(column_schema(contract)),
        TABLE_NAME: MetadataValue.text(contract.qualified_name),
    }
    if partition_expr:
        meta["partition_expr"] = partition_expr
    return meta


def frame_metadata(frame: pd.DataFrame, contract: Contract) -> dict:
    """What a person wants to see about these rows without querying the table."""
    # unique() before dropping nulls: a stream batch has 150,000 rows and a few hundred symbols
    symbols = (
        sorted(s for s in frame["symbol"].unique() if pd.notna(s)) if "symbol" in frame else []
    )
    by_symbol = (
        {"symbol_count": len(symbols), "symbols": ", ".join(map(str, symbols)) or "(none)"}
        if "symbol" in frame
        else {}
    )
    return {
        **by_symbol,
        TABLE_NAME: MetadataValue.text(contract.qualified_name),
        COLUMN_SCHEMA: MetadataValue.table_schema(column_schema(contract)),
        "preview": MetadataValue.md(markdown_table(frame.head(PREVIEW_ROWS))),
    }


def add_materialization_metadata(
    context: dg.AssetExecutionContext,
    frame: pd.DataFrame,
    contract: Contract,
    run_metadata: Mapping[str, Any] | None = None,
    *,
    asset_key: dg.AssetKey | None = None,
    every_day: Mapping[str, Any] | None = None,
) -> None:
    """Describe what an output leaves in the table, once per partition it writes.

    `frame` is what the table (unpartitioned) or the run's partitions hold after the write.
    A single-run backfill turns an output into one materialization per partition and Dagster
    copies output metadata into each, so a 2,520-session backfill would store the preview,
    schema, symbol list and charts 2,520 times per table. Over several partitions, each day
    gets its own counts (plus `every_day`: small facts true of each day) and the last one,
    which the UI shows as latest, also its description (symbols, preview of that day's rows),
    the run's totals (`run_rows`, `run_symbol_count`, `run_partitions`) and `run_metadata`.
    """
    key = asset_key or context.asset_key
    spec = context.assets_def.specs_by_key[key]
    partitioned = spec.partitions_def is not None
    # A merge write keeps stored rows the frame does not hold: its IO manager counts the
    # table after the merge, and the frame's size is only what this run brought.
    merged = merge_spec(spec.metadata) is not None
    count = BATCH_ROWS if merged else PARTITION_ROW_COUNT if partitioned else ROW_COUNT
    days = list(context.partition_keys) if partitioned else []
    if len(days) <= 1:
        context.add_asset_metadata(
            {
                count: len(frame),
                **frame_metadata(frame, contract),
                **(run_metadata or {}),
                **(every_day or {}),
            },
            asset_key=key,
        )
        return
    per_day = {
        day: {**counts, **(every_day or {})}
        for day, counts in day_counts(frame, days, count).items()
    }
    last = frame[frame["trade_date"] == dt.date.fromisoformat(days[-1])]
    run_totals = {"run_rows": len(frame), "run_partitions": len(days)}
    if "symbol" in frame:
        run_totals["run_symbol_count"] = int(frame["symbol"].nunique())
    per_day[days[-1]] = {
        **frame_metadata(last, contract),
        **run_totals,
        **(run_metadata or {}),
        **per_day[days[-1]],
    }
    add_partition_metadata(context, key, per_day)


def day_counts(
    frame: pd.DataFrame, days: list[str], count: str = PARTITION_ROW_COUNT
) -> dict[str, dict[str, int]]:
    """Rows per trading day under `count` (ISO keys, 0 for a day without any) and, where
    the table has symbols, distinct symbols."""
    grouped = frame.groupby("trade_date", sort=False)
    counts = (
        grouped["symbol"].agg(**{count: "size", "symbol_count": "nunique"})
        if "symbol" in frame
        else grouped.size().to_frame(count)
    )
    counts.index = [day.isoformat() for day in counts.index]
    return counts.reindex(days, fill_value=0).to_dict("index")


def markdown_table(frame: pd.DataFrame, max_cell: int = 60) -> str:
    """Rows as a Markdown table for the UI; numbers rounded for reading, not for storage."""
    if frame.empty:
        return "_no rows_"

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            text = ""
        elif isinstance(value, float):
            text = str(round(value, PREVIEW_DIGITS))
        else:
            text = str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_cell else text[: max_cell - 1] + "…"

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
