"""The one Definitions object of the code location; resources are chosen by mode.

STOCK_ASSETS_ENV picks the resource set: ``local`` (DuckDB + a local lake folder) or
``aws`` (S3 Parquet + Glue, S3 lake, SNS alerts, Athena), so asset code never changes
between a laptop and AWS.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pyarrow as pa

from stock_assets.alerting import alert_retry_job, alert_retry_sensor, run_failure_alert_sensor
from stock_assets.assets import gold, prices, stream, views
from stock_assets.checks import ASSET_CHECKS, quality_job, with_freshness_policies
from stock_assets.io_managers import WarehouseIOManager
from stock_assets.resources.alerts import LogAlertSink
from stock_assets.resources.aws import aws_resources
from stock_assets.resources.lake import LocalLake
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.resources.sql_engine import DuckDBSqlEngine
from stock_assets.schedules import (
    after_close_schedule,
    daily_market_job,
    market_hours_producer_schedule,
    produce_quotes_job,
)
from stock_assets.sensors import landing_arrivals_sensor, stream_ingest_job

# Arrow's default allocator (mimalloc) keeps freed pages mapped, which counts against a run
# process: a ten-year history load peaked at 1.99 GiB with it and 1.92 GiB with the system
# allocator (benchmarks/run.py, 500 symbols x 2,520 sessions).
pa.set_memory_pool(pa.system_memory_pool())


def data_dir() -> Path:
    return Path(os.environ.get("STOCK_ASSETS_DATA_DIR", "data")).resolve()


def market_data_resource() -> MarketDataResource:
    source = os.environ.get("STOCK_ASSETS_SOURCE", "simulated")
    return MarketDataResource(
        source=source,
        symbols=os.environ.get("STOCK_ASSETS_SYMBOLS", ""),
        fault_rate=float(os.environ.get("STOCK_ASSETS_FAULT_RATE", "0") or 0),
        csv_path=os.environ.get("STOCK_ASSETS_CSV_PATH", str(data_dir() / "imports")),
        # Only bound when used, so other modes need no key; EnvVar keeps it out of configs.
        alpha_vantage_api_key=dg.EnvVar("ALPHA_VANTAGE_API_KEY")
        if source == "alpha_vantage"
        else None,
    )


def local_resources() -> dict[str, object]:
    home = data_dir()
    return {
        "io_manager": WarehouseIOManager(database=str(home / "warehouse.duckdb")),
        "lake": LocalLake(root=str(home / "lake")),
        "alerts": LogAlertSink(),
        "sql_engine": DuckDBSqlEngine(database=str(home / "warehouse.duckdb")),
    }


RESOURCES_BY_ENV: dict[str, Callable[[], dict[str, object]]] = {
    "local": local_resources,
    "aws": aws_resources,
}


def resources_for(env: str) -> dict[str, object]:
    try:
        env_resources = RESOURCES_BY_ENV[env]
    except KeyError:
        valid = ", ".join(RESOURCES_BY_ENV)
        raise ValueError(
            f"STOCK_ASSETS_ENV={env!r} is not a known mode (expected: {valid})"
        ) from None
    return {"market_data": market_data_resource(), **env_resources()}


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=with_freshness_policies(dg.load_assets_from_modules([prices, gold, stream, views])),
        asset_checks=ASSET_CHECKS,
        jobs=[
            daily_market_job,
            stream_ingest_job,
            produce_quotes_job,
            quality_job,
            alert_retry_job,
        ],
        schedules=[after_close_schedule, market_hours_producer_schedule],
        sensors=[landing_arrivals_sensor, run_failure_alert_sensor, alert_retry_sensor],
        resources=resources_for(os.environ.get("STOCK_ASSETS_ENV", "local")),
    )


defs = build_definitions()
