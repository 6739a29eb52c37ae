"""Table contracts: column names and SQL types users query (docs/ARCHITECTURE.md).

One source of truth for the DuckDB DDL, the Parquet/Glue schemas and the schema checks.
Timestamps are UTC, stored without a zone (Athena's TIMESTAMP has none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TableSchema:
    layer: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, SQL type) in storage order
    description: str

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def ddl(self) -> str:
        cols = ",\n  ".join(f'"{name}" {sql_type}' for name, sql_type in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.layer}.{self.name} (\n  {cols}\n)"

    def empty_frame(self) -> pd.DataFrame:
        return conform(pd.DataFrame(columns=self.column_names), self)


RAW_QUOTES = TableSchema(
    layer="bronze",
    name="raw_quotes",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("record_no", "INTEGER"),
        ("payload", "VARCHAR"),
        ("source", "VARCHAR"),
        ("fetched_at", "TIMESTAMP"),
        ("object_key", "VARCHAR"),
    ),
    description=(
        "One row per source record exactly as received (payload is the original JSON/CSV "
        "text). trade_date is the trading day the record was pulled for; object_key points "
        "at the verbatim response kept in the lake for audit and replay."
    ),
)

PRICES = TableSchema(
    layer="silver",
    name="prices",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("open", "DOUBLE"),
        ("high", "DOUBLE"),
        ("low", "DOUBLE"),
        ("close", "DOUBLE"),
        ("adj_close", "DOUBLE"),
        ("volume", "BIGINT"),
        ("source", "VARCHAR"),
        ("ingested_at", "TIMESTAMP"),
    ),
    description=(
        "Daily OHLCV bars, one row per symbol and NYSE trading day: typed, validated "
        "(positive prices, consistent high/low, non-negative volume) and deduplicated."
    ),
)

PRICE_REJECTS = TableSchema(
    layer="silver",
    name="price_rejects",
    columns=(
        ("object_key", "VARCHAR"),
        ("record_no", "INTEGER"),
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("source", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("payload", "VARCHAR"),
    ),
    description="Bronze records that could not become prices, with the reason.",
)

INDICATOR_COLUMNS = (
    "sma_5", "sma_20", "sma_50", "ema_12", "ema_26", "macd", "macd_signal", "macd_hist",
    "bb_upper", "bb_middle", "bb_lower", "rsi_14", "volatility_20", "pct_change",
)  # fmt: skip

INDICATORS = TableSchema(
    layer="gold",
    name="indicators",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("close", "DOUBLE"),
        ("volume", "BIGINT"),
        *((name, "DOUBLE") for name in INDICATOR_COLUMNS),
    ),
    description=(
        "One wide table of TA-Lib-exact indicators per symbol and trading day: SMA 5/20/50, "
        "EMA 12/26, MACD (12, 26, 9), Bollinger (20, 2, population sigma), Wilder RSI 14, "
        "20-day annualized volatility of log returns, daily % change. Warm-up rows are NULL."
    ),
)

SIGNALS = TableSchema(
    layer="gold",
    name="signals",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("signal", "VARCHAR"),
        ("value", "DOUBLE"),
        ("reason", "VARCHAR"),
    ),
    description=(
        "Trading signals per symbol and day: BUY/SELL on SMA-5/SMA-20 crossings, ANOMALY on "
        "large daily moves, VOLUME_SPIKE, BB_BREAKOUT; each with a readable reason."
    ),
)

MARKET_SUMMARY = TableSchema(
    layer="gold",
    name="market_summary",
    columns=(
        ("trade_date", "DATE"),
        ("symbols", "BIGINT"),
        ("advancers", "BIGINT"),
        ("decliners", "BIGINT"),
        ("unchanged", "BIGINT"),
        ("top_gainers", "VARCHAR"),
        ("top_losers", "VARCHAR"),
        ("best_symbol", "VARCHAR"),
        ("best_pct", "DOUBLE"),
        ("worst_symbol", "VARCHAR"),
        ("worst_pct", "DOUBLE"),
        ("anomaly_count", "BIGINT"),
        ("signal_count", "BIGINT"),
    ),
    description="One row per trading day: breadth, top movers and signal counts.",
)

STREAM_HISTORY = TableSchema(
    layer="silver",
    name="stream_history",
    columns=(
        ("symbol", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("price", "DOUBLE"),
        ("volume", "BIGINT"),
        ("change", "DOUBLE"),
        ("change_pct", "DOUBLE"),
        ("name", "VARCHAR"),
        ("source", "VARCHAR"),
        ("object_key", "VARCHAR"),
        ("ingested_at", "TIMESTAMP"),
        ("trade_date", "DATE"),
    ),
    description=(
        "Intraday quotes from landing-zone files, one row per symbol and quote time (UTC). "
        "Each row is written once: re-delivered files and duplicates never add or change "
        "rows. trade_date is the New York trading day of ts (the partition); object_key is "
        "the landing object the quote came from."
    ),
)

LATEST_SNAPSHOT = TableSchema(
    layer="gold",
    name="latest_snapshot",
    columns=(
        ("symbol", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("price", "DOUBLE"),
        ("change", "DOUBLE"),
        ("change_pct", "DOUBLE"),
        ("name", "VARCHAR"),
        ("updated_at", "TIMESTAMP"),
    ),
    description=(
        "The newest quote per symbol. A late file carrying older quotes never replaces a "
        "newer price."
    ),
)

# The tables of the daily batch path (daily_market_job), bronze to gold.
BATCH_TABLES = (RAW_QUOTES, PRICES, PRICE_REJECTS, INDICATORS, SIGNALS, MARKET_SUMMARY)

TABLES: dict[str, TableSchema] = {
    t.qualified_name: t
    for t in (
        *BATCH_TABLES,
        STREAM_HISTORY,
        LATEST_SNAPSHOT,
    )
}

_PANDAS_DTYPES = {
    "VARCHAR": "object",
    "DOUBLE": "float64",
    "BIGINT": "Int64",
    "INTEGER": "Int32",
}


def conform(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Select the schema's columns in order and coerce them to their storage dtypes."""
    missing = [c for c in schema.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"{schema.qualified_name}: frame lacks columns {missing}")
    # Built in one go from the columns: assigning them one by one splits pandas' blocks
    # and copies everything again when they are merged back.
    columns = {
        name: column_array(_storage_values(frame[name], sql_type))
        for name, sql_type in schema.columns
    }
    return pd.DataFrame(columns, columns=schema.column_names, copy=True)


def column_array(values: pd.Series) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The column's data without its index: a NumPy array where pandas holds one (its
    `.array` wrapper would be scanned for missing values when a frame is built from it)."""
    return values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array


def _storage_values(values: pd.Series, sql_type: str) -> pd.Series:
    """The column in its storage dtype; one already in it is kept as is, since converting
    large stream batches again (dates above all) costs more than the rest of their path."""
    if sql_type == "DATE":
        if not len(values):
            return values.astype(object)
        if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "date":
            return values
        return pd.to_datetime(values).dt.date
    if sql_type == "TIMESTAMP":
        if values.dtype == "datetime64[us]":  # naive, and naive means UTC here
            return values
        values = pd.to_datetime(values, utc=True)
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return values.astype(_PANDAS_DTYPES[sql_type])
