"""Data quality: the latest result of every asset check and the rejected records."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from stock_assets.dashboard import quality, state
from stock_assets.dashboard.inputs import parse_range

DEFAULT_SPAN = dt.timedelta(days=30)


def render() -> None:
    st.title("Data quality")
    state.dagster_links("quality")
    st.subheader("Latest check results")
    _check_results()
    st.subheader("Rejected records")
    days = state.known_days()
    if days is None:
        st.info("The warehouse has no data yet: run the pipeline first (make run).")
        return
    left, right = st.columns(2)
    with left:
        default_start = max(days.first, days.last - DEFAULT_SPAN).isoformat()
        start_text = state.text_param("From (YYYY-MM-DD)", "start", default_start)
    with right:
        end_text = state.text_param("To (YYYY-MM-DD)", "end", days.last.isoformat())
    with state.user_errors():
        start, end = parse_range(start_text, end_text, days.first, days.last)
        warehouse = state.warehouse()
        counts = warehouse.reject_counts(start, end)
        if counts.empty:
            st.write(f"No records were rejected between {start} and {end}.")
            return
        st.write(f"{int(counts.records.sum())} records rejected between {start} and {end}.")
        state.table(counts, "reject_counts")
        state.table(warehouse.rejects(start, end), "rejects")


def _check_results() -> None:
    if not quality.instance_configured():
        st.info("Set DAGSTER_HOME to the pipeline's Dagster instance to see check results.")
        return
    import dagster as dg

    results = quality.latest_check_results(dg.DagsterInstance.get())
    if results.empty:
        st.write("No check has run yet.")
        return
    failed = int((~results.passed).sum())
    st.write(f"{len(results)} checks, {failed} failing in their latest run.")
    per_table = (
        results.assign(failing=~results.passed)
        .groupby("table", as_index=False)
        .agg(checks=("check", "size"), failing=("failing", "sum"))
    )
    state.table(per_table, "checks_per_table")
    state.table(results, "checks")
