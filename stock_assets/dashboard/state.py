"""Streamlit plumbing shared by the pages: the engine, the busy notice, URL parameters and
how errors meant for the user are shown (a message, never a stack trace)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from stock_assets.dashboard.inputs import InputError
from stock_assets.dashboard.queries import DayRange, Warehouse, engine_from_env
from stock_assets.resources.sql_engine import (
    AthenaQueryError,
    SqlEngine,
    WarehouseBusyError,
    WarehouseMissingError,
)

# Seconds the symbol list and day range are reused before they are asked again.
CATALOG_TTL_SECONDS = 30


@st.cache_resource
def engine() -> SqlEngine:
    return engine_from_env()


def warehouse() -> Warehouse:
    """The page's reads; while the pipeline holds DuckDB's write lock it says so and waits."""
    notice = st.empty()

    def on_busy(waited: float) -> None:
        notice.info(f"The pipeline is writing to the warehouse; retrying ({waited:.0f} s)...")

    return Warehouse(engine(), on_busy=on_busy)


@st.cache_data(ttl=CATALOG_TTL_SECONDS, show_spinner=False)
def known_symbols() -> list[str]:
    return Warehouse(engine()).symbols()


@st.cache_data(ttl=CATALOG_TTL_SECONDS, show_spinner=False)
def known_days() -> DayRange | None:
    return Warehouse(engine()).days()


def text_param(label: str, name: str, default: str, **widget: object) -> str:
    """A text box whose value lives in the URL (`?name=value`), so a page can be linked."""
    value = st.text_input(label, value=st.query_params.get(name, default), key=name, **widget)
    st.query_params[name] = value
    return value


def table(frame: pd.DataFrame, key: str) -> None:
    """A frame as a table, trading days shown as dates."""
    dates = {
        name: st.column_config.DateColumn(format="YYYY-MM-DD")
        for name in ("trade_date",)
        if name in frame.columns
    }
    st.dataframe(frame, hide_index=True, key=key, column_config=dates)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show bad input and unavailable data as a message instead of a traceback."""
    try:
        yield
    except InputError as error:
        st.error(str(error))
    except WarehouseBusyError as error:
        st.warning(f"{error}. The page will show the data once the pipeline is done; reload it.")
    except WarehouseMissingError as error:
        st.info(str(error))
    except AthenaQueryError as error:
        st.error(f"The query failed in Athena: {error}")
