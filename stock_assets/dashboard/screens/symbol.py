"""A symbol's daily bars: candles and volume, SMA 5/20/50, 7/30-day averages, Bollinger
bands, MACD, RSI and its signals marked on the chart; its latest session in minutes.

The page is a list of sections drawn one after the other for the chosen symbol and range
(`SECTIONS`): the daily chart, then the newest session's one-minute candles with VWAP.
Prices are shown back-adjusted to today's share basis by default, or raw
(`queries.PRICE_TABLES`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from stock_assets.dashboard import charts, state
from stock_assets.dashboard.inputs import InputError, parse_range, parse_symbol
from stock_assets.dashboard.queries import PRICE_TABLES, Warehouse

DEFAULT_SPAN = dt.timedelta(days=365)


@dataclass(frozen=True)
class Selection:
    symbol: str
    start: dt.date
    end: dt.date
    basis: str


def render() -> None:
    st.title("Symbol")
    state.dagster_links("symbol")
    days, symbols = state.known_days(), state.known_symbols()
    if days is None or not symbols:
        st.info("The warehouse has no prices yet: run the pipeline first (make run).")
        return
    left, middle, right = st.columns(3)
    with left:
        symbol_text = state.text_param("Symbol", "symbol", symbols[0])
    with middle:
        default_start = max(days.first, days.last - DEFAULT_SPAN).isoformat()
        start_text = state.text_param("From (YYYY-MM-DD)", "start", default_start)
    with right:
        end_text = state.text_param("To (YYYY-MM-DD)", "end", days.last.isoformat())
    basis = next(iter(PRICE_TABLES))
    if len(PRICE_TABLES) > 1:
        basis = st.radio("Prices", list(PRICE_TABLES), horizontal=True)
    with state.user_errors():
        symbol = parse_symbol(symbol_text, symbols)
        start, end = parse_range(start_text, end_text, days.first, days.last)
        selection = Selection(symbol, start, end, basis)
        warehouse = state.warehouse()
        for section in SECTIONS:
            section(warehouse, selection)


def daily_section(warehouse: Warehouse, selection: Selection) -> None:
    history = warehouse.symbol_history(
        selection.symbol, selection.start, selection.end, selection.basis
    )
    if history.empty:
        raise InputError(
            f"{selection.symbol} has no bars between {selection.start} and {selection.end}."
        )
    signals = warehouse.signals_between(selection.start, selection.end, selection.symbol)
    _latest_metrics(history)
    figure = charts.symbol_figure(selection.symbol, history, signals)
    st.plotly_chart(figure, key="symbol_chart")
    st.subheader(f"Signals of {selection.symbol}, {selection.start} to {selection.end}")
    if signals.empty:
        st.write("No signals in this range.")
    else:
        state.table(signals, "symbol_signals")


def minute_section(warehouse: Warehouse, selection: Selection) -> None:
    """The newest session up to the range's end as one-minute candles with VWAP."""
    bars = warehouse.latest_session_bars(selection.symbol, selection.end)
    if bars.empty:
        st.write(f"No one-minute bars of {selection.symbol} up to {selection.end}.")
        return
    day = pd.Timestamp(bars["trade_date"].iloc[0]).date()
    sources = ", ".join(sorted(bars["source"].dropna().unique()))
    st.subheader(f"{selection.symbol} on {day}: one-minute bars ({sources})")
    st.plotly_chart(charts.minute_figure(selection.symbol, bars), key="minute_chart")


def _latest_metrics(history: pd.DataFrame) -> None:
    last = history.iloc[-1]
    columns = st.columns(5)
    day = pd.Timestamp(last["trade_date"]).date()
    columns[0].metric(f"Close {day}", _number(last["close"]))
    columns[1].metric("Change %", _number(last["pct_change"]))
    columns[2].metric("RSI 14", _number(last["rsi_14"]))
    columns[3].metric("SMA 20", _number(last["sma_20"]))
    columns[4].metric("Sessions shown", len(history))


def _number(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.2f}"


SECTIONS: list[Callable[[Warehouse, Selection], None]] = [daily_section, minute_section]
