"""gold/latest_snapshot: the newest quote per symbol, moved last in an arrivals run.

Downstream of silver/stream_history and gold/live_signals, so the row a run moves carries
the live signals that same run detected (market.stream.snapshot_table). Its quotes are the
stored quotes of the run's days rather than the run's batch: a run whose snapshot step did
not complete (its live signals failed, say) is made good by the next run of those days.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from stock_assets.assets.live import LIVE_SIGNALS_KEY
from stock_assets.assets.metadata import (
    OWNERS,
    add_materialization_metadata,
    definition_metadata,
)
from stock_assets.assets.prices import WAREHOUSE_POOL
from stock_assets.assets.stream import HISTORY_KEY
from stock_assets.io_managers import TableReader
from stock_assets.io_managers.merge import MergeSpec
from stock_assets.market import calendar, stream
from stock_assets.market.schemas import LATEST_SNAPSHOT, LIVE_SIGNALS, STREAM_HISTORY, conform
from stock_assets.partitions import partition_days

SNAPSHOT_KEY = dg.AssetKey(["gold", "latest_snapshot"])
SNAPSHOT_MERGE = MergeSpec(keys=("symbol",), newest_by="ts")


def run_days(context: dg.AssetExecutionContext, now: dt.datetime) -> list[dt.date]:
    """The trading days of the run; materialized on its own (no partition), the latest
    session up to `now`."""
    if context.has_partition_key or context.has_partition_key_range:
        return partition_days(context)
    today = calendar.trading_day_of(now)
    return calendar.sessions_between(today - dt.timedelta(days=10), today)[-1:]


@dg.asset(
    key=SNAPSHOT_KEY,
    description=LATEST_SNAPSHOT.description,
    metadata={**definition_metadata(LATEST_SNAPSHOT), **SNAPSHOT_MERGE.metadata()},
    deps=[HISTORY_KEY, LIVE_SIGNALS_KEY],
    kinds={"pandas"},
    group_name="stream",
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
)
def latest_snapshot(
    context: dg.AssetExecutionContext, io_manager: dg.ResourceParam[TableReader]
) -> pd.DataFrame:
    """Move each symbol to its newest stored quote of the run's days, with its newest signal.

    The IO manager merges the rows, so an older quote (a late file) never replaces a newer
    price.
    """
    now = calendar.utc_now()
    days = run_days(context, now)
    quotes = io_manager.read(STREAM_HISTORY.qualified_name, days)
    newest = stream.newest_per_symbol(quotes, updated_at=now)
    snapshot = snapshot_table(io_manager, newest, days)
    add_materialization_metadata(context, snapshot, LATEST_SNAPSHOT)
    return snapshot


def snapshot_table(
    warehouse: TableReader, newest: pd.DataFrame, days: list[dt.date]
) -> pd.DataFrame:
    """The whole snapshot table once `newest` is merged in, by symbol, with the newest live
    signal stored for the run's days (market.stream.snapshot_table).

    Written whole, the IO manager's merge leaves it as it is, and the materialization's
    count and preview describe the table people query, not the rows that moved it. The
    stored tables are read through the IO manager's own `read` (an empty contract frame
    before the first write).
    """
    # A table stored before the contract gained columns reads them as NULL.
    stored = warehouse.read(LATEST_SNAPSHOT.qualified_name)
    stored = conform(stored.reindex(columns=LATEST_SNAPSHOT.column_names), LATEST_SNAPSHOT)
    signals = warehouse.read(LIVE_SIGNALS.qualified_name, days)
    return stream.snapshot_table(stored, newest, signals)
