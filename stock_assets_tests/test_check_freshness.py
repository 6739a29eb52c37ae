"""Freshness policies on the asset definitions: daily on the batch tables, on the stream
tables only when a producer is expected."""

import datetime as dt

import dagster as dg

from stock_assets import checks
from stock_assets.assets import gold, prices, snapshot, stream
from stock_assets.definitions import build_definitions
from stock_assets.market import calendar
from stock_assets.schedules import DAILY_FRESHNESS, stream_freshness, with_freshness_policies
from stock_assets.settings import Settings
from stock_assets_tests.check_runs import BATCH_KEYS, STREAM_KEYS


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
