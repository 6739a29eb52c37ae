"""Jobs and the schedules that run them."""

from zoneinfo import ZoneInfo

import dagster as dg

from stock_assets.market import calendar

daily_market_job = dg.define_asset_job(
    name="daily_market_job",
    selection=dg.AssetSelection.groups("prices", "analytics"),
    description=(
        "The daily batch: pull the watchlist into bronze, clean into silver, then compute "
        "indicators, signals (alerting new ones) and the market summary."
    ),
)


@dg.schedule(
    job=daily_market_job,
    cron_schedule="30 18 * * 1-5",
    execution_timezone=calendar.MARKET_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="After the close (18:30 New York) on NYSE trading days; holidays are skipped.",
)
def after_close_schedule(context: dg.ScheduleEvaluationContext):
    """Materialize the day's partition once the session has closed."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(calendar.MARKET_TIMEZONE)).date()
    reason = calendar.non_session_reason(day)
    if reason is not None:
        return dg.SkipReason(reason)
    return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())
