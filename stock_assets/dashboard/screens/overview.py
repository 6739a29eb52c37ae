"""Market overview for a day: breadth, top movers, the day's signals and a heat map."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from stock_assets.dashboard import charts, state
from stock_assets.dashboard.inputs import parse_day
from stock_assets.market import calendar

HEATMAP_SESSIONS = 20
TOP_MOVERS = 5


def render() -> None:
    st.title("Market overview")
    state.dagster_links("overview")
    days = state.known_days()
    if days is None:
        st.info("The warehouse has no market summary yet: run the pipeline first (make run).")
        return
    text = state.text_param("Trading day (YYYY-MM-DD)", "day", days.last.isoformat())
    with state.user_errors():
        day = parse_day(text, days.first, days.last)
        _show_day(day, days.first)


def _show_day(day: dt.date, first: dt.date) -> None:
    warehouse = state.warehouse()
    summary = warehouse.market_summary(day)
    if summary is None:
        st.info(f"No market summary for {day}.")
        return
    st.subheader(f"Breadth on {day}")
    columns = st.columns(6)
    for column, (label, name) in zip(
        columns,
        [
            ("Symbols", "symbols"),
            ("Advancers", "advancers"),
            ("Decliners", "decliners"),
            ("Unchanged", "unchanged"),
            ("Signals", "signal_count"),
            ("Anomalies", "anomaly_count"),
        ],
        strict=True,
    ):
        column.metric(label, int(summary[name]))

    moves = warehouse.day_moves(day)
    gainers = moves[moves["pct_change"] > 0].head(TOP_MOVERS)
    losers = moves[moves["pct_change"] < 0].sort_values("pct_change").head(TOP_MOVERS)
    left, right = st.columns(2)
    shown = ["symbol", "close", "pct_change", "volume"]
    left.subheader("Top gainers")
    with left:
        state.table(gainers[shown], "gainers")
    right.subheader("Top losers")
    with right:
        state.table(losers[shown], "losers")
    st.plotly_chart(charts.moves_figure(moves), key="moves")

    st.subheader(f"Signals of {day}")
    signals = warehouse.signals_between(day, day)
    if signals.empty:
        st.write("No signals on this day.")
    else:
        state.table(signals, "signals")

    st.subheader("Across the watchlist")
    value = st.radio(
        "Colour by",
        list(charts.HEATMAP_VALUES),
        format_func=lambda name: charts.HEATMAP_VALUES[name][0],
        horizontal=True,
    )
    sessions = calendar.sessions_between(max(first, day - dt.timedelta(days=40)), day)
    grid = warehouse.returns_grid(sessions[-HEATMAP_SESSIONS:][0], day)
    st.plotly_chart(charts.heatmap_figure(grid, value), key="heatmap")
