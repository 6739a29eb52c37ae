"""A failing check in a real run: a blocking one stops gold, and the failed run is alerted
through the sink, naming what the run was for."""

import datetime as dt
from typing import ClassVar

import dagster as dg
import pandas as pd
import pytest

from stock_assets import checks
from stock_assets.alerting import RUN_FAILURE, run_failure_alert, run_failure_alert_sensor
from stock_assets.assets import prices
from stock_assets.market.cleaning import CleanResult, clean_prices
from stock_assets.resources.alerts import AlertSink
from stock_assets.resources.lake import LocalLake
from stock_assets_tests.check_runs import corrupt_prices, results, run_batch

BLOCKED_DAYS = (dt.date(2024, 7, 8), dt.date(2024, 7, 9))


@pytest.fixture(scope="module")
def blocked(tmp_path_factory) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    path = tmp_path_factory.mktemp("blocked")
    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prices, "clean_prices", corrupt_prices)
        result = run_batch(path, instance, BLOCKED_DAYS, with_checks=True)
    return result, instance


def test_a_failing_blocking_check_on_silver_stops_gold(blocked):
    result, _ = blocked
    assert not result.success
    materialized = {m.asset_key for m in result.get_asset_materialization_events()}
    assert checks.PRICES_KEY in materialized
    assert not materialized & {checks.INDICATORS_KEY, checks.SIGNALS_KEY, checks.SUMMARY_KEY}
    assert "gold__indicators" not in {
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS
    }
    silver = {
        key.name: e for key, e in results(result).items() if key.asset_key == checks.PRICES_KEY
    }
    first, last = (d.isoformat() for d in BLOCKED_DAYS)
    # One result per check for the run; the failing days name where the evidence is: the
    # duplicate on the first day, the broken bar on the last.
    keys, values = silver["keys"], silver["values"]
    assert not keys.passed and not values.passed and silver["schema"].passed
    assert keys.metadata["failing_partitions"].value == [first]
    assert values.metadata["failing_partitions"].value == [last]
    assert keys.metadata["partition_range"].value == f"{first}..{last}"
    assert keys.metadata["partitions_checked"].value == 2
    assert silver["schema"].metadata["failing_partitions"].value == []
    assert keys.severity == dg.AssetCheckSeverity.ERROR and keys.blocking
    assert keys.metadata["failing_count"].value == 2
    assert "one row per (symbol, trade_date)" in keys.metadata["failing_sample"].value
    assert "high >= max(open, close)" in values.metadata["failing_sample"].value


def break_one_bar(raw_quotes: pd.DataFrame, ingested_at: dt.datetime) -> CleanResult:
    """Clean, then give one bar high < low: only the blocking values check can notice (the
    indicators read closes only, so nothing else would stop gold)."""
    result = clean_prices(raw_quotes, ingested_at)
    bad = result.prices.copy()
    bad.loc[bad.index[-1], "high"] = bad.loc[bad.index[-1], "low"] - 1.0
    return CleanResult(bad, result.rejects, 0)


@pytest.mark.slow
def test_a_blocking_only_failure_keeps_gold_from_starting(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    day = BLOCKED_DAYS[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prices, "clean_prices", break_one_bar)
        result = run_batch(tmp_path, instance, (day, day), with_checks=True)
    assert not result.success
    silver = {k.name: e for k, e in results(result).items() if k.asset_key == checks.PRICES_KEY}
    failed = {name for name, e in silver.items() if not e.passed}
    assert failed == {"values"}  # the bad bar, nothing else
    values = silver["values"]
    assert values.blocking and values.severity == dg.AssetCheckSeverity.ERROR
    started = {
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START
    }
    failed_steps = {
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE
    }
    assert "prices" in started
    assert failed_steps <= {"silver__prices_checks"}  # no asset step failed on its own
    assert not {s for s in started if s.startswith("gold__")}  # gold never started


class RecordingSink(AlertSink):
    sent: ClassVar[list[dict]] = []

    def publish(self, alert: dict, log, alert_id: str) -> None:
        self.sent.append(alert)


def test_a_failed_run_is_alerted_through_the_sink(blocked, tmp_path):
    result, instance = blocked
    failure = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"alerts": RecordingSink(), "lake": LocalLake(root=str(tmp_path / "lake"))},
    ).for_run_failure()
    RecordingSink.sent.clear()
    run_failure_alert_sensor(context)
    (alert,) = RecordingSink.sent
    assert alert["signal"] == RUN_FAILURE and alert["symbol"] == "-"
    assert alert["trade_date"] == "2024-07-08..2024-07-09"
    assert result.run_id in alert["reason"] and "blocking asset check" in alert["reason"]
    run_failure_alert_sensor(context)  # the sensor evaluated again: the ledger keeps it quiet
    assert len(RecordingSink.sent) == 1


def test_run_failure_alert_names_what_the_run_was_for():
    def alert(tags: dict[str, str]) -> dict:
        failed_at = dt.datetime(2024, 7, 9, 2, tzinfo=dt.UTC)  # 8 July in New York
        return run_failure_alert("job", "r1", tags, "boom", {"step": "Error"}, failed_at)

    assert alert({"dagster/partition": "2024-07-05"})["trade_date"] == "2024-07-05"
    assert alert({})["trade_date"] == "2024-07-08"
    assert alert({})["reason"] == "job run r1 failed: boom [step: Error]"
