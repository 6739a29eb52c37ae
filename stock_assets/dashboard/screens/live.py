"""The latest snapshot of every symbol with the live signals of its session (gold.live_signals,
raised on the stream); while the NYSE is open the panel re-reads both every
LIVE_REFRESH_SECONDS on its own."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from stock_assets.dashboard import charts, state
from stock_assets.market import calendar

LIVE_REFRESH_SECONDS = 10


def market_open(now: dt.datetime) -> bool:
    """Whether `now` (aware) falls inside an NYSE session."""
    day = calendar.trading_day_of(now)
    if not calendar.is_session(day):
        return False
    instant = pd.Timestamp(now)
    return calendar.market_open_utc(day) <= instant < calendar.market_close_utc(day)


def render() -> None:
    st.title("Live")
    state.dagster_links("live")
    is_open = market_open(dt.datetime.now(dt.UTC))
    if is_open:
        st.caption(f"The market is open: this page refreshes every {LIVE_REFRESH_SECONDS} s.")
    else:
        st.caption("The market is closed: showing the last snapshot (no auto-refresh).")
    st.fragment(run_every=LIVE_REFRESH_SECONDS if is_open else None)(_panel)()


def _panel() -> None:
    with state.user_errors():
        warehouse = state.warehouse()
        snapshot = warehouse.latest_snapshot()
        if snapshot.empty:
            st.info("No quotes yet: the stream has not delivered any (make run streams a few).")
            return
        newest = pd.Timestamp(snapshot.ts.max())
        day = calendar.trading_day_of(newest.to_pydatetime())
        st.subheader(f"Latest quotes (newest {newest:%Y-%m-%d %H:%M:%S} UTC)")
        state.table(snapshot, "snapshot")
        moves = snapshot.rename(columns={"change_pct": "pct_change"})
        st.plotly_chart(charts.moves_figure(moves), key="live_moves")
        st.subheader(f"Live signals of the session {day}")
        signals = warehouse.live_signals(day)
        if signals.empty:
            st.write("No live signals in this session yet.")
        else:
            state.table(signals, "live_signals")
