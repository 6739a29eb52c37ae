"""Runs of the assets with their checks, shared by the check tests (test_checks,
test_check_failures, test_check_freshness): the tables and keys they cover, the batch and
stream runs, and the results by check."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from stock_assets import checks
from stock_assets.alerting import run_failure_alert_sensor
from stock_assets.assets import gold, intraday, live, prices, snapshot, stream, views
from stock_assets.assets.stream import LandingBatchConfig
from stock_assets.market.cleaning import CleanResult, clean_prices
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.resources.lake import LocalLake
from stock_assets.schedules import daily_market_job, quality_job
from stock_assets_tests.conftest import local_resources

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


def corrupt_prices(raw_quotes: pd.DataFrame, ingested_at: dt.datetime) -> CleanResult:
    """Clean, then break the contract cleaning guarantees: a duplicate bar on the first day
    and high < low on the last (both pass the write, the checks must catch them)."""
    result = clean_prices(raw_quotes, ingested_at)
    bad = result.prices.copy()
    last = bad.index[-1]
    bad.loc[last, "high"] = bad.loc[last, "low"] - 1.0
    duplicate = bad[bad.trade_date == bad.trade_date.min()].head(1)
    return CleanResult(pd.concat([bad, duplicate], ignore_index=True), result.rejects, 0)
