"""Asset checks of the intraday tables (rules in market/intraday_quality.py).

Built with the same machinery as stock_assets.checks: one check op per table, one result
per check and run, ERROR rules blocking the tables computed from the checked one.
"""

from stock_assets.assets.intraday import DAILY_KPIS_KEY, INTRADAY_BARS_KEY
from stock_assets.assets.prices import PRICES_KEY
from stock_assets.checks import (
    NO_HOLIDAY_ROWS,
    Check,
    Rule,
    completeness_check,
    keys_check,
    non_negative,
    not_in_future,
    positive,
    schema_check,
    table_checks,
    values_check,
)
from stock_assets.market import intraday_quality, quality
from stock_assets.market.schemas import DAILY_KPIS, INTRADAY_BARS

OHLC_CONSISTENT = Rule(
    "high >= max(open, close) and low <= min(open, close)",
    lambda s: quality.ohlc_consistent(s.rows),
    error=True,
)

INTRADAY_CHECKS = {
    INTRADAY_BARS_KEY: (
        schema_check(INTRADAY_BARS),
        keys_check(("symbol", "trade_date", "bar_start", "source"), ("symbol", "bar_start")),
        values_check(
            "Bars are real prices inside the session: daily figures and charts read them.",
            positive("open", "high", "low", "close", "vwap", error=True),
            non_negative("volume", error=True),
            OHLC_CONSISTENT,
            Rule(
                "every bar starts inside the regular session of its trade_date",
                lambda s: intraday_quality.bars_inside_session(s.rows),
                error=True,
            ),
            not_in_future("bar_start", "ingested_at"),
        ),
        completeness_check(
            NO_HOLIDAY_ROWS,
            Rule(
                "a bar for every minute of each symbol's session so far (missing listed)",
                lambda s: intraday_quality.minutes_complete(s.rows, s.now),
            ),
        ),
        Check(
            "daily_agreement",
            "A symbol-day's bars add up to the daily bar the same source gave silver.prices.",
            (
                Rule(
                    "open, high, low, close and volume equal the same source's daily bar",
                    lambda s: intraday_quality.agree_with_daily(s.rows, s.related["prices"]),
                ),
            ),
            reads={"prices": PRICES_KEY},
        ),
    ),
    DAILY_KPIS_KEY: (
        schema_check(DAILY_KPIS),
        keys_check(("symbol", "trade_date"), ("symbol", "trade_date")),
        values_check(
            "Daily figures are possible.",
            positive("open", "close", "vwap", "avg_price", error=True),
            non_negative("volume", "range_pct", "realized_vol", "bars", error=True),
            Rule(
                "completeness within [0, 1]",
                lambda s: quality.Outcome(
                    s.rows[~s.rows["completeness"].between(0, 1)],
                    "rows have completeness outside [0, 1]",
                    "completeness within [0, 1]",
                ),
                error=True,
            ),
        ),
        completeness_check(NO_HOLIDAY_ROWS),
    ),
}

INTRADAY_ASSET_CHECKS = [table_checks(key, checks) for key, checks in INTRADAY_CHECKS.items()]
