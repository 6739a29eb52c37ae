"""Shared fixtures: a temporary data home per test and resources pointing at it."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stock_assets.io_managers import WarehouseIOManager
from stock_assets.resources.alert_rules import AlertRulesResource
from stock_assets.resources.alerts import LogAlertSink
from stock_assets.resources.lake import LocalLake, S3Lake
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.resources.sql_engine import DuckDBSqlEngine


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="rewrite stock_assets_tests/snapshots/ from the current code instead of comparing",
    )


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty STOCK_ASSETS_DATA_DIR for one test."""
    home = tmp_path / "data"
    home.mkdir()
    monkeypatch.setenv("STOCK_ASSETS_DATA_DIR", str(home))
    return home


@pytest.fixture
def machine_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to UTC+9, so nothing may lean on it being UTC."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path):
    """The lake, once as a local folder and once on S3 (moto's server on loopback)."""
    if request.param == "local":
        return LocalLake(root=str(tmp_path / "lake"))
    request.getfixturevalue("aws_endpoint")
    import boto3

    boto3.client("s3").create_bucket(Bucket="test-lake")
    return S3Lake(bucket="test-lake", prefix="stock-assets")


def local_resources(home: Path, **market: object) -> dict[str, object]:
    return {
        "io_manager": WarehouseIOManager(database=str(home / "warehouse.duckdb")),
        "lake": LocalLake(root=str(home / "lake")),
        "market_data": MarketDataResource(**market),
        # Tests use fixed historical dates, so every signal counts as recent enough to alert.
        "alerts": LogAlertSink(max_age_days=100_000),
        "sql_engine": DuckDBSqlEngine(database=str(home / "warehouse.duckdb")),
        "alert_rules": AlertRulesResource(),
    }


def sense(lake, cursor: str | None = None, instance=None):
    """Evaluate the arrivals sensor as the daemon would: against an instance (a fresh one,
    holding no waiting stream run, unless the test passes its own)."""
    import dagster as dg

    from stock_assets.sensors import arrivals_sensor
    from stock_assets.settings import Settings

    context = dg.build_sensor_context(
        instance=instance or dg.DagsterInstance.ephemeral(),
        cursor=cursor,
        resources={"lake": lake},
    )
    return arrivals_sensor(Settings())(context)


# -- Debian's headless Chromium, for the Dagster UI and dashboard tests ---------------------

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# As root, without a sandbox; no background traffic (this machine has no network).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run scripts/install-test-system-deps.sh "
            "(installs Debian's chromium) or set CHROMIUM_PATH"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# A stretch of 2024 with a holiday inside it (Independence Day, Thursday 2024-07-04).
JULY_2024 = (dt.date(2024, 7, 1), dt.date(2024, 7, 12))


from stock_assets_tests.aws_server import aws_endpoint, moto_server  # noqa: E402, F401
