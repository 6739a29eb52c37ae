"""The check vocabulary: which checks block, how a rule that raises is reported, which days
an outcome fails on (market/rules.py, no Dagster)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from stock_assets.market import quality
from stock_assets.market.rules import (
    NO_HOLIDAY_ROWS,
    ROWS_EVERY_DAY,
    WATCHLIST_COMPLETE,
    Check,
    Rule,
    Scope,
    completeness_check,
    failing_days,
    judge,
    keys_check,
    non_negative,
    not_in_future,
    positive,
    schema_check,
    values_check,
)
from stock_assets.market.schemas import TableSchema

DAYS = [dt.date(2024, 7, 1), dt.date(2024, 7, 2), dt.date(2024, 7, 3)]
PASS = Rule("always holds", lambda s: quality.no_nulls(s.rows, ["x"]))
WARN_FAIL = Rule("x is never null", lambda s: quality.no_nulls(s.rows, ["y"]))
ERROR_FAIL = Rule("y is never null", lambda s: quality.no_nulls(s.rows, ["y"]), error=True)


def scope(rows: pd.DataFrame) -> Scope:
    return Scope(rows=rows, days=DAYS, now=dt.datetime(2024, 7, 4, tzinfo=dt.UTC))


ROWS = pd.DataFrame({"x": [1, 2], "y": [None, 2.0], "trade_date": DAYS[1:]})


@pytest.mark.parametrize(
    ("rules", "gates", "blocking"),
    [
        ((PASS, WARN_FAIL), True, False),  # WARN only: never blocks
        ((PASS, ERROR_FAIL), True, True),
        ((ERROR_FAIL,), False, False),  # an ERROR check that does not gate
        ((), True, False),
    ],
)
def test_a_check_blocks_only_with_an_error_rule_and_gating(rules, gates, blocking) -> None:
    check = Check("c", "purpose.", rules, gates=gates)
    assert check.blocking is blocking


def test_the_description_names_each_rule_with_its_severity() -> None:
    check = Check("c", "Protects x.", (PASS, ERROR_FAIL))
    assert check.description == ("Protects x. Rules: always holds [WARN]; y is never null [ERROR].")


def test_a_rule_that_raises_fails_with_could_not_evaluate() -> None:
    def broken(_: Scope) -> quality.Outcome:
        raise KeyError("close")

    outcome = judge(Rule("close is positive", broken, error=True), scope(ROWS))
    assert not outcome.passed
    assert outcome.description == "could not evaluate (close is positive): KeyError: 'close'"
    # The data could not be read: every day of the run fails.
    assert failing_days(outcome, DAYS) == set(DAYS)


def test_a_rule_that_holds_passes_through_judge() -> None:
    outcome = judge(PASS, scope(ROWS))
    assert outcome.passed and failing_days(outcome, DAYS) == set()


def test_failing_days_are_the_evidence_s_trade_dates() -> None:
    outcome = judge(WARN_FAIL, scope(ROWS))
    assert not outcome.passed and outcome.failing_count == 1
    assert failing_days(outcome, DAYS) == {DAYS[1]}


def test_evidence_without_a_trade_date_fails_every_day() -> None:
    outcome = judge(WARN_FAIL, scope(ROWS.drop(columns="trade_date")))
    assert failing_days(outcome, DAYS) == set(DAYS)


def test_keys_check_blocks_on_a_null_and_on_a_duplicate() -> None:
    check = keys_check(["symbol"], ["symbol", "trade_date"])
    assert check.blocking and [r.error for r in check.rules] == [True, True]
    rows = pd.DataFrame({"symbol": ["A", "A", None], "trade_date": [DAYS[0], DAYS[0], DAYS[1]]})
    nulls, duplicates = (judge(rule, scope(rows)) for rule in check.rules)
    assert failing_days(nulls, DAYS) == {DAYS[1]}
    assert failing_days(duplicates, DAYS) == {DAYS[0]}


def test_keys_check_names_its_columns_in_the_rules() -> None:
    check = keys_check(["symbol", "ts"], ["symbol", "ts", "trade_date"])
    assert check.name == "keys"
    assert [r.what for r in check.rules] == [
        "no NULL in symbol, ts",
        "one row per (symbol, ts, trade_date)",
    ]
    assert "addressable" in check.purpose


def test_schema_check_blocks_on_a_missing_column_and_names_the_table() -> None:
    contract = TableSchema("silver", "t", (("symbol", "VARCHAR"), ("close", "DOUBLE")), "t.")
    check = schema_check(contract)
    assert (check.name, check.blocking) == ("schema", True)
    assert "silver.t" in check.purpose
    assert check.rules[0].what == "every contract column present with its type"
    assert judge(check.rules[0], scope(pd.DataFrame({"symbol": ["A"], "close": [1.0]}))).passed
    assert not judge(check.rules[0], scope(pd.DataFrame({"symbol": ["A"]}))).passed


@pytest.mark.parametrize("error", [False, True])
def test_positive_fails_on_zero_and_carries_its_severity(error: bool) -> None:
    rule = positive("open", "close", error=error)
    assert rule.error is error and rule.what == "open, close finite and > 0"
    rows = pd.DataFrame({"open": [1.0, 2.0], "close": [0.0, 3.0], "trade_date": DAYS[:2]})
    assert failing_days(judge(rule, scope(rows)), DAYS) == {DAYS[0]}


def test_positive_is_a_warning_unless_asked() -> None:
    assert positive("close").error is False
    assert non_negative("volume").error is False


@pytest.mark.parametrize("error", [False, True])
def test_non_negative_accepts_zero_and_fails_below(error: bool) -> None:
    rule = non_negative("volume", "quotes", error=error)
    assert rule.error is error and rule.what == "volume, quotes >= 0"
    rows = pd.DataFrame({"volume": [0, -1, 5], "quotes": [0, 1, 2], "trade_date": DAYS})
    assert failing_days(judge(rule, scope(rows)), DAYS) == {DAYS[1]}


def test_non_negative_where_present_skips_nulls_only_when_allowed() -> None:
    rows = pd.DataFrame({"volume": [None, 1.0], "trade_date": DAYS[:2]})
    lenient = non_negative("volume", allow_null=True)
    assert lenient.what == "volume >= 0 where present"
    assert judge(lenient, scope(rows)).passed
    assert failing_days(judge(non_negative("volume"), scope(rows)), DAYS) == {DAYS[0]}


def test_not_in_future_uses_the_scope_s_now_with_its_tolerance() -> None:
    rule = not_in_future("ts", "ingested_at")
    assert rule.what == f"no ts, ingested_at in the future (tolerance {quality.FUTURE_TOLERANCE})"
    assert rule.error is False
    now = dt.datetime(2024, 7, 4)  # scope's now, as naive UTC like the contract's TIMESTAMPs
    late = now + quality.FUTURE_TOLERANCE + dt.timedelta(seconds=1)
    edge = now + quality.FUTURE_TOLERANCE
    rows = pd.DataFrame({"ts": [edge, late], "ingested_at": [now, now], "trade_date": DAYS[:2]})
    assert failing_days(judge(rule, scope(rows)), DAYS) == {DAYS[1]}


def test_values_check_groups_its_rules_under_values() -> None:
    check = values_check("Prices are sane.", positive("close", error=True))
    assert (check.name, check.purpose, check.blocking) == ("values", "Prices are sane.", True)


def test_completeness_check_reads_its_related_tables_and_knows_the_watchlist_rule() -> None:
    plain = completeness_check(NO_HOLIDAY_ROWS, ROWS_EVERY_DAY)
    assert (plain.name, plain.reads, plain.uses_watchlist, plain.blocking) == (
        "completeness",
        {},
        False,
        False,
    )
    assert "misfiled or missing" in plain.purpose
    full = completeness_check(WATCHLIST_COMPLETE, reads={"rejects": "silver.price_rejects"})
    assert full.uses_watchlist and full.reads == {"rejects": "silver.price_rejects"}
