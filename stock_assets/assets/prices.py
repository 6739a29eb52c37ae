"""Daily batch path: bronze.raw_quotes (as received) -> silver.prices (clean bars)."""

import datetime as dt

import dagster as dg
import pandas as pd

from stock_assets.assets.metadata import (
    OWNERS,
    add_materialization_metadata,
    definition_metadata,
)
from stock_assets.market import bronze, calendar
from stock_assets.market.cleaning import clean_prices
from stock_assets.market.schemas import PRICE_REJECTS, PRICES, RAW_QUOTES, TableSchema
from stock_assets.partitions import TRADING_DAYS, partition_days
from stock_assets.resources.lake import LakeResource
from stock_assets.resources.market_data import MarketDataResource

PRICES_KEY = dg.AssetKey(["silver", "prices"])
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
