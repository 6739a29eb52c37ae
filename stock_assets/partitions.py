"""Trading-day partitions: weekdays in New York, minus NYSE holidays (exchange_calendars)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import dagster as dg

from stock_assets.market import calendar
from stock_assets.settings import Settings


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


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The trading days a (possibly multi-partition) run covers."""
    return [dt.date.fromisoformat(key) for key in context.partition_keys]
