from pathlib import Path

import dagster as dg
import pytest

import stock_assets.definitions as definitions
from stock_assets.partitions import TRADING_DAYS, trading_day_partitions
from stock_assets.settings import Settings, dagster_home_is_set


def test_definitions_load_with_every_asset_partitioned_by_trading_day():
    defs = definitions.defs()
    job = defs.resolve_job_def("daily_market_job")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"bronze/raw_quotes", "silver/prices", "silver/price_rejects"} <= keys
    assert job.partitions_def == TRADING_DAYS
    assert defs.resolve_schedule_def("after_close_schedule")


def test_partitions_are_nyse_sessions_from_the_configured_start():
    parts = trading_day_partitions("2024-07-01")
    keys = parts.get_partition_keys()
    assert keys[:5] == ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08"]
    assert "2024-12-25" not in keys and "2025-01-09" not in keys
    assert TRADING_DAYS.get_first_partition_key() == "2015-01-02"


def test_unknown_mode_is_refused_with_the_valid_ones(monkeypatch):
    monkeypatch.setenv("STOCK_ASSETS_ENV", "cloud")
    with pytest.raises(ValueError, match=r"STOCK_ASSETS_ENV='cloud'.*expected: local, aws"):
        definitions.build_definitions()
    with pytest.raises(ValueError, match="expected: local, aws"):
        definitions.resources_for(Settings(env="cloud"))


def test_the_code_location_is_built_when_dagster_asks_not_at_import():
    assert not isinstance(definitions.defs, dg.Definitions)
    assert isinstance(definitions.defs(), dg.Definitions)


def test_settings_come_from_the_environment_when_asked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("STOCK_ASSETS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STOCK_ASSETS_S3_PREFIX", "/lake/")
    monkeypatch.setenv("STOCK_ASSETS_FAULT_RATE", "0.25")
    settings = Settings.from_env()
    assert settings.data_dir == tmp_path and settings.s3_prefix == "lake"
    assert settings.fault_rate == 0.25 and settings.csv_path == str(tmp_path / "imports")
    # Without the variable: ./data, here a fresh one (a checkout's data/ may hold the demo's
    # simulated actions, which Settings then reads).
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}) == Settings(
        data_dir=Path("data").resolve(), csv_path=str(Path("data").resolve() / "imports")
    )
    monkeypatch.setenv("STOCK_ASSETS_FAULT_RATE", "often")
    with pytest.raises(ValueError, match="STOCK_ASSETS_FAULT_RATE='often'"):
        Settings.from_env()


def test_stream_freshness_minutes_is_unset_by_default_and_must_divide_the_hour():
    name = "STOCK_ASSETS_STREAM_FRESHNESS_MINUTES"
    assert Settings.from_env({}).stream_freshness_minutes is None
    assert Settings.from_env({name: " 15 "}).stream_freshness_minutes == 15
    for bad in ("7", "0", "90", "often", "-5"):
        with pytest.raises(ValueError, match=f"{name}='{bad}'"):
            Settings.from_env({name: bad})


def test_resources_are_picked_by_mode_from_the_settings(tmp_path, aws_endpoint):
    local = definitions.build_definitions(Settings(data_dir=tmp_path))
    warehouse = local.resources["io_manager"]
    assert warehouse.database == str(tmp_path / "warehouse.duckdb")
    aws = definitions.resources_for(Settings(env="aws", s3_bucket="b", s3_prefix="p"))
    assert type(aws["io_manager"]).__name__ == "IcebergIOManager"
    assert aws["io_manager"].bucket == "b" and aws["io_manager"].prefix == "p"
    with pytest.raises(ValueError, match="STOCK_ASSETS_S3_BUCKET"):
        definitions.resources_for(Settings(env="aws"))


def test_api_key_is_bound_through_envvar_not_a_literal(monkeypatch):
    monkeypatch.setenv("STOCK_ASSETS_SOURCE", "alpha_vantage")
    resource = definitions.market_data_resource()
    assert isinstance(resource.alpha_vantage_api_key, dg.EnvVar)
    monkeypatch.setenv("STOCK_ASSETS_SOURCE", "simulated")
    assert definitions.market_data_resource().alpha_vantage_api_key is None


def test_the_code_location_uses_the_system_allocator_for_arrow():
    # Set at import for every process that loads the code location (run workers included).
    import pyarrow as pa

    assert pa.default_memory_pool().backend_name == "system"


def test_whether_a_persistent_dagster_instance_is_configured(monkeypatch, tmp_path):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert not dagster_home_is_set()
    monkeypatch.setenv("DAGSTER_HOME", " ")
    assert not dagster_home_is_set()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert dagster_home_is_set()
