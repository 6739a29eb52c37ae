"""Jobs and the schedules that run them."""

import datetime as dt
import os
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from stock_assets.market import calendar
from stock_assets.market.producer import market_is_open, produce_micro_batch
from stock_assets.resources.lake import LakeResource
from stock_assets.resources.market_data import MarketDataResource

daily_market_job = dg.define_asset_job(
    name="daily_market_job",
    selection=dg.AssetSelection.groups("bronze", "silver", "gold", "views"),
    description=(
        "The daily batch: pull the watchlist into bronze, clean into silver, then compute "
        "indicators, signals (alerting new ones) and the market summary; rebuild the day's "
        "one-minute bars (vendor bars for closed sessions) and daily figures; refresh the views."
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


class ProducerConfig(dg.Config):
    as_of: str = Field(default="", description="ISO-8601 instant to quote at; empty: now")
    format: str = Field(default="jsonl", description="jsonl, json or csv")


@dg.op(description="Poll the source for the watchlist's latest quotes; write one micro-batch.")
def produce_quotes(
    context: dg.OpExecutionContext,
    config: ProducerConfig,
    market_data: MarketDataResource,
    lake: LakeResource,
) -> str | None:
    as_of = dt.datetime.fromisoformat(config.as_of) if config.as_of else dt.datetime.now(dt.UTC)
    key, count = produce_micro_batch(
        market_data.client(), market_data.watchlist(), as_of, lake.put, fmt=config.format
    )
    if key is None:
        context.log.info(f"no quotes as of {as_of.isoformat()}; nothing written")
    else:
        context.log.info(f"wrote {count} quotes to {key}")
    return key


@dg.job(description="Write one micro-batch of latest quotes into landing/quotes/.")
def produce_quotes_job():
    produce_quotes()


@dg.schedule(
    job=produce_quotes_job,
    cron_schedule=os.environ.get("STOCK_ASSETS_PRODUCER_CRON", "* 9-16 * * 1-5"),
    execution_timezone=calendar.MARKET_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every minute while the NYSE is open (turn on for a live intraday stream).",
)
def market_hours_producer_schedule(context: dg.ScheduleEvaluationContext):
    """Produce a micro-batch only inside the session (holidays and early closes included)."""
    at = context.scheduled_execution_time.astimezone(dt.UTC)
    reason = market_is_open(at)
    if reason:
        return dg.SkipReason(reason)
    return dg.RunRequest(
        run_key=at.isoformat(),
        run_config=dg.RunConfig(ops={"produce_quotes": ProducerConfig(as_of=at.isoformat())}),
    )
