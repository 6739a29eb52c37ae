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


# What each column means, shown beside the column schema in the UI. A name means the same
# in every table that has it.
COLUMN_DESCRIPTIONS = {
    "symbol": "Ticker, canonical form (upper case; e.g. BRK-B, ^GSPC)",
    "trade_date": "NYSE trading day (America/New_York); the partition",
    "record_no": "1-based position of the record in its source object",
    "payload": "The source record exactly as received (JSON or CSV text)",
    "source": "Where the data came from (simulated, yahoo, alpha_vantage, csv, landing)",
    "fetched_at": "When the record was pulled from the source (UTC)",
    "object_key": "Lake key of the verbatim object the record came from",
    "open": "Opening price of the session",
    "high": "Highest price of the session",
    "low": "Lowest price of the session",
    "close": "Closing price of the session",
    "adj_close": "Close adjusted for splits and dividends",
    "volume": "Shares traded (the session's, or up to the quote for stream rows)",
    "ingested_at": "When the row was written (UTC)",
    "reason": "Why: the rule a rejected record broke, or what triggered a signal",
    "sma_5": "Simple moving average of close, 5 sessions",
    "sma_20": "Simple moving average of close, 20 sessions",
    "sma_50": "Simple moving average of close, 50 sessions",
    "ema_12": "Exponential moving average of close, 12 sessions (SMA seed, as TA-Lib)",
    "ema_26": "Exponential moving average of close, 26 sessions (SMA seed, as TA-Lib)",
    "macd": "MACD line: EMA 12 - EMA 26",
    "macd_signal": "EMA 9 of the MACD line",
    "macd_hist": "MACD line - signal line",
    "bb_upper": "Bollinger upper band: SMA 20 + 2 population sigma",
    "bb_middle": "Bollinger middle band: SMA 20",
    "bb_lower": "Bollinger lower band: SMA 20 - 2 population sigma",
    "rsi_14": "Wilder's RSI, 14 sessions (0-100)",
    "volatility_20": "Sample std of the last 20 daily log returns x sqrt(252)",
    "pct_change": "100 x (close / previous close - 1)",
    "signal": "BUY, SELL, ANOMALY, VOLUME_SPIKE or BB_BREAKOUT",
    "value": "The measure that triggered the signal",
    "symbols": "Symbols with a bar that day",
    "advancers": "Symbols that closed up",
    "decliners": "Symbols that closed down",
    "unchanged": "Symbols that closed flat",
    "top_gainers": "Largest % gains of the day",
    "top_losers": "Largest % losses of the day",
    "best_symbol": "Symbol with the largest % change",
    "best_pct": "Its % change",
    "worst_symbol": "Symbol with the smallest % change",
    "worst_pct": "Its % change",
    "anomaly_count": "ANOMALY signals that day",
    "signal_count": "Signals of any kind that day",
    "ts": "Quote time (UTC)",
    "price": "Last traded price at ts",
    "change": "Price change since the previous close",
    "change_pct": "% change since the previous close",
    "name": "Company or index name, as the source gives it",
    "updated_at": "When the snapshot row was last written (UTC)",
    "rule": "The user alert rule that fired (RULE signals), else NULL",
    "detected_at": "When the platform first recorded the signal (UTC)",
    "last_signal": "Kind of the symbol's newest live signal (MOVE, CROSS_UP, RULE, ...)",
    "last_signal_at": "Time of the quote that triggered it (UTC)",
    "last_signal_reason": "What triggered it (a RULE's reason starts with the rule's name)",
    "minute": "Minutes from the session's open to the bar's start",
    "avg_volume": "Mean volume of that minute of the session",
    "sessions": "Sessions the mean is taken over",
    "ex_date": "First trading day on the new share basis (the split or dividend applies)",
    "action": "SPLIT or DIVIDEND",
    "ratio": "Split: new shares per old share (10 for a 10-for-1 split); NULL for a dividend",
    "amount": "Dividend: cash per share, in the price's currency; NULL for a split",
}


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
        "20-day annualized volatility of log returns, daily % change. Warm-up rows are NULL. "
        "Each day is computed on history adjusted to that day's share basis (the splits and "
        "dividends of silver.corporate_actions up to it), so close is the raw close."
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
        ("volume", "BIGINT"),
        ("last_signal", "VARCHAR"),
        ("last_signal_at", "TIMESTAMP"),
        ("last_signal_reason", "VARCHAR"),
    ),
    description=(
        "The newest quote per symbol. A late file carrying older quotes never replaces a "
        "newer price. A field the quote omits keeps its last known value (name always; "
        "volume, change and change_pct within the session). volume: the session's so far. "
        "last_signal: the symbol's newest live signal by trigger time among those stored when "
        "its row last moved, the signals of that run included (a run writes the snapshot "
        "after its signals)."
    ),
)

INTRADAY_BARS = TableSchema(
    layer="silver",
    name="intraday_bars",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("bar_start", "TIMESTAMP"),
        ("open", "DOUBLE"),
        ("high", "DOUBLE"),
        ("low", "DOUBLE"),
        ("close", "DOUBLE"),
        ("volume", "BIGINT"),
        ("vwap", "DOUBLE"),
        ("quotes", "INTEGER"),
        ("source", "VARCHAR"),
        ("ingested_at", "TIMESTAMP"),
    ),
    description=(
        "One-minute OHLCV bars of the regular NYSE session, one row per symbol and bar_start "
        "(UTC, the start of the minute). Built from the stream's quotes (source 'stream', "
        "quotes = how many made the bar) or a vendor's bars (quotes NULL), which replace the "
        "stream's bars of a closed session and symbol."
    ),
)

DAILY_KPIS = TableSchema(
    layer="gold",
    name="daily_kpis",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("open", "DOUBLE"),
        ("close", "DOUBLE"),
        ("prev_close", "DOUBLE"),
        ("avg_price", "DOUBLE"),
        ("vwap", "DOUBLE"),
        ("volume", "BIGINT"),
        ("range_pct", "DOUBLE"),
        ("change_pct", "DOUBLE"),
        ("oc_change_pct", "DOUBLE"),
        ("realized_vol", "DOUBLE"),
        ("bars", "INTEGER"),
        ("bars_expected", "INTEGER"),
        ("completeness", "DOUBLE"),
    ),
    description=(
        "Daily figures per symbol and trading day built from the one-minute bars: session "
        "VWAP, average price, volume, range, open-to-close and previous-close-to-close "
        "change, realized volatility of the minute returns, and bars present / expected."
    ),
)

# The tables of the daily batch path (daily_market_job), bronze to gold.
LIVE_SIGNALS = TableSchema(
    layer="gold",
    name="live_signals",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("ts", "TIMESTAMP"),
        ("signal", "VARCHAR"),
        ("rule", "VARCHAR"),
        ("value", "DOUBLE"),
        ("reason", "VARCHAR"),
        ("detected_at", "TIMESTAMP"),
    ),
    description=(
        "Signals on the stream, one row per symbol, trigger quote (ts, UTC) and signal: MOVE "
        "(more than 5% from the previous close), CROSS_UP / CROSS_DOWN (SMA-5 over SMA-20 of "
        "one-minute closes), VOLUME_SURGE (a minute's volume over 3x its usual), RULE (a user "
        "rule, named in rule). Each condition crossing fires once; the day's rows are the same "
        "whatever order the quotes arrived in. detected_at: when the platform recorded it."
    ),
)

MINUTE_VOLUME_PROFILE = TableSchema(
    layer="gold",
    name="minute_volume_profile",
    columns=(
        ("symbol", "VARCHAR"),
        ("trade_date", "DATE"),
        ("minute", "INTEGER"),
        ("avg_volume", "DOUBLE"),
        ("sessions", "INTEGER"),
    ),
    description=(
        "Each symbol's usual volume per minute of the session: the mean one-minute bar volume "
        "over the 20 sessions up to trade_date. The next session's VOLUME_SURGE signals compare "
        "each minute with it."
    ),
)

CORPORATE_ACTIONS = TableSchema(
    layer="silver",
    name="corporate_actions",
    columns=(
        ("symbol", "VARCHAR"),
        ("ex_date", "DATE"),
        ("action", "VARCHAR"),
        ("ratio", "DOUBLE"),
        ("amount", "DOUBLE"),
        ("source", "VARCHAR"),
        ("ingested_at", "TIMESTAMP"),
    ),
    description=(
        "Splits (ratio) and cash dividends (amount per share), one row per symbol, ex-date "
        "and action, merged: a corrected or late action replaces or joins the stored ones. "
        "Indicators and signals adjust history with them; silver.prices stays as sent."
    ),
)

BATCH_TABLES = (RAW_QUOTES, PRICES, PRICE_REJECTS, INDICATORS, SIGNALS, MARKET_SUMMARY)

TABLES: dict[str, TableSchema] = {
    t.qualified_name: t
    for t in (
        *BATCH_TABLES,
        STREAM_HISTORY,
        LATEST_SNAPSHOT,
        INTRADAY_BARS,
        DAILY_KPIS,
        LIVE_SIGNALS,
        MINUTE_VOLUME_PROFILE,
        CORPORATE_ACTIONS,
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
