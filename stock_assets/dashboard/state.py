"""Streamlit plumbing shared by the pages: the engine, the busy notice, URL parameters, the
links to Dagster and how errors meant for the user are shown (a message, never a stack
trace)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pandas as pd
import streamlit as st

from stock_assets.dashboard import links
from stock_assets.dashboard.inputs import InputError
from stock_assets.dashboard.queries import DayRange, Warehouse, engine_from_env
from stock_assets.resources.sql_engine import (
    AthenaQueryError,
    SqlEngine,
    WarehouseBusyError,
    WarehouseMissingError,
)
from stock_assets.settings import Settings

# Seconds the symbol list and day range are reused before they are asked again.
CATALOG_TTL_SECONDS = 30
T = TypeVar("T")


@st.cache_resource
def engine() -> SqlEngine:
    return engine_from_env()


@st.cache_resource
def dagster_url() -> str:
    return Settings.from_env().dagster_url


def dagster_links(page: str) -> None:
    """Under the title: the Dagster asset pages (STOCK_ASSETS_DAGSTER_URL, the viewers'
    read-only UI in a deployment) of the tables the page shows."""
    st.caption(links.dagster_links_markdown(dagster_url(), page))


class PageNotice:
    """A line on the page while a query waits for the pipeline's write lock, gone after."""

    def __init__(self) -> None:
        self.placeholder = st.empty()
        self.shown = False

    def waiting(self, seconds: float) -> None:
        self.placeholder.info(
            f"The pipeline is writing to the warehouse; retrying ({seconds:.0f} s)..."
        )
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.placeholder.empty()
            self.shown = False


def warehouse() -> Warehouse:
    """The page's reads; while the pipeline holds DuckDB's write lock it says so and waits."""
    return Warehouse(engine(), PageNotice())


# What the warehouse holds (its symbols and days), asked at most every CATALOG_TTL_SECONDS
# by all sessions together. Not st.cache_data: a cached function's page elements are
# replayed on every hit, and the busy notice must only show while a query really waits.
_catalog: dict[str, tuple[float, object]] = {}


def _from_catalog(name: str, ask: Callable[[Warehouse], T]) -> T:
    entry = _catalog.get(name)
    if entry is not None and time.monotonic() - entry[0] < CATALOG_TTL_SECONDS:
        return entry[1]  # type: ignore[return-value]
    value = ask(warehouse())
    _catalog[name] = (time.monotonic(), value)
    return value


def known_symbols() -> list[str]:
    return _from_catalog("symbols", Warehouse.symbols)


def known_days() -> DayRange | None:
    return _from_catalog("days", Warehouse.days)


def text_param(label: str, name: str, default: str, **widget: object) -> str:
    """A text box whose value lives in the URL (`?name=value`), so a page can be linked."""
    value = st.text_input(label, value=st.query_params.get(name, default), key=name, **widget)
    st.query_params[name] = value
    return value


ROW_PIXELS = 35  # Streamlit's row height; a short table is shown whole, without scrolling
WHOLE_TABLE_ROWS = 40


def table(frame: pd.DataFrame, key: str) -> None:
    """A frame as a table: trading days as dates, decimals to two places; up to
    WHOLE_TABLE_ROWS rows all in view."""
    formats: dict[str, object] = {
        name: st.column_config.NumberColumn(format="%.2f")
        for name, dtype in frame.dtypes.items()
        if pd.api.types.is_float_dtype(dtype)
    }
    if "trade_date" in frame.columns:
        formats["trade_date"] = st.column_config.DateColumn(format="YYYY-MM-DD")
    height = (min(len(frame), WHOLE_TABLE_ROWS) + 1) * ROW_PIXELS + 3
    st.dataframe(frame, hide_index=True, key=key, column_config=formats, height=height)


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
