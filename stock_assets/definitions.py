"""The code location: `build_definitions(settings)`, and `defs`, which Dagster loads lazily.

STOCK_ASSETS_ENV picks the resource set from RESOURCES_BY_ENV: ``local`` (DuckDB + a local
lake folder) or ``aws`` (S3 Parquet + Glue, S3 lake, SNS alerts, Athena), so asset code
never changes between a laptop and AWS. Settings come from stock_assets.settings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pyarrow as pa

from stock_assets.alerting import alert_retry_job, alert_retry_sensor, run_failure_alert_sensor
from stock_assets.assets import gold, intraday, live, prices, snapshot, stream, views
from stock_assets.assets.metadata import with_mode_kinds
from stock_assets.checks import ASSET_CHECKS
from stock_assets.dashboard.links import with_dashboard_links
from stock_assets.io_managers import WarehouseIOManager
from stock_assets.partitions import sessions_per_run, with_history_backfill
from stock_assets.resources.alert_rules import AlertRulesResource
from stock_assets.resources.alerts import LogAlertSink
from stock_assets.resources.aws import aws_resources
from stock_assets.resources.lake import LocalLake
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.resources.sql_engine import DuckDBSqlEngine
from stock_assets.schedules import (
    after_close_schedule,
    daily_market_job,
    history_backfill_job,
    lake_maintenance_job,
    lake_maintenance_schedule,
    produce_quotes_job,
    producer_schedule,
    quality_job,
    with_freshness_policies,
)
from stock_assets.sensors import arrivals_sensor, stream_ingest_job
from stock_assets.settings import Settings

# Arrow's default allocator (mimalloc) keeps freed pages mapped, which counts against a run
# process's peak memory; the system allocator returns them (docs/ARCHITECTURE.md).
pa.set_memory_pool(pa.system_memory_pool())


def data_dir() -> Path:
    """STOCK_ASSETS_DATA_DIR, resolved: where the local warehouse and lake live."""
    return Settings.from_env().data_dir


def market_data_resource(settings: Settings | None = None) -> MarketDataResource:
    settings = settings or Settings.from_env()
    return MarketDataResource(
        source=settings.source,
        symbols=settings.symbols,
        fault_rate=settings.fault_rate,
        csv_path=settings.csv_path,
        simulated_actions=settings.simulated_actions,
        # Only bound when used, so other modes need no key; EnvVar keeps it out of configs.
        alpha_vantage_api_key=dg.EnvVar("ALPHA_VANTAGE_API_KEY")
        if settings.source == "alpha_vantage"
        else None,
    )


def local_resources(settings: Settings) -> dict[str, object]:
    warehouse = str(settings.data_dir / "warehouse.duckdb")
    return {
        "io_manager": WarehouseIOManager(database=warehouse),
        "lake": LocalLake(root=str(settings.data_dir / "lake")),
        "alerts": LogAlertSink(),
        "sql_engine": DuckDBSqlEngine(database=warehouse),
    }


RESOURCES_BY_ENV: dict[str, Callable[[Settings], dict[str, object]]] = {
    "local": local_resources,
    "aws": aws_resources,
}


def resources_for(settings: Settings) -> dict[str, object]:
    """The resources of the settings' mode, and the market data source every mode uses."""
    try:
        env_resources = RESOURCES_BY_ENV[settings.env]
    except KeyError:
        valid = ", ".join(RESOURCES_BY_ENV)
        raise ValueError(
            f"STOCK_ASSETS_ENV={settings.env!r} is not a known mode (expected: {valid})"
        ) from None
    return {
        "market_data": market_data_resource(settings),
        "alert_rules": AlertRulesResource(path=settings.alert_rules),
        **env_resources(settings),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The code location for `settings` (default: this process's environment)."""
    settings = settings or Settings.from_env()
    resources = resources_for(settings)  # refuses an unknown mode before anything uses it
    assets = with_history_backfill(
        dg.load_assets_from_modules([prices, gold, stream, intraday, live, snapshot, views]),
        sessions_per_run(settings),
    )
    return dg.Definitions(
        assets=with_dashboard_links(
            with_freshness_policies(
                with_mode_kinds(assets, settings.env, views.VIEWS),
                settings.stream_freshness_minutes,
            ),
            settings.dashboard_url,
        ),
        asset_checks=ASSET_CHECKS,
        jobs=[
            daily_market_job,
            history_backfill_job(settings),
            stream_ingest_job,
            produce_quotes_job,
            quality_job,
            alert_retry_job,
            lake_maintenance_job,
        ],
        schedules=[after_close_schedule, producer_schedule(settings), lake_maintenance_schedule],
        sensors=[arrivals_sensor(settings), run_failure_alert_sensor, alert_retry_sensor],
        resources=resources,
        # Every run in one process, the UI's materializations and backfills included: the
        # memory budget sizes a history piece for one process (steps run one after another
        # either way, the warehouse admits one writer), and a process per step costs ~2.5 s
        # of Python start-up each.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What Dagster loads (dagster -m stock_assets.definitions): built for this process's
    environment when Dagster asks for it, not when the module is imported."""
    return build_definitions()
