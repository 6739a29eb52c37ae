"""Which checks each table and view gets (no Dagster): the catalogue stock_assets.checks
turns into asset checks.

Severity: a contract rule (schema, keys; values on silver.prices; band and RSI bounds on
gold.indicators) is ERROR and blocking, so tables computed from the checked one are not
built from bad data and the run fails (which alerts). A view's columns and row count are
ERROR without blocking (nothing is computed from a view). Everything else is WARN.
"""

from __future__ import annotations

from dataclasses import dataclass

from stock_assets.market import actions_quality, quality
from stock_assets.market.catalogue_intraday import INTRADAY_TABLE_CHECKS, LIVE_TABLE_CHECKS
from stock_assets.market.rules import (
    NO_HOLIDAY_ROWS,
    ROWS_EVERY_DAY,
    WATCHLIST_COMPLETE,
    Check,
    Rule,
    Scope,
    completeness_check,
    keys_check,
    listed_since,
    non_negative,
    not_in_future,
    positive,
    schema_check,
    values_check,
)
from stock_assets.market.schemas import (
    CORPORATE_ACTIONS,
    INDICATORS,
    LATEST_SNAPSHOT,
    MARKET_SUMMARY,
    PRICE_REJECTS,
    PRICES,
    RAW_QUOTES,
    SIGNALS,
    STREAM_HISTORY,
)

REJECTS = PRICE_REJECTS.qualified_name


def _signal_by_ts(scope: Scope) -> quality.Outcome:
    """A snapshot's last signal came from a quote of its symbol no newer than its own."""
    rows = scope.rows
    bad = rows[(rows["last_signal_at"] > rows["ts"]).to_numpy()]
    return quality.Outcome(
        bad, "rows have a last signal newer than their quote", "signals no newer than the quote"
    )


TABLE_CHECKS: dict[str, tuple[Check, ...]] = {
    RAW_QUOTES.qualified_name: (
        schema_check(RAW_QUOTES),
        keys_check(
            ("symbol", "trade_date", "record_no", "object_key"), ("object_key", "record_no")
        ),
        values_check("Records carry sane timestamps.", not_in_future("trade_date", "fetched_at")),
        completeness_check(NO_HOLIDAY_ROWS, ROWS_EVERY_DAY, WATCHLIST_COMPLETE),
    ),
    PRICES.qualified_name: (
        schema_check(PRICES),
        keys_check(("symbol", "trade_date"), ("symbol", "trade_date")),
        values_check(
            "Bars are real prices: a bad bar poisons every indicator computed from it.",
            positive("open", "high", "low", "close", "adj_close", error=True),
            non_negative("volume", error=True),
            Rule(
                "high >= max(open, close) and low <= min(open, close)",
                lambda s: quality.ohlc_consistent(s.rows),
                error=True,
            ),
            not_in_future("trade_date", "ingested_at"),
        ),
        completeness_check(
            NO_HOLIDAY_ROWS, ROWS_EVERY_DAY, WATCHLIST_COMPLETE, reads={"rejects": REJECTS}
        ),
        Check(
            "rejects",
            "A run that rejected records is not clean: each rejected bronze record is missing "
            f"from silver.prices and kept, with its reason, in {REJECTS}.",
            (
                Rule(
                    f"no record of the run's days rejected into {REJECTS}",
                    lambda s: quality.none_rejected(s.related["rejects"]),
                ),
            ),
            reads={"rejects": REJECTS},
            notes={"rejects_table": REJECTS},
        ),
    ),
    REJECTS: (
        schema_check(PRICE_REJECTS),
        keys_check(
            ("object_key", "record_no", "symbol", "trade_date", "reason"),
            ("object_key", "record_no"),
        ),
        values_check("Rejects are dated sanely.", not_in_future("trade_date")),
        completeness_check(NO_HOLIDAY_ROWS),
    ),
    INDICATORS.qualified_name: (
        schema_check(INDICATORS),
        keys_check(("symbol", "trade_date", "close"), ("symbol", "trade_date")),
        values_check(
            "Indicator values are possible: signals read the bands and the RSI.",
            Rule(
                "bb_lower <= bb_middle <= bb_upper",
                lambda s: quality.bollinger_ordered(s.rows),
                error=True,
            ),
            Rule("rsi_14 within [0, 100]", lambda s: quality.rsi_in_range(s.rows), error=True),
        ),
        Check(
            "warmup",
            "NULLs appear only in each symbol's warm-up (LOOKBACK_BARS per column), judged "
            "from the bars the run's partitions show (see market/quality.py).",
            (
                Rule(
                    "NULL iff the bar count is below the column's lookback",
                    lambda s: quality.warmup_nulls_as_expected(
                        s.rows, s.history_start, listed_since()
                    ),
                ),
            ),
        ),
        Check(
            "unrecorded_splits",
            "A split nobody recorded looks like a crash to every indicator and signal: a "
            "one-day move of a split's size (on each day's adjusted basis) is flagged with "
            "the suspected ratio, to be recorded in silver.corporate_actions.",
            (
                Rule(
                    "no one-day move within 8% of a split ratio (1.5 to 50, or reverse)",
                    lambda s: actions_quality.unrecorded_splits(s.rows),
                ),
            ),
        ),
        completeness_check(NO_HOLIDAY_ROWS, ROWS_EVERY_DAY),
    ),
    CORPORATE_ACTIONS.qualified_name: (
        schema_check(CORPORATE_ACTIONS),
        keys_check(("symbol", "ex_date", "action"), ("symbol", "ex_date", "action")),
        Check(
            "references",
            "An action adjusts the bars of its symbol: one whose symbol has no bars adjusts "
            "nothing (a typo, or a symbol that is not loaded).",
            (
                Rule(
                    "every action's symbol has bars in silver.prices",
                    lambda s: actions_quality.actions_without_bars(s.rows, s.related["prices"]),
                ),
            ),
            reads={"prices": PRICES.qualified_name},
            key_reads={"prices": ("symbol",)},
        ),
    ),
    SIGNALS.qualified_name: (
        schema_check(SIGNALS),
        keys_check(("symbol", "trade_date", "signal"), ("symbol", "trade_date", "signal")),
        values_check("Signals are dated sanely.", not_in_future("trade_date")),
        Check(
            "references",
            "Alerts never go out about bars that do not exist.",
            (
                Rule(
                    "every signal's (symbol, trade_date) has a silver.prices bar",
                    lambda s: quality.signals_have_prices(s.rows, s.related["prices"]),
                ),
            ),
            reads={"prices": PRICES.qualified_name},
        ),
        completeness_check(NO_HOLIDAY_ROWS),
    ),
    MARKET_SUMMARY.qualified_name: (
        schema_check(MARKET_SUMMARY),
        keys_check(("trade_date",), ("trade_date",)),
        values_check(
            "Breadth counts are counts.",
            non_negative(
                "symbols", "advancers", "decliners", "unchanged", "anomaly_count", "signal_count"
            ),
        ),
        completeness_check(NO_HOLIDAY_ROWS, ROWS_EVERY_DAY),
    ),
    STREAM_HISTORY.qualified_name: (
        schema_check(STREAM_HISTORY),
        keys_check(("symbol", "ts", "trade_date"), ("symbol", "ts")),
        values_check(
            "Quotes are real prices at real times.",
            positive("price"),
            non_negative("volume", allow_null=True),
            not_in_future("ts", "ingested_at"),
        ),
        completeness_check(
            NO_HOLIDAY_ROWS,
            Rule(
                "trade_date is the New York day of ts (the quote's partition)",
                lambda s: quality.trade_date_matches_ts(s.rows),
            ),
        ),
    ),
    LATEST_SNAPSHOT.qualified_name: (
        schema_check(LATEST_SNAPSHOT),
        keys_check(("symbol", "ts"), ("symbol",)),
        values_check(
            "The snapshot shows real prices at real times.",
            positive("price"),
            non_negative("volume", allow_null=True),
            not_in_future("ts", "updated_at"),
            Rule("a row's last signal was triggered by a quote no newer than ts", _signal_by_ts),
        ),
    ),
    **INTRADAY_TABLE_CHECKS,
    **LIVE_TABLE_CHECKS,
}


@dataclass(frozen=True)
class ViewExpectation:
    """What a view must hold, counted from its input tables independently of its SQL."""

    rows: str  # a query (Athena dialect) giving the row count the view must have
    may_be_empty: bool = False


VIEW_EXPECTATIONS: dict[str, ViewExpectation] = {
    # One row per bar of silver.prices, on today's share basis.
    "gold.adjusted_prices": ViewExpectation("SELECT count(*) FROM silver.prices"),
    # One row per symbol: its newest bar.
    "gold.latest_prices": ViewExpectation("SELECT count(DISTINCT symbol) FROM silver.prices"),
    # Every bronze record, parsed or not.
    "gold.stock_analysis": ViewExpectation("SELECT count(*) FROM bronze.raw_quotes"),
    # Every symbol with a daily move on the newest computed day.
    "gold.todays_movers": ViewExpectation(
        "SELECT count(*) FROM gold.indicators WHERE pct_change IS NOT NULL "
        "AND trade_date = (SELECT max(trade_date) FROM gold.indicators)"
    ),
    # Every quote of the stream history; empty while no producer runs.
    "gold.stream_quotes_analysis": ViewExpectation(
        "SELECT count(*) FROM silver.stream_history", may_be_empty=True
    ),
    # One row per daily-KPI row (symbol x day with minute bars).
    "gold.stock_kpis": ViewExpectation("SELECT count(*) FROM gold.daily_kpis", may_be_empty=True),
    # One bar per symbol, day and 5- or 15-minute bucket that holds a one-minute bar.
    "gold.intraday_bars_resampled": ViewExpectation(
        "SELECT (SELECT count(*) FROM (SELECT DISTINCT symbol, trade_date, "
        "floor((hour(bar_start) * 60 + minute(bar_start)) / 5.0) FROM silver.intraday_bars)) "
        "+ (SELECT count(*) FROM (SELECT DISTINCT symbol, trade_date, "
        "floor((hour(bar_start) * 60 + minute(bar_start)) / 15.0) FROM silver.intraday_bars))",
        may_be_empty=True,
    ),
    # The newest computed day's signals; a quiet day has none.
    "gold.todays_signals": ViewExpectation(
        "SELECT count(*) FROM gold.signals "
        "WHERE trade_date = (SELECT max(trade_date) FROM gold.indicators)",
        may_be_empty=True,
    ),
}


@dataclass(frozen=True)
class ViewFacts:
    """What a view's checks see: its rows and columns as stored, and what they should be."""

    rows: int
    expected_rows: int
    columns: list[str]
    declared: list[str]


def view_checks(expectation: ViewExpectation) -> tuple[Check, ...]:
    """A view's checks: its columns as declared, its row count as its inputs give, and
    (unless a quiet day empties it) at least one row. A failure shows at ERROR but stops
    nothing: no asset is computed from a view."""
    non_empty = Check(
        "non_empty",
        "The view shows something: an empty view over loaded tables reads as no data.",
        (Rule("at least one row", lambda f: quality.view_not_empty(f.rows)),),
    )
    checks = (
        Check(
            "columns",
            "The stored view has the columns its SQL (sql/views) declares, in order.",
            (
                Rule(
                    "columns are the SQL's select list",
                    lambda f: quality.columns_as_declared(f.columns, f.declared),
                    error=True,
                ),
            ),
            gates=False,
        ),
        Check(
            "row_count",
            "The view neither drops nor multiplies rows: its count matches one taken from "
            f"its input tables ({expectation.rows}).",
            (
                Rule(
                    "row count as counted from its inputs",
                    lambda f: quality.row_count_matches(f.rows, f.expected_rows),
                    error=True,
                ),
            ),
            gates=False,
        ),
    )
    return checks if expectation.may_be_empty else (non_empty, *checks)
