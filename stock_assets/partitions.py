"""Trading-day partitions (weekdays in New York, minus NYSE holidays from exchange_calendars)
and the backfill policy that cuts history loads into runs that fit the memory budget."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection, Sequence

import dagster as dg

from stock_assets.market import budget, calendar
from stock_assets.market.watchlist import resolve_symbols
from stock_assets.settings import Settings

# The groups of daily_market_job: their partitioned assets share one backfill policy, so a
# backfill runs each piece's bronze, silver and gold together (Dagster puts assets with
# different policies in different runs).
HISTORY_GROUPS = frozenset({"bronze", "silver", "gold"})


def trading_day_partitions(start: str | None = None) -> dg.TimeWindowPartitionsDefinition:
    """One partition per NYSE session from `start` (STOCK_ASSETS_START_DATE) onwards.

    Holidays are excluded, so they are never partitions and lookback mappings skip them.
    end_offset=1 makes today's session a partition while it is trading, so the after-close
    schedule can target it.
    """
    start = start or Settings.from_env().start_date
    first = dt.date.fromisoformat(start)
    tz = zoneinfo.ZoneInfo(calendar.MARKET_TIMEZONE)
    holidays = calendar.holidays_between(first, calendar.calendar_end())
    return dg.TimeWindowPartitionsDefinition(
        start=start,
        fmt="%Y-%m-%d",
        cron_schedule="0 0 * * 1-5",
        timezone=calendar.MARKET_TIMEZONE,
        end_offset=1,
        exclusions=[dt.datetime(d.year, d.month, d.day, tzinfo=tz) for d in holidays],
    )


TRADING_DAYS = trading_day_partitions()


def partition_span() -> tuple[dt.date, dt.date]:
    """The first and the last trading-day partition (today's session while it trades)."""
    first = dt.date.fromisoformat(TRADING_DAYS.get_first_partition_key())
    last = dt.date.fromisoformat(TRADING_DAYS.get_last_partition_key())
    return first, last


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The trading days a (possibly multi-partition) run covers."""
    return [dt.date.fromisoformat(key) for key in context.partition_keys]


def sessions_per_run(settings: Settings | None = None) -> int:
    """Sessions one history-load run may hold: STOCK_ASSETS_MEMORY_BUDGET_GB over the
    watchlist's symbols (market.budget)."""
    settings = settings or Settings.from_env()
    symbols = len(resolve_symbols(settings.symbols))
    return budget.sessions_per_piece(settings.memory_budget_gb * budget.GIB, symbols)


def with_history_backfill(
    assets: Sequence[dg.AssetsDefinition | object],
    sessions: int,
    groups: Collection[str] = HISTORY_GROUPS,
) -> list[dg.AssetsDefinition | object]:
    """The assets, with the trading-day assets of `groups` backfilled `sessions` partitions
    per run (``BackfillPolicy.multi_run``): a UI backfill, or one launched on ECS, becomes
    one backfill of bounded runs. Other assets (the stream's) keep their policy."""
    policy = dg.BackfillPolicy.multi_run(sessions)

    def bounded(asset: dg.AssetsDefinition | object) -> dg.AssetsDefinition | object:
        if not isinstance(asset, dg.AssetsDefinition) or asset.partitions_def != TRADING_DAYS:
            return asset
        if not set(asset.group_names_by_key.values()) <= set(groups):
            return asset
        return asset.with_attributes(backfill_policy=policy)

    return [bounded(asset) for asset in assets]
