import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from stock_assets.schedules import after_close_schedule

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
