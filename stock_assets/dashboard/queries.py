"""The dashboard's reads: one parameterized query per question, pushed down to the engine.

Every statement is a constant written in Athena SQL (the engine translates it for DuckDB);
symbols and dates are bound to `?` placeholders and are validated before they get here
(`inputs`). Each query selects only the rows and columns its page shows: a day, a symbol's
date range, a window of days, never a whole table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from stock_assets.resources.sql_engine import DuckDBSqlEngine, SqlEngine
from stock_assets.settings import Settings

# Calendar days read before the range so that the symbol page's 7- and 30-session averages
# are defined from its first day (30 sessions fit in 50 days).
AVERAGE_WARMUP_DAYS = 50
# Where a symbol's daily bars come from, by the basis the page offers (the first is the
# page's default), and the factor that puts a day's indicators on that basis: adjusted bars
# are on today's share basis (gold.adjusted_prices), while gold.indicators holds each day's
# values on that day's own basis, so price-like indicators are multiplied by the bar's factor.
PRICE_TABLES = {
    "adjusted": ("gold.adjusted_prices", "p.factor"),
    "raw": ("silver.prices", "1.0"),
}
PRICE_LIKE = ("sma_5", "sma_20", "sma_50", "bb_upper", "bb_middle", "bb_lower")
PRICE_LIKE += ("macd", "macd_signal", "macd_hist")
UNIT_FREE = ("rsi_14", "volatility_20", "pct_change")
INDICATOR_SELECT = ", ".join(
    [f"i.{column} * b.factor AS {column}" for column in PRICE_LIKE]
    + [f"i.{column}" for column in UNIT_FREE]
)


def engine_from_env() -> SqlEngine:
    """The engine of the mode in STOCK_ASSETS_ENV, configured as the code location's."""
    settings = Settings.from_env()
    if settings.env == "aws":
        from stock_assets.resources.aws import aws_resources

        return aws_resources(settings)["sql_engine"]
    return DuckDBSqlEngine(database=str(settings.data_dir / "warehouse.duckdb"))


@dataclass(frozen=True)
class DayRange:
    first: dt.date
    last: dt.date


class BusyNotice(Protocol):
    """Told while a query waits for another process's write lock, and when it got through."""

    def waiting(self, seconds: float) -> None: ...

    def done(self) -> None: ...


class Warehouse:
    """The questions the pages ask, each answered by one query through `engine`."""

    def __init__(self, engine: SqlEngine, notice: BusyNotice | None = None):
        self.engine = engine
        self.notice = notice

    def _query(self, statement: str, *parameters: object) -> pd.DataFrame:
        if self.notice is None:
            return self.engine.query(statement, parameters)
        frame = self.engine.query(statement, parameters, on_busy=self.notice.waiting)
        self.notice.done()
        return frame

    # -- what the warehouse holds ----------------------------------------------------------

    def days(self) -> DayRange | None:
        """The first and last trading day with a market summary; None when empty."""
        frame = self._query(
            "SELECT min(trade_date) AS first, max(trade_date) AS last FROM gold.market_summary"
        )
        if frame.empty or pd.isna(frame["last"].iloc[0]):
            return None
        return DayRange(_as_date(frame["first"].iloc[0]), _as_date(frame["last"].iloc[0]))

    def symbols(self) -> list[str]:
        frame = self._query("SELECT DISTINCT symbol FROM silver.prices ORDER BY symbol")
        return frame["symbol"].tolist()

    # -- market overview -------------------------------------------------------------------

    def market_summary(self, day: dt.date) -> pd.Series | None:
        frame = self._query("SELECT * FROM gold.market_summary WHERE trade_date = ?", day)
        return None if frame.empty else frame.iloc[0]

    def day_moves(self, day: dt.date) -> pd.DataFrame:
        """Each symbol's close, change and volatility on the day, biggest gain first."""
        return self._query(
            "SELECT symbol, close, pct_change, volatility_20, rsi_14, volume "
            "FROM gold.indicators WHERE trade_date = ? AND pct_change IS NOT NULL "
            "ORDER BY pct_change DESC, symbol",
            day,
        )

    def signals_between(
        self, start: dt.date, end: dt.date, symbol: str | None = None
    ) -> pd.DataFrame:
        """Signals of the days (of one symbol, when given)."""
        if symbol is None:
            return self._query(
                "SELECT symbol, trade_date, signal, value, reason FROM gold.signals "
                "WHERE trade_date BETWEEN ? AND ? ORDER BY trade_date, symbol, signal",
                start,
                end,
            )
        return self._query(
            "SELECT symbol, trade_date, signal, value, reason FROM gold.signals "
            "WHERE symbol = ? AND trade_date BETWEEN ? AND ? ORDER BY trade_date, signal",
            symbol,
            start,
            end,
        )

    def returns_grid(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily change and volatility of every symbol over the days (the heat map)."""
        return self._query(
            "SELECT symbol, trade_date, pct_change, volatility_20 FROM gold.indicators "
            "WHERE trade_date BETWEEN ? AND ? ORDER BY symbol, trade_date",
            start,
            end,
        )

    # -- symbol page -----------------------------------------------------------------------

    def symbol_history(
        self, symbol: str, start: dt.date, end: dt.date, basis: str = "raw"
    ) -> pd.DataFrame:
        """Daily bars with their indicators and 7/30-session averages of the close."""
        table, factor = PRICE_TABLES[basis]  # constants of this module, never user text
        statement = f"""
            WITH bars AS (
                SELECT p.trade_date, p.open, p.high, p.low, p.close, p.volume,
                    {factor} AS factor,
                    avg(p.close) OVER (ORDER BY p.trade_date
                        ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS avg_7d,
                    count(p.close) OVER (ORDER BY p.trade_date
                        ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS n_7d,
                    avg(p.close) OVER (ORDER BY p.trade_date
                        ROWS BETWEEN 29 PRECEDING AND CURRENT ROW) AS avg_30d,
                    count(p.close) OVER (ORDER BY p.trade_date
                        ROWS BETWEEN 29 PRECEDING AND CURRENT ROW) AS n_30d
                FROM {table} p
                WHERE p.symbol = ? AND p.trade_date BETWEEN ? AND ?
            )
            SELECT b.trade_date, b.open, b.high, b.low, b.close, b.volume,
                CASE WHEN b.n_7d = 7 THEN b.avg_7d END AS avg_7d,
                CASE WHEN b.n_30d = 30 THEN b.avg_30d END AS avg_30d,
                {INDICATOR_SELECT}
            FROM bars b
            LEFT JOIN gold.indicators i
                ON i.symbol = ? AND i.trade_date = b.trade_date
                AND i.trade_date BETWEEN ? AND ?
            WHERE b.trade_date BETWEEN ? AND ?
            ORDER BY b.trade_date
        """
        warmup = start - dt.timedelta(days=AVERAGE_WARMUP_DAYS)
        return self._query(statement, symbol, warmup, end, symbol, start, end, start, end)

    def latest_session_bars(self, symbol: str, end: dt.date) -> pd.DataFrame:
        """The one-minute bars of the symbol's newest session up to `end` (bar_start in UTC)."""
        return self._query(
            """
            SELECT trade_date, bar_start, open, high, low, close, volume, vwap, source
            FROM silver.intraday_bars
            WHERE symbol = ? AND trade_date = (
                SELECT max(trade_date) FROM silver.intraday_bars
                WHERE symbol = ? AND trade_date <= ?
            )
            ORDER BY bar_start
            """,
            symbol,
            symbol,
            end,
        )

    # -- live ------------------------------------------------------------------------------

    def latest_snapshot(self) -> pd.DataFrame:
        return self._query(
            "SELECT symbol, name, ts, price, change, change_pct, volume, last_signal, "
            "last_signal_at, updated_at "
            "FROM gold.latest_snapshot ORDER BY symbol"
        )

    def live_signals(self, day: dt.date) -> pd.DataFrame:
        """The signals the stream raised during the session, newest trigger first."""
        return self._query(
            "SELECT symbol, ts, signal, rule, value, reason, detected_at FROM gold.live_signals "
            "WHERE trade_date = ? ORDER BY ts DESC, symbol, signal",
            day,
        )

    # -- data quality ----------------------------------------------------------------------

    def rejects(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """The newest rejected records of the days, with the reason each was refused."""
        return self._query(
            "SELECT trade_date, symbol, reason, source, object_key, record_no, payload "
            "FROM silver.price_rejects WHERE trade_date BETWEEN ? AND ? "
            "ORDER BY trade_date DESC, symbol, record_no LIMIT 500",  # the newest 500 shown
            start,
            end,
        )

    def reject_counts(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        return self._query(
            "SELECT reason, count(*) AS records FROM silver.price_rejects "
            "WHERE trade_date BETWEEN ? AND ? GROUP BY reason ORDER BY records DESC, reason",
            start,
            end,
        )


def _as_date(value: object) -> dt.date:
    return pd.Timestamp(value).date()
