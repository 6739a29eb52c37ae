"""Plotly figures of the dashboard: pure functions of the frames the queries return."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from stock_assets.market import calendar

# Marker and colour of each signal on the price chart (unknown signals get the default).
SIGNAL_MARKERS = {
    "BUY": ("triangle-up", "#2ca02c"),
    "SELL": ("triangle-down", "#d62728"),
    "ANOMALY": ("circle-open", "#ff7f0e"),
    "VOLUME_SPIKE": ("square", "#9467bd"),
    "BB_BREAKOUT": ("diamond", "#8c564b"),
}
DEFAULT_MARKER = ("x", "#7f7f7f")
OVERLAYS = (
    ("sma_5", "SMA 5", "#1f77b4", "solid"),
    ("sma_20", "SMA 20", "#ff7f0e", "solid"),
    ("sma_50", "SMA 50", "#9467bd", "solid"),
    ("avg_7d", "7-day avg", "#17becf", "dot"),
    ("avg_30d", "30-day avg", "#bcbd22", "dot"),
)
PANELS = ("Price", "Volume", "MACD", "RSI")


def _trading_axis(days: pd.Series) -> list[dict]:
    """Range breaks that hide weekends and NYSE holidays, so sessions sit side by side."""
    if days.empty:
        return []
    first, last = pd.Timestamp(days.min()).date(), pd.Timestamp(days.max()).date()
    holidays = [day.isoformat() for day in calendar.holidays_between(first, last)]
    return [dict(bounds=["sat", "mon"]), dict(values=holidays)]


def symbol_figure(symbol: str, history: pd.DataFrame, signals: pd.DataFrame) -> go.Figure:
    """Candles with SMAs, averages, Bollinger bands and signals; volume, MACD and RSI below."""
    x = pd.to_datetime(history["trade_date"])
    fig = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.55, 0.15, 0.15, 0.15],
        subplot_titles=PANELS,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=history["bb_upper"],
            name="Bollinger upper",
            line=dict(width=0.8, color="#aaaaaa"),
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=history["bb_lower"],
            name="Bollinger lower",
            line=dict(width=0.8, color="#aaaaaa"),
            fill="tonexty",
            fillcolor="rgba(160,160,160,0.12)",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Candlestick(
            x=x,
            open=history["open"],
            high=history["high"],
            low=history["low"],
            close=history["close"],
            name=symbol,
        ),
        row=1,
        col=1,
    )
    for column, label, colour, dash in OVERLAYS:
        fig.add_trace(
            go.Scatter(
                x=x, y=history[column], name=label, line=dict(width=1.2, color=colour, dash=dash)
            ),
            row=1,
            col=1,
        )
    _add_signals(fig, history, signals)
    fig.add_trace(
        go.Bar(x=x, y=history["volume"], name="Volume", marker_color="#7f9fbf"), row=2, col=1
    )
    fig.add_trace(
        go.Bar(x=x, y=history["macd_hist"], name="MACD hist", marker_color="#bbbbbb"), row=3, col=1
    )
    fig.add_trace(
        go.Scatter(x=x, y=history["macd"], name="MACD", line=dict(color="#1f77b4")), row=3, col=1
    )
    fig.add_trace(
        go.Scatter(x=x, y=history["macd_signal"], name="MACD signal", line=dict(color="#ff7f0e")),
        row=3,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=x, y=history["rsi_14"], name="RSI 14", line=dict(color="#9467bd")),
        row=4,
        col=1,
    )
    for level in (30, 70):
        fig.add_hline(y=level, line=dict(width=0.8, dash="dash", color="#999999"), row=4, col=1)
    fig.update_yaxes(range=[0, 100], row=4, col=1)
    fig.update_xaxes(rangebreaks=_trading_axis(history["trade_date"]), rangeslider_visible=False)
    fig.update_layout(
        title=f"{symbol}: daily bars and indicators",
        title_y=0.99,
        height=900,
        margin=dict(l=40, r=20, t=60, b=30),
        hovermode="x unified",
    )
    return fig


def _add_signals(fig: go.Figure, history: pd.DataFrame, signals: pd.DataFrame) -> None:
    """One marker trace per signal kind, at the day's close."""
    if signals.empty:
        return
    closes = history.assign(trade_date=pd.to_datetime(history["trade_date"]))
    marked = signals.assign(trade_date=pd.to_datetime(signals["trade_date"])).merge(
        closes[["trade_date", "close"]], on="trade_date"
    )
    for kind, rows in marked.groupby("signal", sort=True):
        shape, colour = SIGNAL_MARKERS.get(str(kind), DEFAULT_MARKER)
        fig.add_trace(
            go.Scatter(
                x=rows["trade_date"],
                y=rows["close"],
                mode="markers",
                name=str(kind),
                marker=dict(
                    symbol=shape, size=11, color=colour, line=dict(width=1, color="#333333")
                ),
                text=rows["reason"],
                hovertemplate="%{text}<extra>" + str(kind) + "</extra>",
            ),
            row=1,
            col=1,
        )


HEATMAP_VALUES = {
    "pct_change": ("Daily change %", "RdYlGn", 0.0),
    "volatility_20": ("Volatility (20 sessions, annualized)", "Viridis", None),
}


def minute_figure(symbol: str, bars: pd.DataFrame) -> go.Figure:
    """One session's one-minute candles with the running session VWAP, and volume below,
    in New York time."""
    x = (
        pd.to_datetime(bars["bar_start"])
        .dt.tz_localize("UTC")
        .dt.tz_convert(calendar.MARKET_TIMEZONE)
    )
    volume = bars["volume"].astype("float64")
    typical = bars["vwap"].fillna(bars["close"]).astype("float64")
    session_vwap = (typical * volume).cumsum() / volume.cumsum().where(volume.cumsum() > 0)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.75, 0.25]
    )
    fig.add_trace(
        go.Candlestick(
            x=x,
            open=bars["open"],
            high=bars["high"],
            low=bars["low"],
            close=bars["close"],
            name=symbol,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=x, y=session_vwap, name="VWAP", line=dict(color="#9467bd", width=1.2)),
        row=1,
        col=1,
    )
    fig.add_trace(go.Bar(x=x, y=volume, name="Volume", marker_color="#7f9fbf"), row=2, col=1)
    fig.update_layout(height=520, xaxis_rangeslider_visible=False, margin=dict(t=30, b=20))
    return fig


def heatmap_figure(grid: pd.DataFrame, value: str) -> go.Figure:
    """Symbols x trading days coloured by `value` (a key of HEATMAP_VALUES)."""
    title, scale, middle = HEATMAP_VALUES[value]
    table = grid.pivot(index="symbol", columns="trade_date", values=value).sort_index()
    days = [pd.Timestamp(day).strftime("%Y-%m-%d") for day in table.columns]
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=days,
            y=table.index.tolist(),
            colorscale=scale,
            zmid=middle,
            colorbar=dict(title=""),
            hovertemplate="%{y} %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=max(300, 26 * len(table) + 120),
        margin=dict(l=60, r=20, t=50, b=40),
        xaxis=dict(type="category"),
    )
    return fig


def moves_figure(moves: pd.DataFrame) -> go.Figure:
    """Every symbol's change on the day as a bar, gainers green and losers red."""
    ordered = moves.sort_values("pct_change")
    colours = ["#2ca02c" if v > 0 else "#d62728" for v in ordered["pct_change"]]
    fig = go.Figure(
        go.Bar(
            x=ordered["pct_change"],
            y=ordered["symbol"],
            orientation="h",
            marker_color=colours,
            hovertemplate="%{y}: %{x:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(
        title="Change on the day, %",
        height=max(300, 22 * len(ordered) + 100),
        margin=dict(l=60, r=20, t=50, b=40),
    )
    return fig
