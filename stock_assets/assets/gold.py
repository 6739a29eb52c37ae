"""Gold layer: indicators, signals (with alerts) and the daily market summary."""

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
from stock_assets.market import calendar, lookback
from stock_assets.market.adjust import back_adjusted
from stock_assets.market.charts import indicator_chart
from stock_assets.market.indicators import compute_indicators, indicators_for_days
from stock_assets.market.schemas import INDICATORS, MARKET_SUMMARY, SIGNALS, conform
from stock_assets.market.signals import SignalThresholds, detect_signals
from stock_assets.market.summary import summarize_market
from stock_assets.partitions import TRADING_DAYS, partition_days
from stock_assets.resources.alerts import AlertSink
from stock_assets.resources.lake import LakeResource
from stock_assets.resources.market_data import MarketDataResource

# Signals look back at most this many sessions (crossings: 1, volume average: its window).
SIGNAL_LOOKBACK_SESSIONS = 60

_GOLD = dict(
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    group_name="gold",
    kinds={"pandas"},
    owners=OWNERS,
)


def _earlier_partitions(sessions: int) -> dg.TimeWindowPartitionMapping:
    """This partition and `sessions` earlier ones (holidays are not partitions)."""
    return dg.TimeWindowPartitionMapping(
        start_offset=-sessions, allow_nonexistent_upstream_partitions=True
    )


class IndicatorConfig(dg.Config):
    chart_symbols: list[str] = Field(
        default_factory=list, description="Symbols charted in the metadata; empty: first three"
    )
    chart_sessions: int = Field(default=120, description="Sessions shown in each chart")


class SignalConfig(dg.Config):
    anomaly_pct: float = Field(default=5.0, description="|daily % change| that is an ANOMALY")
    volume_spike_ratio: float = Field(default=2.0, description="volume / average that spikes")
    volume_window: int = Field(default=20, description="sessions in the volume average")

    def thresholds(self) -> SignalThresholds:
        if not 1 <= self.volume_window < SIGNAL_LOOKBACK_SESSIONS:
            raise dg.Failure(f"volume_window must be within 1..{SIGNAL_LOOKBACK_SESSIONS - 1}")
        return SignalThresholds(
            anomaly_pct=self.anomaly_pct,
            volume_spike_ratio=self.volume_spike_ratio,
            volume_window=self.volume_window,
        )


def _chart_metadata(
    prices: pd.DataFrame, symbols: list[str], last_day: dt.date, sessions: int
) -> dict[str, dg.MetadataValue]:
    """Indicator charts of back-adjusted `prices` (no split cliff in a chart)."""
    charts = {}
    for symbol in symbols:
        history = prices[(prices.symbol == symbol) & (prices.trade_date <= last_day)]
        if history.empty:
            continue
        shown = compute_indicators(history[history.trade_date >= lookback.window_start(last_day)])
        shown = shown.sort_values("trade_date").tail(sessions)
        signals = detect_signals(shown, SignalThresholds())
        png = base64.b64encode(indicator_chart(symbol, shown, signals)).decode()
        charts[f"chart_{symbol}"] = dg.MetadataValue.md(
            f"![{symbol} indicators](data:image/png;base64,{png})"
        )
    return charts


@dg.asset(
    key=["gold", "indicators"],
    description=INDICATORS.description,
    metadata=definition_metadata(INDICATORS, partition_expr="trade_date"),
    ins={
        "prices": dg.AssetIn(
            key=["silver", "prices"],
            partition_mapping=_earlier_partitions(lookback.MAX_LOOKBACK_SESSIONS),
            # Up to 749 earlier sessions per day: only what the indicators compute from
            # (market.budget counts these bytes per symbol-session).
            metadata={"columns": ["symbol", "trade_date", "close", "volume"]},
        ),
        "corporate_actions": dg.AssetIn(key=["silver", "corporate_actions"]),
    },
    **_GOLD,
)
def indicators(
    context: dg.AssetExecutionContext,
    config: IndicatorConfig,
    market_data: MarketDataResource,
    prices: pd.DataFrame,
    corporate_actions: pd.DataFrame,
) -> pd.DataFrame:
    """TA-Lib-exact indicators for the run's days from an anchored window of silver history,
    adjusted to each day's share basis (market.adjust: point in time)."""
    days = partition_days(context)
    frame = indicators_for_days(prices, days, corporate_actions)
    chart_symbols = config.chart_symbols or list(market_data.watchlist()[:3])
    add_materialization_metadata(
        context,
        frame,
        INDICATORS,
        {
            "history_sessions_loaded": int(prices.trade_date.nunique()) if len(prices) else 0,
            **_chart_metadata(
                back_adjusted(prices[prices.symbol.isin(chart_symbols)], corporate_actions),
                chart_symbols,
                days[-1],
                config.chart_sessions,
            ),
        },
    )
    return frame


@dg.asset(
    key=["gold", "signals"],
    description=SIGNALS.description,
    metadata=definition_metadata(SIGNALS, partition_expr="trade_date"),
    ins={
        "indicators": dg.AssetIn(
            key=["gold", "indicators"],
            partition_mapping=_earlier_partitions(SIGNAL_LOOKBACK_SESSIONS),
        ),
        "corporate_actions": dg.AssetIn(key=["silver", "corporate_actions"]),
    },
    **_GOLD,
)
def signals(
    context: dg.AssetExecutionContext,
    config: SignalConfig,
    indicators: pd.DataFrame,
    corporate_actions: pd.DataFrame,
    alerts: AlertSink,
    lake: LakeResource,
) -> pd.DataFrame:
    """Detect signals on the run's days (volume baselines on each day's share basis);
    alert the new, recent ones of closed sessions."""
    days = set(partition_days(context))
    found = detect_signals(indicators, config.thresholds(), corporate_actions)
    frame = conform(found[found.trade_date.isin(days)], SIGNALS)
    now = calendar.utc_now()
    has_closed = frame.trade_date.map(lambda day: calendar.session_has_closed(day, now))
    closed = frame[has_closed.astype(bool)]
    delivery = alerts.deliver(closed, lake, context.log, today=now.date())
    add_materialization_metadata(
        context,
        frame,
        SIGNALS,
        {
            "by_signal": dg.MetadataValue.json(frame.signal.value_counts().to_dict()),
            "alerts_sent": delivery.sent,
            "alerts_already_sent": delivery.already_sent,
            "alerts_skipped_as_old": delivery.too_old,
            "alerts_pending_retry": len(delivery.failed),
        },
    )
    return frame


@dg.asset(
    key=["gold", "market_summary"],
    description=MARKET_SUMMARY.description,
    metadata=definition_metadata(MARKET_SUMMARY, partition_expr="trade_date"),
    ins={
        "indicators": dg.AssetIn(key=["gold", "indicators"]),
        "signals": dg.AssetIn(key=["gold", "signals"]),
    },
    **_GOLD,
)
def market_summary(
    context: dg.AssetExecutionContext, indicators: pd.DataFrame, signals: pd.DataFrame
) -> pd.DataFrame:
    """Per trading day: breadth, top movers, anomalies and signal counts."""
    frame = conform(summarize_market(indicators, signals), MARKET_SUMMARY)
    add_materialization_metadata(context, frame, MARKET_SUMMARY)
    return frame
