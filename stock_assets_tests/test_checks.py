"""Asset checks in real runs: one result per check and run judging exactly the run's
partitions, blocking, alerting, freshness, quality job."""

import datetime as dt
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import boto3
import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets import checks
from stock_assets.alerting import RUN_FAILURE, run_failure_alert, run_failure_alert_sensor
from stock_assets.assets import gold, intraday, live, prices, snapshot, stream, views
from stock_assets.assets.stream import LandingBatchConfig
from stock_assets.definitions import build_definitions
from stock_assets.market import calendar
from stock_assets.market.cleaning import CleanResult, clean_prices
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.schemas import PRICE_REJECTS, conform
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.alerts import AlertSink
from stock_assets.resources.aws import aws_resources
from stock_assets.resources.lake import LocalLake
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.resources.sql_engine import AthenaSqlEngine
from stock_assets.schedules import (
    DAILY_FRESHNESS,
    daily_market_job,
    quality_job,
    stream_freshness,
    with_freshness_policies,
)
from stock_assets.settings import Settings
from stock_assets_tests.conftest import JULY_2024, local_resources

SYMBOLS = "AAPL,MSFT,ARM"
WARMUP_HISTORY = (dt.date(2024, 4, 15), dt.date(2024, 6, 28))  # silver only: gold has history
BATCH = [
    prices.raw_quotes,
    prices.prices,
    prices.corporate_actions,
    gold.indicators,
    gold.signals,
    gold.market_summary,
]
BATCH_KEYS = {
    checks.RAW_QUOTES_KEY,
    checks.PRICES_KEY,
    checks.REJECTS_KEY,
    checks.INDICATORS_KEY,
    checks.SIGNALS_KEY,
    checks.SUMMARY_KEY,
}
# Unpartitioned, in the batch job: its checks judge the whole table.
ACTION_KEYS = {prices.ACTIONS_KEY}
STREAM_KEYS = {checks.HISTORY_KEY, checks.SNAPSHOT_KEY}
INTRADAY_KEYS = {
    intraday.INTRADAY_BARS_KEY,
    intraday.DAILY_KPIS_KEY,
    live.LIVE_SIGNALS_KEY,
    live.PROFILE_KEY,
}
VIEW_CHECK_KEYS = {
    key
    for definition in checks.ASSET_CHECKS
    for key in definition.check_keys
    if key.asset_key in views.VIEWS
}
STREAM_DAY = "2024-07-05"
DOCS = Path(__file__).resolve().parents[1] / "README.md"


def checks_for(keys: set[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    return [c for c in checks.ASSET_CHECKS if {k.asset_key for k in c.check_keys} <= keys]


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }


def definitions(home: Path) -> dg.Definitions:
    """The code location's assets, checks and jobs on a test data home."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules([prices, gold, stream, snapshot, views]),
        asset_checks=checks.ASSET_CHECKS,
        jobs=[daily_market_job, quality_job],
        sensors=[run_failure_alert_sensor],
        resources=local_resources(home, symbols=SYMBOLS),
    )


def run_batch(
    home: Path, instance: dg.DagsterInstance, days: tuple[dt.date, dt.date], with_checks: bool
) -> dg.ExecuteInProcessResult:
    """The batch tables over `days` in one run: with checks through daily_market_job, as the
    schedule and history loads run it."""
    if with_checks:
        job = definitions(home).resolve_job_def("daily_market_job")
        return job.execute_in_process(
            instance=instance, tags=range_tags(*days), raise_on_error=False
        )
    return dg.materialize(
        BATCH,
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
        [stream.stream_assets, snapshot.latest_snapshot, *checks_for(STREAM_KEYS)],
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


def july_sessions() -> list[str]:
    return [d.isoformat() for d in calendar.sessions_between(*JULY_2024)]


def check_keys(keys: set[dg.AssetKey]) -> set[dg.AssetCheckKey]:
    return {
        dg.AssetCheckKey(key, check.name)
        for key, table_checks in checks.CHECKS.items()
        if key in keys
        for check in table_checks
    }


def results(result: dg.ExecuteInProcessResult) -> dict[dg.AssetCheckKey, dg.AssetCheckEvaluation]:
    """The run's results by check; fails if a check reported more than once."""
    evaluations = result.get_asset_check_evaluations()
    by_key = {e.asset_check_key: e for e in evaluations}
    assert len(by_key) == len(evaluations)
    return by_key


def test_every_check_reports_once_per_run_on_the_run_s_partitions(checked):
    batch, stream_run = results(checked.batch), results(checked.stream)
    assert set(batch) == check_keys(BATCH_KEYS | ACTION_KEYS) | VIEW_CHECK_KEYS
    assert set(stream_run) == check_keys(STREAM_KEYS)
    evaluations = [*batch.values(), *stream_run.values()]
    failures = [(e.asset_check_key, e.description) for e in evaluations if not e.passed]
    assert failures == []
    assert {e.partition for e in evaluations} == {None}  # unpartitioned checks
    assert all(e.target_materialization_data is not None for e in evaluations)
    sessions = july_sessions()
    for key in check_keys(BATCH_KEYS):
        meta = batch[key].metadata
        assert meta["partition_range"].value == f"{sessions[0]}..{sessions[-1]}", key
        assert meta["partitions_checked"].value == len(sessions), key
        assert meta["failing_partitions"].value == [], key
    # A one-day run carries the same range metadata; the unpartitioned snapshot has none.
    history = stream_run[dg.AssetCheckKey(checks.HISTORY_KEY, "keys")].metadata
    assert history["partition_range"].value == f"{STREAM_DAY}..{STREAM_DAY}"
    snapshot_result = stream_run[dg.AssetCheckKey(checks.SNAPSHOT_KEY, "keys")].metadata
    assert "partition_range" not in snapshot_result and snapshot_result["rows_checked"].value == 3
    values = batch[dg.AssetCheckKey(checks.PRICES_KEY, "values")]
    assert values.metadata["rows_checked"].value == 3 * len(sessions)  # 3 symbols a day
    assert values.blocking and values.severity == dg.AssetCheckSeverity.ERROR


def planned(instance: dg.DagsterInstance, run_id: str) -> list:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
    ).records
    return [r.event_log_entry.dagster_event.event_specific_data for r in records]


def test_a_range_run_plans_one_row_per_check_not_per_partition(checked):
    """The cost this design removes: a partitioned check planned one stored row per
    partition and check when the run was created. Through daily_market_job, whose plan ends
    with the unpartitioned views (see the docstring of stock_assets.checks)."""
    run_id = checked.batch.run_id
    plans = planned(checked.instance, run_id)
    assert {(p.asset_key, p.check_name) for p in plans} == {
        (k.asset_key, k.name) for k in check_keys(BATCH_KEYS | ACTION_KEYS) | VIEW_CHECK_KEYS
    }
    assert len(plans) == len(check_keys(BATCH_KEYS | ACTION_KEYS) | VIEW_CHECK_KEYS)
    assert all(p.partitions_subset is None for p in plans)
    storage = checked.instance.event_log_storage
    for key in check_keys(BATCH_KEYS):
        history = storage.get_asset_check_execution_history(key, limit=100)
        rows = [r for r in history if r.run_id == run_id]
        assert [(r.partition, r.status.value) for r in rows] == [(None, "SUCCEEDED")], key


def test_the_instance_shows_each_check_passed_on_the_latest_materialization(checked):
    """What the UI reads: the run's execution of each check resolved as succeeded (not left
    planned, which shows as skipped) and linked to the table's latest materialization, the
    last partition the run wrote (an older target shows the check as stale)."""
    storage = checked.instance.event_log_storage
    for key in check_keys(BATCH_KEYS):
        (record,) = [
            r
            for r in storage.get_asset_check_execution_history(key, limit=100)
            if r.run_id == checked.batch.run_id
        ]
        latest = checked.instance.fetch_materializations(key.asset_key, limit=1).records[0]
        assert latest.run_id == checked.batch.run_id and latest.partition_key == "2024-07-12"
        target = record.evaluation.target_materialization_data
        assert target is not None and target.storage_id == latest.storage_id, key


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


def test_freshness_policies_are_on_the_asset_definitions(tmp_path):
    assets = with_freshness_policies(dg.load_assets_from_modules([prices, gold, stream, snapshot]))
    specs = {spec.key: spec for assets_def in assets for spec in assets_def.specs}
    for key in BATCH_KEYS:
        assert specs[key].freshness_policy == DAILY_FRESHNESS, key
    daily = specs[checks.PRICES_KEY].freshness_policy
    assert isinstance(daily, dg.FreshnessPolicy)
    assert (daily.deadline_cron, daily.timezone) == ("0 20 * * 1-5", calendar.MARKET_TIMEZONE)
    # The producer is off by default: a stream policy would fail every market day.
    assert all(specs[key].freshness_policy is None for key in STREAM_KEYS)


def test_stream_freshness_is_set_only_when_a_producer_is_expected(tmp_path):
    every_5 = stream_freshness(5)
    assert (every_5.deadline_cron, every_5.lower_bound_delta, every_5.timezone) == (
        "*/5 10-15 * * 1-5",
        dt.timedelta(minutes=5),
        "America/New_York",
    )
    assert stream_freshness(60).deadline_cron == "0 10-15 * * 1-5"
    configured = build_definitions(Settings(data_dir=tmp_path, stream_freshness_minutes=5))
    graph = configured.resolve_asset_graph()
    for key in STREAM_KEYS:
        assert graph.get(key).freshness_policy == every_5, key
    assert graph.get(checks.PRICES_KEY).freshness_policy == DAILY_FRESHNESS
    default = build_definitions(Settings(data_dir=tmp_path)).resolve_asset_graph()
    assert all(default.get(key).freshness_policy is None for key in STREAM_KEYS)


@pytest.fixture(scope="module")
def corrupted(checked, tmp_path_factory) -> Path:
    """A copy of the checked warehouse with a duplicate bar on 2024-07-12, its last day."""
    home = tmp_path_factory.mktemp("corrupted")
    shutil.copy(checked.path / "warehouse.duckdb", home / "warehouse.duckdb")
    with duckdb.connect(str(home / "warehouse.duckdb")) as conn:
        conn.execute(
            "INSERT INTO silver.prices SELECT * FROM silver.prices "
            "WHERE trade_date = DATE '2024-07-12' LIMIT 1"
        )
    return home


PRICES_KEYS = dg.AssetCheckKey(checks.PRICES_KEY, "keys")


def test_quality_job_checks_exactly_a_partition_range_without_materializing(checked, corrupted):
    defs = definitions(corrupted)
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("quality_job")
    assert job.partitions_def == TRADING_DAYS  # the UI offers trading days to launch
    days = (dt.date(2024, 7, 8), dt.date(2024, 7, 10))
    result = job.execute_in_process(instance=checked.instance, tags=range_tags(*days))
    assert result.success  # the duplicate on 2024-07-12 lies outside the range
    assert result.get_asset_materialization_events() == []
    evaluations = results(result)
    assert (
        set(evaluations)
        == check_keys(BATCH_KEYS | STREAM_KEYS | INTRADAY_KEYS | ACTION_KEYS) | VIEW_CHECK_KEYS
    )
    assert all(e.passed for e in evaluations.values())  # history: no rows, ok
    assert len(planned(checked.instance, result.run_id)) == len(evaluations)
    keys = evaluations[PRICES_KEYS].metadata
    assert keys["rows_checked"].value == 9  # 3 symbols x 3 sessions
    assert keys["partition_range"].value == "2024-07-08..2024-07-10"

    days = (dt.date(2024, 7, 10), dt.date(2024, 7, 12))
    result = job.execute_in_process(
        instance=checked.instance, tags=range_tags(*days), raise_on_error=False
    )
    assert not result.success  # keys is blocking: the run fails and alerts
    keys = results(result)[PRICES_KEYS]
    assert not keys.passed and keys.metadata["failing_partitions"].value == ["2024-07-12"]
    assert keys.metadata["rows_checked"].value == 10


def test_a_check_launched_without_a_partition_judges_the_latest_one(checked, corrupted):
    """As from the asset's checks tab: the partition of the table's latest materialization."""
    result = dg.materialize(
        [*BATCH, *checks_for(BATCH_KEYS)],
        selection=dg.AssetSelection.checks(PRICES_KEYS),
        resources=local_resources(corrupted, symbols=SYMBOLS),
        instance=checked.instance,
        raise_on_error=False,
    )
    (keys,) = results(result).values()
    assert keys.asset_check_key == PRICES_KEYS and not keys.passed
    assert keys.metadata["partition_range"].value == "2024-07-12..2024-07-12"
    assert keys.metadata["rows_checked"].value == 4


def test_checks_read_exactly_the_run_s_partitions_from_s3(aws_endpoint, monkeypatch):
    """AWS mode: the check op loads through IcebergIOManager (Iceberg in Glue) as locally
    through DuckDB. Bronze and silver over three days with a duplicate bar on the first day
    and a broken one on the last, then the silver checks over the last two days."""
    boto3.client("s3").create_bucket(Bucket="checks-lake")
    monkeypatch.setenv("STOCK_ASSETS_S3_BUCKET", "checks-lake")
    monkeypatch.setattr(prices, "clean_prices", corrupt_prices)
    resources = {**aws_resources(), "market_data": MarketDataResource(symbols=SYMBOLS)}
    assets = [prices.raw_quotes, prices.prices]
    days = (dt.date(2024, 7, 8), dt.date(2024, 7, 10))
    assert dg.materialize(assets, resources=resources, tags=range_tags(*days)).success

    result = dg.materialize(
        [*assets, *checks_for(BATCH_KEYS)],
        selection=dg.AssetSelection.checks(*check_keys({checks.PRICES_KEY})),
        resources=resources,
        tags=range_tags(dt.date(2024, 7, 9), days[1]),
        raise_on_error=False,
    )
    silver = {key.name: e for key, e in results(result).items()}
    assert silver["keys"].passed  # the duplicate on 2024-07-08 lies outside the run
    assert silver["completeness"].passed  # reads silver.price_rejects from S3 as well
    assert not silver["values"].passed
    assert silver["values"].metadata["failing_partitions"].value == ["2024-07-10"]
    assert silver["values"].metadata["rows_checked"].value == 6  # 3 symbols x 2 sessions


def test_the_check_list_in_the_docs_names_every_check():
    rows = set(re.findall(r"^\| `([a-z_/]+)` \| `([a-z_]+)` \|", DOCS.read_text(), re.M))
    assert rows == {
        (key.asset_key.to_user_string(), key.name)
        for definition in checks.ASSET_CHECKS
        for key in definition.check_keys
    }


def test_a_check_run_leaves_no_loaded_table_behind(tmp_path):
    """Dagster compiles a record's constructor on first use and keeps the calling frame's
    locals; the first check result of a process must not pin the table its op loaded.
    A fresh interpreter, so that this run builds the process's first check result."""
    code = (
        "import gc, sys\n"
        "from pathlib import Path\n"
        "import dagster as dg\n"
        "from stock_assets.market.rules import Scope\n"
        "from stock_assets_tests.test_checks import run_stream\n"
        "assert run_stream(Path(sys.argv[1]), dg.DagsterInstance.ephemeral()).success\n"
        "gc.collect()\n"
        "print(sum(isinstance(o, Scope) for o in gc.get_objects()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "0"


def reject_first_record(raw_quotes: pd.DataFrame, ingested_at: dt.datetime) -> CleanResult:
    """Clean, then reject the first bronze record as cleaning would: its bar leaves
    silver.prices and the record goes to the rejects with a reason."""
    result = clean_prices(raw_quotes, ingested_at)
    first = raw_quotes.iloc[[0]].reset_index(drop=True)
    rejected = first[["object_key", "record_no", "symbol", "trade_date", "source", "payload"]]
    rejected = rejected.assign(reason="test: rejected")
    bars = result.prices
    same_bar = (bars.symbol == first.symbol[0]) & (bars.trade_date == first.trade_date[0])
    rejects = conform(pd.concat([result.rejects, rejected], ignore_index=True), PRICE_REJECTS)
    return CleanResult(bars[~same_bar].reset_index(drop=True), rejects, 0)


def test_a_run_with_rejected_records_is_visibly_not_clean(tmp_path, monkeypatch):
    monkeypatch.setattr(prices, "clean_prices", reject_first_record)
    days = (dt.date(2024, 7, 8), dt.date(2024, 7, 9))
    result = dg.materialize(
        [prices.raw_quotes, prices.prices, *checks_for(BATCH_KEYS)],
        selection=dg.AssetSelection.assets(prices.raw_quotes, prices.prices)
        | dg.AssetSelection.checks(*check_keys({checks.PRICES_KEY})),
        resources=local_resources(tmp_path, symbols=SYMBOLS),
        tags=range_tags(*days),
    )
    assert result.success  # a WARN: gold is still built from the bars that were kept
    silver = {key.name: e for key, e in results(result).items()}
    rejects = silver["rejects"]
    assert not rejects.passed and rejects.severity == dg.AssetCheckSeverity.WARN
    assert not rejects.blocking
    assert rejects.metadata["failing_count"].value == 1
    assert rejects.metadata["rejects_table"].value == "silver.price_rejects"
    assert "test: rejected" in rejects.metadata["failing_sample"].value
    assert rejects.metadata["failing_partitions"].value == ["2024-07-08"]
    assert silver["completeness"].passed  # the missing bar is explained by its reject


def test_view_checks_pass_on_the_views_their_sql_creates(checked):
    batch = results(checked.batch)
    latest = batch[dg.AssetCheckKey(dg.AssetKey(["gold", "latest_prices"]), "row_count")]
    assert latest.passed and latest.metadata["rows_checked"].value == len(SYMBOLS.split(","))
    assert all(batch[key].passed for key in VIEW_CHECK_KEYS)


def test_view_checks_fail_on_views_that_drifted_from_their_sql(checked, tmp_path):
    """gold.latest_prices recreated with fewer columns and a row per bar, and
    gold.stock_analysis emptied: the checks name each problem; the other views pass."""
    shutil.copy(checked.path / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    analysis = views.VIEWS[dg.AssetKey(["gold", "stock_analysis"])]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        conn.execute(
            "CREATE OR REPLACE VIEW gold.latest_prices AS "
            "SELECT symbol, trade_date, close FROM silver.prices"
        )
        conn.execute(analysis.to_duckdb().replace("gold.stock_analysis", "gold.analysis_full"))
        conn.execute(
            "CREATE OR REPLACE VIEW gold.stock_analysis AS "
            "SELECT * FROM gold.analysis_full WHERE false"
        )
    view_checks = [c for c in checks.ASSET_CHECKS if set(c.check_keys) <= VIEW_CHECK_KEYS]
    result = dg.materialize(
        [views.sql_views, *view_checks],
        selection=dg.AssetSelection.checks(*VIEW_CHECK_KEYS),
        resources=local_resources(tmp_path, symbols=SYMBOLS),
        raise_on_error=False,
    )
    assert result.success  # ERROR, but nothing is computed from a view: nothing to stop
    found = {(k.asset_key.path[-1], k.name): e for k, e in results(result).items()}
    failed = {key for key, e in found.items() if not e.passed}
    assert failed == {
        ("latest_prices", "columns"),
        ("latest_prices", "row_count"),
        ("stock_analysis", "non_empty"),
        ("stock_analysis", "row_count"),
    }
    rows = found[("latest_prices", "row_count")].metadata["failing_sample"].value
    assert (
        f"| {3 * len(july_sessions()) + 3 * len(calendar.sessions_between(*WARMUP_HISTORY))} |"
        in rows
    )
    columns = found[("latest_prices", "columns")].metadata["failing_sample"].value
    assert "adj_close" in columns  # the 4th declared column is missing
    assert found[("stock_analysis", "non_empty")].severity == dg.AssetCheckSeverity.WARN
    assert found[("latest_prices", "columns")].severity == dg.AssetCheckSeverity.ERROR
    assert not found[("latest_prices", "columns")].blocking


def test_view_checks_name_an_engine_that_cannot_answer(aws_endpoint):
    """moto's Athena runs no query (it answers with no rows): every view check fails,
    saying so, and the run still ends."""
    engine = AthenaSqlEngine(output_location="s3://lake/athena-results/", poll_seconds=0.01)
    view_checks = [c for c in checks.ASSET_CHECKS if set(c.check_keys) <= VIEW_CHECK_KEYS]
    result = dg.materialize(
        [views.sql_views, *view_checks],
        selection=dg.AssetSelection.checks(*VIEW_CHECK_KEYS),
        resources={"sql_engine": engine},
    )
    evaluations = results(result)
    assert set(evaluations) == VIEW_CHECK_KEYS
    assert all(not e.passed for e in evaluations.values())
    assert all("returned no rows" in e.description for e in evaluations.values())
