import importlib

import dagster as dg
import pytest

import stock_assets.definitions as definitions
from stock_assets.partitions import TRADING_DAYS, trading_day_partitions


def test_definitions_load_with_every_asset_partitioned_by_trading_day():
    defs = definitions.defs
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
    with pytest.raises(ValueError, match="expected: local, aws"):
        importlib.reload(definitions)
    monkeypatch.setenv("STOCK_ASSETS_ENV", "local")
    importlib.reload(definitions)


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
