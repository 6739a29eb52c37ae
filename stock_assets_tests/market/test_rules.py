"""The check vocabulary: which checks block, how a rule that raises is reported, which days
an outcome fails on (market/rules.py, no Dagster)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from stock_assets.market import quality
from stock_assets.market.rules import Check, Rule, Scope, failing_days, judge, keys_check

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
