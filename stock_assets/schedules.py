"""Jobs, the schedules that run them, and the freshness the schedules promise."""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from stock_assets.io_managers.iceberg import IcebergIOManager
from stock_assets.io_managers.iceberg_maintenance import DEFAULT_MIN_FILES, maintain
from stock_assets.market import calendar
from stock_assets.market.producer import market_is_open, produce_micro_batch
from stock_assets.market.schemas import BATCH_TABLES, LATEST_SNAPSHOT, STREAM_HISTORY, TABLES
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.lake import LakeResource
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.settings import Settings

# The daily batch (after_close_schedule, 18:30) lands between the 16:00 close and 20:00.
# Cron freshness has no exchange calendar: on an NYSE holiday the asset shows FAIL from
# 20:00 until the next session's run.
DAILY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 20 * * 1-5",
    lower_bound_delta=dt.timedelta(hours=4),
    timezone=calendar.MARKET_TIMEZONE,
)
# During the session the stream moves at least every 5 minutes (ticks 10:00-15:55 New York);
# overnight and at weekends the last tick of the session is judged, so a quiet night is fine.
INTRADAY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="*/5 10-15 * * 1-5",
    lower_bound_delta=dt.timedelta(minutes=5),
    timezone=calendar.MARKET_TIMEZONE,
)
FRESHNESS_POLICIES: dict[dg.AssetKey, dg.FreshnessPolicy] = {
    **{dg.AssetKey([t.layer, t.name]): DAILY_FRESHNESS for t in BATCH_TABLES},
    dg.AssetKey([STREAM_HISTORY.layer, STREAM_HISTORY.name]): INTRADAY_FRESHNESS,
    dg.AssetKey([LATEST_SNAPSHOT.layer, LATEST_SNAPSHOT.name]): INTRADAY_FRESHNESS,
}


def with_freshness_policies(
    assets: Sequence[dg.AssetsDefinition],
) -> Sequence[dg.AssetsDefinition]:
    """The assets with their freshness policy set, so asset modules stay free of it."""

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        policy = FRESHNESS_POLICIES.get(spec.key)
        return spec.replace_attributes(freshness_policy=policy) if policy else spec

    return dg.map_asset_specs(apply, assets)


daily_market_job = dg.define_asset_job(
    name="daily_market_job",
    selection=dg.AssetSelection.groups("prices", "analytics", "views"),
    description=(
        "The daily batch: pull the watchlist into bronze, clean into silver, then compute "
        "indicators, signals (alerting new ones) and the market summary; refresh the views."
    ),
)


# A job that selects only checks gets no partitions from its assets in Dagster 1.13 (and
# define_asset_job's partitions_def is deprecated and ignored for it); a PartitionedConfig
# with no run config is the supported way to give it the trading-day partitions.
quality_job = dg.define_asset_job(
    name="quality_job",
    selection=dg.AssetSelection.all_asset_checks(),
    config=dg.PartitionedConfig(
        partitions_def=TRADING_DAYS, run_config_for_partition_key_fn=lambda _: {}
    ),
    description=(
        "Run every asset check on the stored tables for a trading day, or a range of them in "
        "one run (range tags), without materializing anything."
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
    cron_schedule=Settings.from_env().producer_cron,
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


@dg.job(description="Upkeep of the AWS-mode Iceberg tables (compaction, snapshot expiry).")
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
