"""Daily batch path: bronze.raw_quotes (as received) -> silver.prices (clean bars)."""

import datetime as dt

import dagster as dg
import pandas as pd

from stock_assets.assets.metadata import (
    OWNERS,
    add_materialization_metadata,
    definition_metadata,
    markdown_table,
)
from stock_assets.io_managers.merge import MergeSpec
from stock_assets.market import bronze, calendar
from stock_assets.market.actions import KEY_COLUMNS, actions_table
from stock_assets.market.cleaning import clean_prices
from stock_assets.market.schemas import (
    CORPORATE_ACTIONS,
    PRICE_REJECTS,
    PRICES,
    RAW_QUOTES,
    TableSchema,
)
from stock_assets.partitions import TRADING_DAYS, partition_days
from stock_assets.resources.lake import LakeResource
from stock_assets.resources.market_data import MarketDataResource

PRICES_KEY = dg.AssetKey(["silver", "prices"])
ACTIONS_KEY = dg.AssetKey(["silver", "corporate_actions"])
# A corrected action (same symbol, ex-date and kind) replaces the stored one; new ones join.
ACTIONS_MERGE = MergeSpec(keys=KEY_COLUMNS, newest_by="ingested_at")
_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
REJECTS_KEY = dg.AssetKey(["silver", "price_rejects"])
WAREHOUSE_POOL = "duckdb_warehouse"  # one writer at a time (DuckDB allows a single writer)
_PARTITIONED = dict(
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)


@dg.asset(
    key=["bronze", "raw_quotes"],
    description=RAW_QUOTES.description,
    metadata=definition_metadata(RAW_QUOTES, partition_expr="trade_date"),
    kinds={"python"},
    group_name="bronze",
    owners=OWNERS,
    **_PARTITIONED,
)
def raw_quotes(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, lake: LakeResource
) -> pd.DataFrame:
    """Pull the watchlist for the run's trading days and keep every record verbatim.

    A session that has not closed has no daily bar yet: the run is refused with the reason.
    """
    days = partition_days(context)
    waiting = calendar.unclosed_sessions_reason(days, calendar.utc_now())
    if waiting:
        raise dg.Failure(description=waiting, allow_retries=False)
    fetched_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    watchlist = market_data.watchlist()
    extraction = market_data.client().fetch(watchlist, days[0], days[-1])
    for symbol, reason in sorted(extraction.symbol_errors.items()):
        context.log.warning(f"{extraction.source}: no data for {symbol}: {reason}")
    grouped = bronze.assign_partitions(extraction.records, days)
    # Listed before this pull's own objects are written: only earlier pulls can be carried.
    # Errors keyed by something other than a watchlist symbol (a bad CSV file name) have
    # nothing to carry.
    failed = {s: r for s, r in extraction.symbol_errors.items() if s in watchlist}
    carried = bronze.carry_forward(failed, grouped, days, fetched_at, lake)
    carried_forward = bronze.carried_days(carried)
    if carried_forward:
        context.log.warning(
            f"kept earlier records of symbols the source failed on: {carried_forward}"
        )
    keys = {
        day: lake.put(
            bronze.batch_object_key(
                RAW_QUOTES.name, day, extraction.source, fetched_at, context.run.run_id
            ),
            bronze.records_body(records),
        )
        for day, records in grouped.items()
    }
    frame = pd.concat(
        [bronze.raw_quote_frame(grouped, keys, extraction, fetched_at), carried],
        ignore_index=True,
    )
    errors = {"symbol_errors": dg.MetadataValue.json(extraction.symbol_errors)}
    add_materialization_metadata(
        context,
        frame,
        RAW_QUOTES,
        {
            "source": extraction.source,
            **errors,
            "carried_forward": dg.MetadataValue.json(carried_forward),
            "lake_objects": len(keys),
        },
        # The pull's errors explain each day's missing symbols (checks read them per day).
        every_day=errors,
    )
    return frame


def _silver_out(key: dg.AssetKey, contract: TableSchema) -> dg.AssetOut:
    return dg.AssetOut(
        key=key,
        description=contract.description,
        metadata=definition_metadata(contract, partition_expr="trade_date"),
        kinds={"pandas"},
        owners=OWNERS,
    )


@dg.multi_asset(
    outs={
        "prices": _silver_out(PRICES_KEY, PRICES),
        "price_rejects": _silver_out(REJECTS_KEY, PRICE_REJECTS),
    },
    ins={"raw_quotes": dg.AssetIn(key=["bronze", "raw_quotes"])},
    group_name="silver",
    **_PARTITIONED,
)
def prices(context: dg.AssetExecutionContext, raw_quotes: pd.DataFrame):
    """Type, validate and deduplicate bronze records; rejected records keep their reason."""
    result = clean_prices(raw_quotes, ingested_at=dt.datetime.now(dt.UTC))
    if not result.rejects.empty:
        context.log.warning(
            f"rejected {len(result.rejects)} of {len(raw_quotes)} records; "
            f"first: {result.rejects.reason.iloc[0]}"
        )
    add_materialization_metadata(
        context,
        result.prices,
        PRICES,
        {"rejected_records": len(result.rejects), "superseded_records": result.superseded},
        asset_key=PRICES_KEY,
    )
    yield dg.Output(result.prices, output_name="prices")
    add_materialization_metadata(context, result.rejects, PRICE_REJECTS, asset_key=REJECTS_KEY)
    yield dg.Output(result.rejects, output_name="price_rejects")


def run_range(tags: dict[str, str]) -> tuple[dt.date, dt.date]:
    """The trading days of the run an unpartitioned asset runs in (its partition or range
    tags); alone, every day from the first partition to the last closed session."""
    start, end = (tags.get(name) for name in _RANGE_TAGS)
    start, end = start or tags.get("dagster/partition"), end or tags.get("dagster/partition")
    if start and end:
        return dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return TRADING_DAYS.start.date(), calendar.last_closed_session(calendar.utc_now())


@dg.asset(
    key=ACTIONS_KEY,
    description=CORPORATE_ACTIONS.description,
    metadata={**definition_metadata(CORPORATE_ACTIONS), **ACTIONS_MERGE.metadata()},
    kinds={"pandas"},
    group_name="silver",
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
)
def corporate_actions(
    context: dg.AssetExecutionContext, market_data: MarketDataResource
) -> pd.DataFrame:
    """The source's splits and dividends with ex-dates in the run's days, merged into the
    table (unpartitioned and small; a late or corrected action lands like any late data)."""
    start, end = run_range(context.run.tags)
    found = market_data.client().corporate_actions(market_data.watchlist(), start, end)
    frame = actions_table(found, market_data.source, dt.datetime.now(dt.UTC))
    add_materialization_metadata(
        context,
        frame,
        CORPORATE_ACTIONS,
        {
            "ex_date_range": f"{start} .. {end}",
            "actions_found": dg.MetadataValue.md(
                markdown_table(frame[["symbol", "ex_date", "action", "ratio", "amount"]])
                if len(frame)
                else "(none)"
            ),
        },
    )
    return frame
