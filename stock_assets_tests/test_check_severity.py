"""Which asset checks gate downstream assets, and the severity their results carry."""

import dagster as dg
import pandas as pd

from stock_assets import checks
from stock_assets.market import quality
from stock_assets.market.rules import Check, Rule, judge

# The checks whose failure stops downstream assets: contract, keys, and the values that
# indicators and signals would be poisoned by. Written out, not derived from the catalogue.
BLOCKING = {
    "bronze.raw_quotes": {"schema", "keys"},
    "silver.prices": {"schema", "keys", "values"},
    "silver.price_rejects": {"schema", "keys"},
    "gold.indicators": {"schema", "keys", "values"},
    "gold.signals": {"schema", "keys"},
    "gold.market_summary": {"schema", "keys"},
    "silver.stream_history": {"schema", "keys"},
    "gold.latest_snapshot": {"schema", "keys"},
    "silver.intraday_bars": {"schema", "keys", "values"},
    "gold.daily_kpis": {"schema", "keys", "values"},
    "gold.live_signals": {"schema", "keys", "values"},
    "gold.minute_volume_profile": {"schema", "keys", "values"},
    "silver.corporate_actions": {"schema", "keys"},
}


def specs() -> dict[dg.AssetCheckKey, dg.AssetCheckSpec]:
    return {spec.key: spec for definition in checks.ASSET_CHECKS for spec in definition.check_specs}


def test_exactly_the_declared_checks_block() -> None:
    blocking = {}
    for key, spec in specs().items():
        if spec.blocking and key.asset_key in checks.CHECKS:
            blocking.setdefault(key.asset_key.to_user_string().replace("/", "."), set()).add(
                key.name
            )
    assert blocking == BLOCKING


def test_each_spec_blocks_exactly_when_it_has_an_error_rule_and_gates() -> None:
    declared = {
        dg.AssetCheckKey(key, check.name): check
        for key, table_checks in checks.CHECKS.items()
        for check in table_checks
    }
    found = specs()
    assert declared.keys() <= found.keys()
    for key, check in declared.items():
        expected = check.gates and any(rule.error for rule in check.rules)
        assert found[key].blocking is expected, key


def evaluation(check: Check, frame: pd.DataFrame) -> dg.AssetCheckEvaluation:
    outcomes = [judge(rule, frame) for rule in check.rules]
    return checks._evaluation(checks.PRICES_KEY, check, outcomes, len(frame), [], None)


FRAME = pd.DataFrame({"x": [1.0, None]})
NULL_X = Rule("no NULL in x", lambda f: quality.no_nulls(f, ["x"]))


def test_warn_only_failures_do_not_block() -> None:
    check = Check(
        "values", "p.", (NULL_X, Rule("x known", lambda f: quality.no_nulls(f, []), True))
    )
    result = evaluation(check, FRAME)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN  # Dagster gates on ERROR only
    assert result.blocking  # the check can block, but this failure does not


def test_a_failing_error_rule_is_an_error() -> None:
    check = Check("values", "p.", (Rule("no NULL in x", NULL_X.evaluate, error=True),))
    result = evaluation(check, FRAME)
    assert not result.passed and result.blocking
    assert result.severity == dg.AssetCheckSeverity.ERROR


def test_a_rule_that_raises_is_a_failure_named_could_not_evaluate() -> None:
    def broken(frame: pd.DataFrame) -> quality.Outcome:
        return quality.no_nulls(frame, ["missing"])

    check = Check("values", "p.", (Rule("no NULL in missing", broken, error=True),))
    result = evaluation(check, FRAME)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.description.startswith("could not evaluate (no NULL in missing): KeyError")


def test_a_passing_blocking_check_reports_error_severity() -> None:
    check = Check("values", "p.", (Rule("x present", lambda f: quality.no_nulls(f, []), True),))
    result = evaluation(check, FRAME.dropna())
    assert result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["rows_checked"].value == 1
