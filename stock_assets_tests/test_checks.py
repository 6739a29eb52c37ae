"""Asset checks in real runs: per-partition results, blocking, alerting, freshness, quality job."""

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pandas as pd
import pytest

from stock_assets import checks
from stock_assets.alerting import RUN_FAILURE, run_failure_alert, run_failure_alert_sensor
from stock_assets.assets import gold, prices, stream
from stock_assets.assets.stream import LandingBatchConfig
from stock_assets.market import calendar
from stock_assets.market.cleaning import CleanResult, clean_prices
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.alerts import AlertSink
from stock_assets.resources.lake import LocalLake
from stock_assets_tests.conftest import JULY_2024, local_resources

SYMBOLS = "AAPL,MSFT,ARM"
WARMUP_HISTORY = (dt.date(2024, 4, 15), dt.date(2024, 6, 28))  # silver only: gold has history
BATCH = [prices.raw_quotes, prices.prices, gold.indicators, gold.signals, gold.market_summary]
BATCH_KEYS = {
    checks.RAW_QUOTES_KEY,
    checks.PRICES_KEY,
    checks.REJECTS_KEY,
    checks.INDICATORS_KEY,
    checks.SIGNALS_KEY,
    checks.SUMMARY_KEY,
}
STREAM_KEYS = {checks.HISTORY_KEY, checks.SNAPSHOT_KEY}
STREAM_DAY = "2024-07-05"
DOCS = Path(__file__).resolve().parents[1] / "README.md"


def checks_for(keys: set[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    return [c for c in checks.ASSET_CHECKS if {k.asset_key for k in c.check_keys} <= keys]


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }


def run_batch(
    home: Path, instance: dg.DagsterInstance, days: tuple[dt.date, dt.date], with_checks: bool
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*BATCH, *(checks_for(BATCH_KEYS) if with_checks else [])],
        resources=local_resources(home, symbols=SYMBOLS),
        instance=instance,
        tags=range_tags(*days),
        raise_on_error=False,
    )


def run_stream(home: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """One landing micro-batch for STREAM_DAY through the stream assets and their checks."""
    key = "landing/quotes/2024/07/05/checks.jsonl"
    as_of = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    quotes = SimulatedSource().latest_quotes(SYMBOLS.split(","), as_of)
    LocalLake(root=str(home / "lake")).put(key, encode_micro_batch(quotes, "jsonl"))
    return dg.materialize(
        [stream.stream_assets, *checks_for(STREAM_KEYS)],
        resources=local_resources(home, symbols=SYMBOLS),
        instance=instance,
        run_config=dg.RunConfig(ops={"stream_assets": LandingBatchConfig(object_keys=[key])}),
        partition_key=STREAM_DAY,
    )


@dataclass
class Home:
    path: Path
    instance: dg.DagsterInstance
    batch: dg.ExecuteInProcessResult
    stream: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> Home:
    """Silver history, then bronze -> gold over July 2024 and a stream batch, with checks."""
    path = tmp_path_factory.mktemp("checked")
    instance = dg.DagsterInstance.ephemeral()
    assert run_batch(path, instance, WARMUP_HISTORY, with_checks=False).success
    batch = run_batch(path, instance, JULY_2024, with_checks=True)
    assert batch.success
    return Home(path, instance, batch, run_stream(path, instance))


def expected_evaluations(
    days: list[str], stream_days: list[str]
) -> set[tuple[dg.AssetKey, str, str | None]]:
    partitions = {key: days for key in BATCH_KEYS} | {
        checks.HISTORY_KEY: stream_days,
        checks.SNAPSHOT_KEY: [None],
    }
    return {
        (key, check.name, partition)
        for key, table_checks in checks.CHECKS.items()
        for check in table_checks
        for partition in partitions[key]
    }


def july_sessions() -> list[str]:
    return [d.isoformat() for d in calendar.sessions_between(*JULY_2024)]


def test_every_check_runs_and_passes_for_every_partition(checked):
    evaluations = [
        *checked.batch.get_asset_check_evaluations(),
        *checked.stream.get_asset_check_evaluations(),
    ]
    failures = [
        (e.asset_key, e.check_name, e.partition, e.description) for e in evaluations if not e.passed
    ]
    assert failures == []
    got = [(e.asset_key, e.check_name, e.partition) for e in evaluations]
    assert len(got) == len(set(got))  # one result per check and partition
    assert set(got) == expected_evaluations(july_sessions(), [STREAM_DAY])
    # Each result points at the materialization it judged (the UI marks others as stale).
    assert all(e.target_materialization_data is not None for e in evaluations)
    prices_values = [
        e for e in evaluations if e.asset_key == checks.PRICES_KEY and e.check_name == "values"
    ]
    assert {e.metadata["rows_checked"].value for e in prices_values} == {3}  # 3 symbols a day
    assert all(e.blocking and e.severity == dg.AssetCheckSeverity.ERROR for e in prices_values)


def test_the_instance_shows_each_partition_as_checked(checked):
    """What the UI reads: every partition of the single-run backfill resolved as succeeded
    (a plain AssetCheckResult would leave them all 'skipped')."""
    key = dg.AssetCheckKey(checks.PRICES_KEY, "values")
    state = checked.instance.event_log_storage.get_asset_check_state([(key, TRADING_DAYS)])[key]
    by_status = {
        status.value: set(subset.subset_value.get_partition_keys())
        for status, subset in state.subsets.items()
    }
    assert by_status["SUCCEEDED"] == set(july_sessions())
    assert by_status["SKIPPED"] == by_status["IN_PROGRESS"] == by_status["FAILED"] == set()


def corrupt_prices(raw_quotes: pd.DataFrame, ingested_at: dt.datetime) -> CleanResult:
    """Clean, then break the contract cleaning guarantees: a duplicate bar on the first day
    and high < low on the last (both pass the write, the checks must catch them)."""
    result = clean_prices(raw_quotes, ingested_at)
    bad = result.prices.copy()
    last = bad.index[-1]
    bad.loc[last, "high"] = bad.loc[last, "low"] - 1.0
    duplicate = bad[bad.trade_date == bad.trade_date.min()].head(1)
    return CleanResult(pd.concat([bad, duplicate], ignore_index=True), result.rejects, 0)


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
        (e.check_name, e.partition): e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == checks.PRICES_KEY
    }
    first, last = (d.isoformat() for d in BLOCKED_DAYS)
    # Per partition: the duplicate is on the first day, the broken bar on the last.
    assert not silver["keys", first].passed and silver["keys", last].passed
    assert silver["values", first].passed and not silver["values", last].passed
    keys = silver["keys", first]
    assert keys.severity == dg.AssetCheckSeverity.ERROR and keys.blocking
    assert keys.metadata["failing_count"].value == 2
    assert "one row per (symbol, trade_date)" in keys.metadata["failing_sample"].value
    assert "high >= max(open, close)" in silver["values", last].metadata["failing_sample"].value


class RecordingSink(AlertSink):
    sent: ClassVar[list[dict]] = []

    def publish(self, alert: dict, log) -> None:
        self.sent.append(alert)


def test_a_failed_run_is_alerted_through_the_sink(blocked):
    result, instance = blocked
    failure = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"alerts": RecordingSink()},
    ).for_run_failure()
    RecordingSink.sent.clear()
    run_failure_alert_sensor(context)
    (alert,) = RecordingSink.sent
    assert alert["signal"] == RUN_FAILURE and alert["symbol"] == "-"
    assert alert["trade_date"] == "2024-07-08..2024-07-09"
    assert result.run_id in alert["reason"] and "blocking asset check" in alert["reason"]


def test_run_failure_alert_names_what_the_run_was_for():
    def alert(tags: dict[str, str]) -> dict:
        failed_at = dt.datetime(2024, 7, 9, 2, tzinfo=dt.UTC)  # 8 July in New York
        return run_failure_alert("job", "r1", tags, "boom", {"step": "Error"}, failed_at)

    assert alert({"dagster/partition": "2024-07-05"})["trade_date"] == "2024-07-05"
    assert alert({})["trade_date"] == "2024-07-08"
    assert alert({})["reason"] == "job run r1 failed: boom [step: Error]"


def test_freshness_policies_are_on_the_asset_definitions(tmp_path):
    assets = checks.with_freshness_policies(dg.load_assets_from_modules([prices, gold, stream]))
    specs = {spec.key: spec for assets_def in assets for spec in assets_def.specs}
    assert set(checks.FRESHNESS_POLICIES) == BATCH_KEYS | STREAM_KEYS
    for key, policy in checks.FRESHNESS_POLICIES.items():
        assert specs[key].freshness_policy == policy, key
    daily = specs[checks.PRICES_KEY].freshness_policy
    assert isinstance(daily, dg.FreshnessPolicy)
    assert (daily.deadline_cron, daily.timezone) == ("0 20 * * 1-5", calendar.MARKET_TIMEZONE)
    defs = dg.Definitions(
        assets=assets, asset_checks=checks.ASSET_CHECKS, resources=local_resources(tmp_path)
    )
    graph = defs.resolve_asset_graph()
    assert graph.get(checks.SNAPSHOT_KEY).freshness_policy == checks.INTRADAY_FRESHNESS


def test_quality_job_checks_a_partition_range_without_materializing(checked):
    defs = dg.Definitions(
        assets=dg.load_assets_from_modules([prices, gold, stream]),
        asset_checks=checks.ASSET_CHECKS,
        jobs=[checks.quality_job],
        sensors=[run_failure_alert_sensor],
        resources=local_resources(checked.path, symbols=SYMBOLS),
    )
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("quality_job")
    assert job.partitions_def == TRADING_DAYS  # the UI offers trading days to launch
    days = (dt.date(2024, 7, 8), dt.date(2024, 7, 10))
    result = job.execute_in_process(instance=checked.instance, tags=range_tags(*days))
    assert result.success
    assert result.get_asset_materialization_events() == []
    evaluations = result.get_asset_check_evaluations()
    sessions = [d.isoformat() for d in calendar.sessions_between(*days)]
    got = {(e.asset_key, e.check_name, e.partition) for e in evaluations}
    assert got == expected_evaluations(sessions, stream_days=sessions)  # history: no rows, ok
    assert all(e.passed for e in evaluations)
    prices_keys = [
        e for e in evaluations if e.asset_key == checks.PRICES_KEY and e.check_name == "keys"
    ]
    assert {e.metadata["rows_checked"].value for e in prices_keys} == {3}


def test_the_check_list_in_the_docs_names_every_check():
    rows = set(re.findall(r"^\| `([a-z_/]+)` \| `([a-z_]+)` \|", DOCS.read_text(), re.M))
    assert rows == {
        (key.to_user_string(), check.name)
        for key, table_checks in checks.CHECKS.items()
        for check in table_checks
    }
