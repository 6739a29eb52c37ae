"""Asset checks in real runs: one result per check and run judging exactly the run's
partitions, the quality job, the views' checks, AWS mode and rejected records. (Blocking and
alerting: test_check_failures; freshness: test_check_freshness.)"""

import datetime as dt
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets import checks
from stock_assets.assets import prices, stream, views
from stock_assets.definitions import build_definitions
from stock_assets.market import calendar
from stock_assets.market.cleaning import CleanResult, clean_prices
from stock_assets.market.schemas import PRICE_REJECTS, conform
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.aws import aws_resources
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.resources.sql_engine import AthenaSqlEngine
from stock_assets.settings import Settings
from stock_assets_tests.check_runs import (
    ACTION_KEYS,
    BATCH,
    BATCH_KEYS,
    INTRADAY_KEYS,
    STREAM_DAY,
    STREAM_KEYS,
    SYMBOLS,
    VIEW_CHECK_KEYS,
    WARMUP_HISTORY,
    check_keys,
    checks_for,
    corrupt_prices,
    definitions,
    range_tags,
    results,
    run_batch,
    run_stream,
)
from stock_assets_tests.conftest import JULY_2024, local_resources

DOCS = Path(__file__).resolve().parents[1] / "README.md"


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


def test_every_check_reports_once_per_run_on_the_run_s_partitions(checked):
    batch, stream_run = results(checked.batch), results(checked.stream)
    assert set(batch) == check_keys(BATCH_KEYS | ACTION_KEYS) | VIEW_CHECK_KEYS
    assert set(stream_run) == check_keys(STREAM_KEYS) | {stream.REJECTS_CHECK.key}
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
    snapshot = stream_run[dg.AssetCheckKey(checks.SNAPSHOT_KEY, "keys")].metadata
    assert "partition_range" not in snapshot and snapshot["rows_checked"].value == 3
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


def test_the_check_list_in_the_docs_names_every_check(tmp_path):
    rows = set(re.findall(r"^\| `([a-z_/]+)` \| `([a-z_]+)` \|", DOCS.read_text(), re.M))
    graph = build_definitions(Settings(data_dir=tmp_path)).resolve_asset_graph()
    assert rows == {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}


def test_a_check_run_leaves_no_loaded_table_behind(tmp_path):
    """Dagster compiles a record's constructor on first use and keeps the calling frame's
    locals; the first check result of a process must not pin the table its op loaded.
    A fresh interpreter, so that this run builds the process's first check result."""
    code = (
        "import gc, sys\n"
        "from pathlib import Path\n"
        "import dagster as dg\n"
        "from stock_assets.market.rules import Scope\n"
        "from stock_assets_tests.check_runs import run_stream\n"
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
