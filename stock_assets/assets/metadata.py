"""Materialization metadata shared by every asset: counts, symbols, schema, preview."""

from __future__ import annotations

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema
from dagster._core.definitions.metadata import TableMetadataSet

from stock_assets.market.schemas import TableSchema as Contract

PREVIEW_ROWS = 5


def column_schema(contract: Contract) -> TableSchema:
    return TableSchema(columns=[TableColumn(name, sql) for name, sql in contract.columns])


def definition_metadata(contract: Contract, partition_expr: str | None = None) -> dict:
    """Static metadata on the asset definition: the table contract and partition column."""
    meta: dict = dict(
        TableMetadataSet(column_schema=column_schema(contract), table_name=contract.qualified_name)
    )
    if partition_expr:
        meta["partition_expr"] = partition_expr
    return meta


def frame_metadata(frame: pd.DataFrame, contract: Contract) -> dict:
    """What a person wants to see on a materialization without querying the table."""
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
        "rows": len(frame),
        **by_symbol,
        **TableMetadataSet(column_schema=column_schema(contract)),
        "preview": MetadataValue.md(markdown_table(frame.head(PREVIEW_ROWS))),
    }


def markdown_table(frame: pd.DataFrame, max_cell: int = 60) -> str:
    if frame.empty:
        return "_no rows_"

    def cell(value: object) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_cell else text[: max_cell - 1] + "…"

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
