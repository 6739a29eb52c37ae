import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from stock_assets.definitions import build_definitions
from stock_assets.schedules import after_close_schedule, producer_schedule
from stock_assets.settings import Settings

NY = ZoneInfo("America/New_York")


def evaluate(day: dt.date):
    when = dt.datetime(day.year, day.month, day.day, 18, 30, tzinfo=NY)
    return after_close_schedule(dg.build_schedule_context(scheduled_execution_time=when))


def test_trading_day_requests_its_own_partition_once():
    request = evaluate(dt.date(2024, 7, 5))
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-07-05" and request.run_key == "2024-07-05"


@pytest.mark.parametrize(
    "day,words",
    [
        (dt.date(2024, 7, 4), "July 4th"),
        (dt.date(2024, 12, 25), "Christmas"),
        (dt.date(2025, 1, 9), "special closure"),
    ],
)
def test_holidays_are_skipped_with_the_reason(day, words):
    result = evaluate(day)
    assert isinstance(result, dg.SkipReason)
    assert words in result.skip_message and day.isoformat() in result.skip_message


def test_schedule_fires_after_the_close_in_new_york_on_weekdays():
    assert after_close_schedule.cron_schedule == "30 18 * * 1-5"
    assert after_close_schedule.execution_timezone == "America/New_York"
    assert after_close_schedule.job_name == "daily_market_job"


@pytest.mark.parametrize(
    "when,produces",
    [
        (dt.datetime(2024, 7, 5, 10, 0, tzinfo=NY), True),
        (dt.datetime(2024, 7, 5, 9, 15, tzinfo=NY), False),  # before the open
        (dt.datetime(2024, 7, 4, 11, 0, tzinfo=NY), False),  # holiday
        (dt.datetime(2024, 11, 29, 14, 0, tzinfo=NY), False),  # after an early close (13:00)
    ],
)
def test_producer_runs_only_while_the_market_is_open(when, produces):
    result = producer_schedule(Settings())(dg.build_schedule_context(scheduled_execution_time=when))
    assert isinstance(result, dg.RunRequest) is produces
    if produces:
        config = result.run_config["ops"]["produce_quotes"]["config"]
        assert dt.datetime.fromisoformat(config["as_of"]) == when


def test_producer_job_writes_a_micro_batch_of_the_watchlist(data_home):
    from stock_assets.market.landing import parse_landing_object
    from stock_assets.resources.lake import LocalLake
    from stock_assets.resources.market_data import MarketDataResource
    from stock_assets.schedules import produce_quotes_job

    lake = LocalLake(root=str(data_home / "lake"))
    result = produce_quotes_job.execute_in_process(
        run_config={"ops": {"produce_quotes": {"config": {"as_of": "2024-07-05T15:00:00+00:00"}}}},
        resources={"lake": lake, "market_data": MarketDataResource(symbols="AAPL,TMUS")},
    )
    key = result.output_for_node("produce_quotes")
    parse = parse_landing_object(key, lake.get(key), now=dt.datetime(2024, 7, 6, tzinfo=dt.UTC))
    assert key.startswith("landing/quotes/") and parse.fatal is None and not parse.rejects
    assert sorted(parse.quotes.symbol) == ["AAPL", "TMUS"]


def test_producer_writes_nothing_when_there_is_no_quote(data_home):
    from stock_assets.market.producer import produce_micro_batch
    from stock_assets.market.sources.simulated import SimulatedSource

    written = []
    before_listing = dt.datetime(2023, 9, 1, 15, tzinfo=dt.UTC)  # ARM lists on 2023-09-14
    key, count = produce_micro_batch(
        SimulatedSource(), ["ARM"], before_listing, lambda k, b: written.append(k)
    )
    assert (key, count, written) == (None, 0, [])


@pytest.mark.parametrize("status", ["running", "stopped"])
def test_producer_schedule_status_and_cron_come_from_the_settings(status, tmp_path):
    environ = {
        "STOCK_ASSETS_DATA_DIR": str(tmp_path),
        "STOCK_ASSETS_PRODUCER_SCHEDULE": status,
        "STOCK_ASSETS_PRODUCER_CRON": "*/5 10-15 * * 1-5",
    }
    defs = build_definitions(Settings.from_env(environ))
    schedule = defs.resolve_schedule_def("market_hours_producer_schedule")
    assert schedule.default_status.value == status.upper()
    assert schedule.cron_schedule == "*/5 10-15 * * 1-5"


def test_an_unknown_producer_schedule_status_is_refused_by_name():
    with pytest.raises(ValueError, match="STOCK_ASSETS_PRODUCER_SCHEDULE='on'"):
        Settings.from_env({"STOCK_ASSETS_PRODUCER_SCHEDULE": "on"})
