"""Which checks the intraday and live tables get (no Dagster); part of market/catalogue.py.

Severity as for the daily tables: schema, keys and values (OHLC consistency, bars inside
the session) are ERROR and blocking; completeness (missing minutes listed) and agreement
with the same source's daily bar are WARN.
"""

from __future__ import annotations

from stock_assets.market import intraday_quality, quality
from stock_assets.market.live_signals import LIVE_SIGNAL_TYPES, RULE
from stock_assets.market.rules import (
    NO_HOLIDAY_ROWS,
    Check,
    Rule,
    Scope,
    completeness_check,
    keys_check,
    non_negative,
    not_in_future,
    positive,
    schema_check,
    values_check,
)
from stock_assets.market.schemas import (
    DAILY_KPIS,
    INTRADAY_BARS,
    LIVE_SIGNALS,
    MINUTE_VOLUME_PROFILE,
    PRICES,
)

OHLC_CONSISTENT = Rule(
    "high >= max(open, close) and low <= min(open, close)",
    lambda s: quality.ohlc_consistent(s.rows),
    error=True,
)

INTRADAY_TABLE_CHECKS: dict[str, tuple[Check, ...]] = {
    INTRADAY_BARS.qualified_name: (
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
            reads={"prices": PRICES.qualified_name},
        ),
    ),
    DAILY_KPIS.qualified_name: (
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


def _known_signals(scope: Scope) -> quality.Outcome:
    """Every signal of a documented kind; a RULE names its rule, nothing else has one."""
    rows = scope.rows
    kinds = rows["signal"].isin(LIVE_SIGNAL_TYPES)
    named = rows["rule"].notna() & (rows["rule"] != "")
    bad = rows[~kinds | (named != (rows["signal"] == RULE))]
    return quality.Outcome(
        bad,
        "rows have an unknown signal, or a rule name that does not match RULE",
        "signals of the documented kinds; rule named exactly on RULE",
    )


def _inside_session(scope: Scope) -> quality.Outcome:
    rows = scope.rows
    bad = rows[~rows["minute"].between(0, 389)]
    return quality.Outcome(
        bad, "rows have a minute outside the session (0-389)", "minutes within the session"
    )


LIVE_TABLE_CHECKS: dict[str, tuple[Check, ...]] = {
    LIVE_SIGNALS.qualified_name: (
        schema_check(LIVE_SIGNALS),
        keys_check(
            ("symbol", "trade_date", "ts", "signal", "detected_at"),
            ("symbol", "ts", "signal", "rule"),
        ),
        values_check(
            "Signals are what alerts and dashboards say they are.",
            Rule("signal kinds as documented", _known_signals, error=True),
            not_in_future("ts", "detected_at"),
        ),
        completeness_check(NO_HOLIDAY_ROWS),
    ),
    MINUTE_VOLUME_PROFILE.qualified_name: (
        schema_check(MINUTE_VOLUME_PROFILE),
        keys_check(("symbol", "trade_date", "minute"), ("symbol", "trade_date", "minute")),
        values_check(
            "A usual volume is a volume of a session minute.",
            non_negative("avg_volume", error=True),
            Rule("minute within the regular session", _inside_session, error=True),
        ),
        completeness_check(NO_HOLIDAY_ROWS),
    ),
}
