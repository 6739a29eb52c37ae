"""Indicator and intraday charts rendered to PNG, so a person sees them in the Dagster UI."""

from __future__ import annotations

import io

import pandas as pd

_MARKERS = {
    "BUY": ("^", "tab:green"),
    "SELL": ("v", "tab:red"),
    "ANOMALY": ("o", "tab:orange"),
    "VOLUME_SPIKE": ("s", "tab:purple"),
    "BB_BREAKOUT": ("D", "tab:brown"),
}


def indicator_chart(symbol: str, indicators: pd.DataFrame, signals: pd.DataFrame) -> bytes:
    """Close with SMA 5/20/50 and Bollinger bands, a MACD panel, and signals marked."""
    # A bare Figure renders PNG through Agg without pyplot, which would cost every run
    # process (and the stream runs' arrival latency) ~1 s of import at code-location load.
    from matplotlib.figure import Figure

    data = indicators.sort_values("trade_date")
    x = pd.to_datetime(data["trade_date"])
    fig = Figure(figsize=(9, 5.5))
    price_ax, macd_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    price_ax.fill_between(
        x,
        data["bb_lower"],
        data["bb_upper"],
        color="tab:blue",
        alpha=0.12,
        label="Bollinger (20, 2)",
    )
    price_ax.plot(x, data["close"], color="black", lw=1.2, label="close")
    for column, color in (("sma_5", "tab:orange"), ("sma_20", "tab:blue"), ("sma_50", "tab:gray")):
        price_ax.plot(x, data[column], color=color, lw=0.9, label=column.upper().replace("_", " "))
    closes = data.set_index("trade_date")["close"]
    for signal, (marker, color) in _MARKERS.items():
        days = signals.loc[signals["signal"] == signal, "trade_date"]
        days = [d for d in days if d in closes.index]
        if days:
            price_ax.scatter(
                pd.to_datetime(days),
                closes.loc[days],
                marker=marker,
                color=color,
                s=46,
                zorder=5,
                label=signal,
            )
    price_ax.set_title(f"{symbol}: close, SMA and Bollinger bands with signals")
    price_ax.legend(loc="upper left", fontsize=7, ncol=3)
    price_ax.grid(alpha=0.3)

    # vlines draws the histogram as one collection; bar() would make a patch per session.
    macd_ax.vlines(x, 0, data["macd_hist"], color="tab:gray", alpha=0.5, lw=2.5, label="histogram")
    macd_ax.plot(x, data["macd"], color="tab:blue", lw=1, label="MACD (12, 26)")
    macd_ax.plot(x, data["macd_signal"], color="tab:red", lw=1, label="signal (9)")
    macd_ax.axhline(0, color="black", lw=0.5)
    macd_ax.legend(loc="upper left", fontsize=7, ncol=3)
    macd_ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    # Fixed margins: tight_layout measures every text box, a third of the render.
    fig.subplots_adjust(left=0.08, right=0.985, top=0.94, bottom=0.12, hspace=0.08)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def intraday_chart(symbol: str, bars: pd.DataFrame) -> bytes:
    """One session as minute candles (New York time) with the running VWAP, and volume."""
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    data = bars.sort_values("bar_start")
    x = pd.to_datetime(data["bar_start"]).dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    x = x.dt.tz_localize(None)
    up = (data["close"] >= data["open"]).to_numpy()
    colors = ["tab:green" if rising else "tab:red" for rising in up]
    volume = data["volume"].astype(float)
    traded = volume.cumsum()
    vwap = (data["vwap"] * volume).cumsum() / traded.where(traded > 0)
    fig = Figure(figsize=(9, 5))
    price_ax, volume_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    # Wicks and bodies as two line collections: a patch per candle would be 390 artists.
    price_ax.vlines(x, data["low"], data["high"], color=colors, lw=0.6)
    body_low = data[["open", "close"]].min(axis=1)
    body_high = data[["open", "close"]].max(axis=1) + 1e-6
    price_ax.vlines(x, body_low, body_high, color=colors, lw=2.2)
    price_ax.plot(x, vwap, color="tab:blue", lw=1.1, label="VWAP (session)")
    day = data["trade_date"].iloc[0]
    sources = ", ".join(sorted(set(data["source"])))
    price_ax.set_title(f"{symbol} {day}: one-minute bars ({sources}), New York time")
    price_ax.legend(loc="upper left", fontsize=7)
    price_ax.grid(alpha=0.3)
    volume_ax.vlines(x, 0, volume, color=colors, lw=1.2)
    volume_ax.set_ylabel("volume", fontsize=8)
    volume_ax.grid(alpha=0.3)
    volume_ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    fig.subplots_adjust(left=0.08, right=0.985, top=0.94, bottom=0.08, hspace=0.08)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
