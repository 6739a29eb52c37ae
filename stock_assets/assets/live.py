"""Live signals on the stream: gold/live_signals, evaluated by every arrivals run, and
gold/minute_volume_profile, the usual volume per minute its VOLUME_SURGE compares with.

Each arrivals run re-evaluates the whole trading day of its quotes (market/live_signals.py),
so the day's signals depend only on which quotes arrived, and replaces the day's rows. A
signal already stored keeps its `detected_at`; one seen for the first time is alerted
through the alert sink's ledger (at least once, quiet once delivered).
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from stock_assets.assets.intraday import INTRADAY_BARS_KEY
from stock_assets.assets.metadata import OWNERS, add_materialization_metadata, definition_metadata
from stock_assets.assets.prices import PRICES_KEY, WAREHOUSE_POOL
from stock_assets.assets.stream import HISTORY_KEY
from stock_assets.market import calendar, live_signals
from stock_assets.market.schemas import (
    LIVE_SIGNALS,
    MINUTE_VOLUME_PROFILE,
    TableSchema,
    conform,
)
from stock_assets.partitions import TRADING_DAYS, partition_days

LIVE_SIGNALS_KEY = dg.AssetKey(["gold", "live_signals"])
PROFILE_KEY = dg.AssetKey(["gold", "minute_volume_profile"])
BASELINE_SESSIONS = 20
_PREVIOUS_SESSION = dg.TimeWindowPartitionMapping(
    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
)
# What the evaluation reads of the day's quotes and bars (market/live_signals.py): the
# text columns it never looks at (name, source, object key) cost most of loading 10^5 rows.
_QUOTE_COLUMNS = ["symbol", "trade_date", "ts", "price", "volume", "change", "ingested_at"]
_BAR_COLUMNS = ["symbol", "trade_date", "bar_start", "close", "volume"]
_COMMON = dict(
    partitions_def=TRADING_DAYS,
    pool=WAREHOUSE_POOL,
    kinds={"pandas"},
    owners=OWNERS,
)


@dg.asset(
    key=PROFILE_KEY,
    description=MINUTE_VOLUME_PROFILE.description,
    metadata=definition_metadata(MINUTE_VOLUME_PROFILE, partition_expr="trade_date"),
    ins={
        "bars": dg.AssetIn(
            INTRADAY_BARS_KEY,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(BASELINE_SESSIONS - 1), allow_nonexistent_upstream_partitions=True
            ),
        )
    },
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="gold",
    **_COMMON,
)
def minute_volume_profile(context: dg.AssetExecutionContext, bars: pd.DataFrame) -> pd.DataFrame:
    """Per day of the run: each symbol's mean volume per minute over its last 20 sessions."""
    bars = live_signals.with_dates(bars)
    frames = [
        live_signals.minute_volume_baseline(bars[bars.trade_date <= day], BASELINE_SESSIONS).assign(
            trade_date=day
        )
        for day in partition_days(context)
    ]
    frame = _concat(frames, MINUTE_VOLUME_PROFILE)
    add_materialization_metadata(context, frame, MINUTE_VOLUME_PROFILE)
    return frame


def _concat(frames: list[pd.DataFrame], schema: TableSchema) -> pd.DataFrame:
    """The days' frames as one, in the schema (pandas deprecates concatenating empty frames,
    whose all-NULL columns would decide the dtypes)."""
    filled = [frame for frame in frames if not frame.empty]
    return conform(pd.concat(filled, ignore_index=True), schema) if filled else schema.empty_frame()


class LiveSignalConfig(dg.Config):
    move_pct: float = Field(default=5.0, description="% from the previous close that is a MOVE")
    surge_ratio: float = Field(
        default=3.0, description="A minute's volume over this multiple of its usual is a surge"
    )
    min_baseline_sessions: int = Field(
        default=5, description="Sessions of history a minute's usual volume needs"
    )

    def thresholds(self) -> live_signals.LiveThresholds:
        return live_signals.LiveThresholds(
            move_pct=self.move_pct,
            surge_ratio=self.surge_ratio,
            baseline_sessions=BASELINE_SESSIONS,
            min_baseline_sessions=self.min_baseline_sessions,
        )


@dg.asset(
    key=LIVE_SIGNALS_KEY,
    description=LIVE_SIGNALS.description,
    metadata=definition_metadata(LIVE_SIGNALS, partition_expr="trade_date"),
    ins={
        "history": dg.AssetIn(HISTORY_KEY, metadata={"columns": _QUOTE_COLUMNS}),
        "bars": dg.AssetIn(INTRADAY_BARS_KEY, metadata={"columns": _BAR_COLUMNS}),
        "closes": dg.AssetIn(PRICES_KEY, partition_mapping=_PREVIOUS_SESSION),
        "profile": dg.AssetIn(PROFILE_KEY, partition_mapping=_PREVIOUS_SESSION),
    },
    required_resource_keys={"io_manager", "alerts", "lake", "alert_rules"},
    group_name="stream",
    **_COMMON,
)
def live_signals_asset(
    context: dg.AssetExecutionContext,
    config: LiveSignalConfig,
    history: pd.DataFrame,
    bars: pd.DataFrame,
    closes: pd.DataFrame,
    profile: pd.DataFrame,
) -> pd.DataFrame:
    """The run's days' signals from their stored quotes and bars; the new ones alerted."""
    now = calendar.utc_now()
    rules = context.resources.alert_rules.load()
    for error in rules.errors:
        context.log.error(f"alert rule skipped: {error}")
    days = partition_days(context)
    profile = live_signals.with_dates(profile)
    history, bars = live_signals.with_dates(history), live_signals.with_dates(bars)

    def of_day(frame: pd.DataFrame, day) -> pd.DataFrame:
        # One day's run loads that day's rows only: no need to filter them again.
        return frame if len(days) == 1 else frame[frame.trade_date == day]

    found = _concat(
        [
            live_signals.detect_live_signals(
                of_day(history, day),
                of_day(bars, day),
                closes,
                profile[profile.trade_date == calendar.previous_session(day)],
                rules.rules,
                config.thresholds(),
            )
            for day in days
        ],
        LIVE_SIGNALS,
    )
    stored = context.resources.io_manager.read(LIVE_SIGNALS.qualified_name, days)
    frame, new = live_signals.with_detection_times(stored, found, now)
    delivery = context.resources.alerts.deliver_live(
        new, context.resources.lake, context.log, now=now
    )
    frame = conform(frame, LIVE_SIGNALS)
    add_materialization_metadata(
        context,
        frame,
        LIVE_SIGNALS,
        {
            "new_signals": len(new),
            "by_signal": dg.MetadataValue.json(frame.signal.value_counts().to_dict()),
            "rules": len(rules.rules),
            "rules_version": rules.version or "none",
            "rule_errors": dg.MetadataValue.json([str(e) for e in rules.errors]),
            "alerts_sent": delivery.sent,
            "alerts_already_sent": delivery.already_sent,
            "alerts_skipped_as_old": delivery.too_old,
            "alerts_pending_retry": len(delivery.failed),
        },
    )
    return frame
