"""Intraday assets: one-minute bars from the stream and from vendors, and daily figures.

`silver/intraday_bars` runs in two jobs. In an arrivals run (stream_ingest_job, whose
`stream_assets` config names the run's landing objects) it rewrites exactly the bars the
run's landing objects touch, computed from the stored quotes of those
symbols' sessions. In the daily job it rebuilds the stream bars of the run's days and adds
the source's own minute bars for the last closed sessions, which replace the stream's bars
of that day and symbol. Both are merge writes (io_managers.merge): keys (symbol,
bar_start), the newest write wins, and stream rows yield to vendor rows per symbol and day.
"""

import base64
import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field

from stock_assets.assets.metadata import (
    OWNERS,
    add_materialization_metadata,
    definition_metadata,
)
from stock_assets.assets.prices import WAREHOUSE_POOL
from stock_assets.assets.stream import HISTORY_KEY, stream_assets
from stock_assets.io_managers.merge import MergeSpec, drop_fallback_rows
from stock_assets.market import calendar, intraday
from stock_assets.market.charts import intraday_chart
from stock_assets.market.schemas import DAILY_KPIS, INTRADAY_BARS, conform
from stock_assets.market.sources.base import SourceError
from stock_assets.partitions import TRADING_DAYS, partition_days
from stock_assets.resources.market_data import MarketDataResource

INTRADAY_BARS_KEY = dg.AssetKey(["silver", "intraday_bars"])
DAILY_KPIS_KEY = dg.AssetKey(["gold", "daily_kpis"])
STREAM_SOURCE = "stream"
BACKFILL_TAG = "dagster/backfill"  # set by Dagster on the runs of a backfill
BARS_MERGE = MergeSpec(
    keys=("symbol", "bar_start"),
    newest_by="ingested_at",
    scope=("symbol", "trade_date"),
    fallback=("source", STREAM_SOURCE),
)
_INTRADAY = dict(
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    kinds={"pandas"},
    owners=OWNERS,
)


class IntradayBarsConfig(dg.Config):
    vendor_sessions: int = Field(
        default=1,
        description="Outside arrivals runs: closed sessions at the end of the run that get "
        "the source's own minute bars (0: none; a vendor call per symbol and session)",
    )
    chart_symbols: list[str] = Field(
        default_factory=list, description="Symbols charted in the metadata; empty: first three"
    )


def _vendor_pull(
    context: dg.AssetExecutionContext,
    market_data: MarketDataResource,
    days: list[dt.date],
    now: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """The source's minute bars for the closed sessions among `days`, and its failures
    (a failed pull under "*", each unusable bar under its symbol and bar start)."""
    closed = [d for d in days if calendar.market_close_utc(d) <= now]
    frames, errors = [], {}
    source, symbols = market_data.client(), market_data.watchlist()
    for day in closed:
        try:
            pull = source.intraday_bars(symbols, day)
        except SourceError as exc:
            context.log.warning(f"{day}: no vendor minute bars: {exc}")
            errors[day.isoformat()] = {"*": str(exc)}
            continue
        good, rejected = intraday.split_invalid_bars(intraday.vendor_bars(pull.bars, pull.source))
        frames.append(good)
        problems = dict(pull.symbol_errors)
        for row in rejected.itertuples(index=False):
            problems[f"{row.symbol} {row.bar_start:%H:%M} UTC"] = f"bar rejected: {row.reason}"
        if problems:
            context.log.warning(f"{day}: vendor minute bars with problems: {problems}")
            errors[day.isoformat()] = problems
    bars = pd.concat(frames, ignore_index=True) if frames else intraday.empty_bars()
    return bars, errors


def _vendor_days(
    context: dg.AssetExecutionContext, days: list[dt.date], sessions: int, now: pd.Timestamp
) -> list[dt.date]:
    """The run's last `sessions` days; in a run of a backfill (the UI's, cut into runs of
    the memory budget's size) only those among the latest `sessions` closed sessions, so
    each run's last session does not get minute bars a single run would not pull."""
    recent = days[-sessions:]
    if BACKFILL_TAG not in context.run.tags:
        return recent
    latest = calendar.session_ordinal(calendar.last_closed_session(now))
    return [day for day in recent if latest - calendar.session_ordinal(day) < sessions]


def landing_objects(context: dg.AssetExecutionContext) -> list[str] | None:
    """The landing objects of an arrivals run (the stream step's config); None otherwise."""
    step = context.run.run_config.get("ops", {}).get(stream_assets.op.name, {})
    keys = step.get("config", {}).get("object_keys")
    return list(keys) if keys is not None else None


def _stream_update(history: pd.DataFrame, object_keys: list[str]) -> pd.DataFrame:
    """The bars the run's objects change, from the stored quotes of their symbol-days."""
    new = history[history["object_key"].isin(object_keys)]
    if new.empty:
        return intraday.empty_bars()
    scopes = pd.MultiIndex.from_frame(new[["symbol", "trade_date"]].drop_duplicates())
    touched = pd.MultiIndex.from_frame(history[["symbol", "trade_date"]]).isin(scopes)
    return intraday.bars_to_rewrite(history[touched], new)


def _chart_metadata(bars: pd.DataFrame, symbols: list[str]) -> dict[str, dg.MetadataValue]:
    """The latest session of each symbol as minute candles with volume and VWAP."""
    charts = {}
    for symbol in symbols:
        own = bars[bars["symbol"] == symbol]
        if own.empty:
            continue
        session = own[own["trade_date"] == own["trade_date"].max()]
        png = base64.b64encode(intraday_chart(symbol, session)).decode()
        charts[f"chart_{symbol}"] = dg.MetadataValue.md(
            f"![{symbol} intraday](data:image/png;base64,{png})"
        )
    return charts


@dg.asset(
    key=INTRADAY_BARS_KEY,
    description=INTRADAY_BARS.description,
    metadata={
        **definition_metadata(INTRADAY_BARS, partition_expr="trade_date"),
        **BARS_MERGE.metadata(),
    },
    ins={"history": dg.AssetIn(HISTORY_KEY)},
    group_name="silver",
    **_INTRADAY,
)
def intraday_bars(
    context: dg.AssetExecutionContext,
    config: IntradayBarsConfig,
    history: pd.DataFrame,
    market_data: MarketDataResource,
) -> pd.DataFrame:
    """Stream bars for the minutes the run touched (or its whole days), plus vendor bars."""
    now = pd.Timestamp.now(tz="UTC")
    days = partition_days(context)
    vendor_errors: dict[str, dict[str, str]] = {}
    charts = {}
    objects = landing_objects(context)
    if objects is not None:
        bars = _stream_update(history, objects)
    else:
        vendor = intraday.empty_bars()
        if config.vendor_sessions > 0:
            recent = _vendor_days(context, days, config.vendor_sessions, now)
            vendor, vendor_errors = _vendor_pull(context, market_data, recent, now)
        bars = pd.concat([intraday.bars_from_quotes(history), vendor], ignore_index=True)
        # The merge drops these too; dropped here, the counts and charts are what is stored.
        _, bars = drop_fallback_rows(bars.iloc[:0], bars, BARS_MERGE)
        # Charts in the daily run only: an arrival run rewrites a few minutes.
        charts = _chart_metadata(bars, config.chart_symbols or list(market_data.watchlist()[:3]))
    bars = conform(bars.assign(ingested_at=now.tz_localize(None)), INTRADAY_BARS)
    add_materialization_metadata(
        context,
        bars,
        INTRADAY_BARS,
        {
            "objects": len(objects or []),
            "bars_by_source": dg.MetadataValue.json(bars["source"].value_counts().to_dict()),
            "vendor_errors": dg.MetadataValue.json(vendor_errors),
            **charts,
        },
    )
    return bars


@dg.asset(
    key=DAILY_KPIS_KEY,
    description=DAILY_KPIS.description,
    metadata=definition_metadata(DAILY_KPIS, partition_expr="trade_date"),
    ins={
        "bars": dg.AssetIn(
            INTRADAY_BARS_KEY,
            # The previous session's last close gives prev_close.
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-1, allow_nonexistent_upstream_partitions=True
            ),
        )
    },
    group_name="gold",
    **_INTRADAY,
)
def daily_kpis(context: dg.AssetExecutionContext, bars: pd.DataFrame) -> pd.DataFrame:
    """Session VWAP, volume, range, changes, realized volatility and completeness per day."""
    frame = conform(intraday.daily_kpis(bars, partition_days(context)), DAILY_KPIS)
    add_materialization_metadata(context, frame, DAILY_KPIS)
    return frame
