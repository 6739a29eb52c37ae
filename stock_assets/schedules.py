"""Jobs, the schedules that run them, and the freshness the schedules promise."""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from stock_assets.assets.stream import REJECTS_CHECK
from stock_assets.io_managers.iceberg import IcebergIOManager
from stock_assets.io_managers.iceberg_maintenance import DEFAULT_MIN_FILES, maintain
from stock_assets.market import calendar
from stock_assets.market.producer import market_is_open, produce_micro_batch
from stock_assets.market.schemas import BATCH_TABLES, LATEST_SNAPSHOT, STREAM_HISTORY, TABLES
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.lake import LakeResource
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.run_policy import (
    DAILY_TASK,
    MAINTENANCE_TASK,
    OP_RETRY_POLICY,
    PRODUCER_TASK,
    QUALITY_TASK,
    backfill_task,
)
from stock_assets.settings import Settings

# The daily batch (after_close_schedule, 18:30) lands between the 16:00 close and 20:00.
# Cron freshness has no exchange calendar: on an NYSE holiday the asset shows FAIL from
# 20:00 until the next session's run.
DAILY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 20 * * 1-5",
    lower_bound_delta=dt.timedelta(hours=4),
    timezone=calendar.MARKET_TIMEZONE,
)
BATCH_KEYS = frozenset(dg.AssetKey([t.layer, t.name]) for t in BATCH_TABLES)
STREAM_KEYS = frozenset(dg.AssetKey([t.layer, t.name]) for t in (STREAM_HISTORY, LATEST_SNAPSHOT))


def stream_freshness(minutes: int) -> dg.FreshnessPolicy:
    """A new quote at least every `minutes` (dividing the hour) from 10:00 to 16:00 New York
    on weekdays, the first half hour of the session left to start the producer; overnight and
    at weekends the session's last deadline is judged, so a quiet night is fine."""
    minute = "0" if minutes == 60 else f"*/{minutes}"
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{minute} 10-15 * * 1-5",
        lower_bound_delta=dt.timedelta(minutes=minutes),
        timezone=calendar.MARKET_TIMEZONE,
    )


def freshness_policies(stream_minutes: int | None = None) -> dict[dg.AssetKey, dg.FreshnessPolicy]:
    """Every batch table by the evening; the stream tables only when a producer is expected
    (`stream_minutes`, STOCK_ASSETS_STREAM_FRESHNESS_MINUTES): it is off by default, and a
    policy would fail them every market day."""
    policies = dict.fromkeys(BATCH_KEYS, DAILY_FRESHNESS)
    if stream_minutes is not None:
        policies.update(dict.fromkeys(STREAM_KEYS, stream_freshness(stream_minutes)))
    return policies


def with_freshness_policies(
    assets: Sequence[dg.AssetsDefinition], stream_minutes: int | None = None
) -> Sequence[dg.AssetsDefinition]:
    """The assets with their freshness policy set, so asset modules stay free of it."""
    policies = freshness_policies(stream_minutes)

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        policy = policies.get(spec.key)
        return spec.replace_attributes(freshness_policy=policy) if policy else spec

    return dg.map_asset_specs(apply, assets)


DAILY_SELECTION = dg.AssetSelection.groups("bronze", "silver", "gold", "views")

daily_market_job = dg.define_asset_job(
    name="daily_market_job",
    selection=DAILY_SELECTION,
    description=(
        "The daily batch: pull the watchlist into bronze, clean into silver, then compute "
        "indicators, signals (alerting new ones) and the market summary; rebuild the day's "
        "one-minute bars (vendor bars for closed sessions) and daily figures; refresh the views."
    ),
    # In the run's own process: its dozen steps are short and run one at a time anyway (the
    # warehouse pool admits one writer), and the default multiprocess executor starts a
    # Python process per step (~2.5 s each: a daily run took 33 s instead of 8 s).
    executor_def=dg.in_process_executor,
    tags=DAILY_TASK,
    op_retry_policy=OP_RETRY_POLICY,
)


def history_backfill_job(settings: Settings):  # what dg.define_asset_job returns
    """The daily batch's assets for history loads, in tasks sized to the memory budget."""
    return dg.define_asset_job(
        name="history_backfill_job",
        selection=DAILY_SELECTION,
        description=(
            "The daily batch's assets for history loads: backfill a range of sessions from "
            "this job; it runs in pieces sized to the memory budget, each in a task of the "
            "budget plus 2 GiB (ecs/cpu, ecs/memory)."
        ),
        tags=backfill_task(settings.memory_budget_gb),
        op_retry_policy=OP_RETRY_POLICY,
    )


# A job that selects only checks gets no partitions from its assets in Dagster 1.13 (and
# define_asset_job's partitions_def is deprecated and ignored for it); a PartitionedConfig
# with no run config is the supported way to give it the trading-day partitions.
quality_job = dg.define_asset_job(
    name="quality_job",
    # Not the stream run's own rejects check: it judges what that run parsed, not a table.
    selection=dg.AssetSelection.all_asset_checks() - dg.AssetSelection.checks(REJECTS_CHECK.key),
    config=dg.PartitionedConfig(
        partitions_def=TRADING_DAYS, run_config_for_partition_key_fn=lambda _: {}
    ),
    description=(
        "Run every asset check on the stored tables for a trading day, or a range of them in "
        "one run (range tags), without materializing anything."
    ),
    tags=QUALITY_TASK,
    op_retry_policy=OP_RETRY_POLICY,
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


@dg.job(
    description="Write one micro-batch of latest quotes into landing/quotes/.",
    tags=PRODUCER_TASK,
    op_retry_policy=OP_RETRY_POLICY,
)
def produce_quotes_job():
    produce_quotes()


def producer_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """The producer's schedule: its cron and its status until someone changes it in the UI
    come from `settings` (STOCK_ASSETS_PRODUCER_CRON, STOCK_ASSETS_PRODUCER_SCHEDULE)."""

    @dg.schedule(
        job=produce_quotes_job,
        cron_schedule=settings.producer_cron,
        execution_timezone=calendar.MARKET_TIMEZONE,
        # Off unless STOCK_ASSETS_PRODUCER_SCHEDULE=running (the ECS template's ProducerSchedule).
        default_status=dg.DefaultScheduleStatus.RUNNING
        if settings.producer_running
        else dg.DefaultScheduleStatus.STOPPED,
        description="Every minute while the NYSE is open (turn on for a live intraday stream).",
    )
    def market_hours_producer_schedule(context: dg.ScheduleEvaluationContext):
        return produce_in_session(context)

    return market_hours_producer_schedule


def produce_in_session(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Produce a micro-batch only inside the session (holidays and early closes included)."""
    at = context.scheduled_execution_time.astimezone(dt.UTC)
    reason = market_is_open(at)
    if reason:
        return dg.SkipReason(reason)
    return dg.RunRequest(
        run_key=at.isoformat(),
        run_config=dg.RunConfig(ops={"produce_quotes": ProducerConfig(as_of=at.isoformat())}),
    )


class LakeMaintenanceConfig(dg.Config):
    retention_hours: int = Field(
        default=0,
        description="Keep snapshots this long (longer than any query); 0: "
        "STOCK_ASSETS_SNAPSHOT_RETENTION_HOURS",
    )
    min_files: int = Field(
        default=DEFAULT_MIN_FILES, description="Compact a partition holding this many files"
    )


@dg.op(
    required_resource_keys={"io_manager"},
    description="Compact small files and expire old snapshots of every Iceberg table.",
)
def maintain_lake(context: dg.OpExecutionContext, config: LakeMaintenanceConfig) -> None:
    manager = context.resources.io_manager
    if not isinstance(manager, IcebergIOManager):
        context.log.info("the warehouse is not an Iceberg lake (local DuckDB): nothing to do")
        return
    hours = config.retention_hours or Settings.from_env().snapshot_retention_hours
    for done in maintain(manager, sorted(TABLES), dt.timedelta(hours=hours), config.min_files):
        context.log.info(
            f"{done.table}: {done.partitions_compacted} partitions compacted, "
            f"{done.snapshots_expired} snapshots expired, {done.files_deleted} files deleted"
        )


@dg.job(
    description="Upkeep of the AWS-mode Iceberg tables (compaction, snapshot expiry).",
    tags=MAINTENANCE_TASK,
    op_retry_policy=OP_RETRY_POLICY,
)
def lake_maintenance_job():
    maintain_lake()


@dg.schedule(
    job=lake_maintenance_job,
    cron_schedule="0 4 * * *",
    execution_timezone=calendar.MARKET_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly at 04:00 New York, far from the session and the daily batch.",
)
def lake_maintenance_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())
