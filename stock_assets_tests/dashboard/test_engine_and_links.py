"""The SQL engine's query translation and Athena parameters, the dashboard links in the
Dagster definitions, and the figures' contents."""

from __future__ import annotations

import contextlib
import datetime as dt

import dagster as dg
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from stock_assets.dashboard import charts, links
from stock_assets.dashboard.__main__ import streamlit_command
from stock_assets.market.schemas import TABLES
from stock_assets.market.sql import translate_query
from stock_assets.resources.sql_engine import _athena_column, athena_literal
from stock_assets.settings import DEFAULT_DASHBOARD_URL, Settings


def test_athena_parameters_are_typed_literals_with_quotes_escaped():
    assert athena_literal("O'Neil") == "'O''Neil'"
    assert athena_literal(dt.date(2024, 7, 5)) == "DATE '2024-07-05'"
    assert athena_literal(dt.datetime(2024, 7, 5, 14, 30)) == "TIMESTAMP '2024-07-05 14:30:00'"
    assert athena_literal(7) == "7" and athena_literal(1.5) == "1.5"
    assert athena_literal(True) == "true"
    with pytest.raises(ValueError, match="finite"):
        athena_literal(float("nan"))
    with pytest.raises(TypeError):
        athena_literal(object())  # type: ignore[arg-type]


def test_athena_text_values_get_their_column_types():
    values = pd.Series(["1", None, "3"], dtype=object)
    assert _athena_column(values, "bigint").tolist() == [1, pd.NA, 3]
    assert _athena_column(values, "double").isna().tolist() == [False, True, False]
    days = _athena_column(pd.Series(["2024-07-05"], dtype=object), "date")
    assert days.iloc[0] == pd.Timestamp("2024-07-05")
    assert _athena_column(pd.Series(["true"], dtype=object), "boolean").tolist() == [True]


def test_queries_keep_placeholders_and_take_the_glue_prefix():
    text = "SELECT close FROM silver.prices WHERE symbol = ? AND trade_date BETWEEN ? AND ?"
    assert translate_query(text, "duckdb").count("?") == 3
    athena = sqlglot.parse_one(translate_query(text, "athena", "dev"), read="athena")
    assert [t.db for t in athena.find_all(exp.Table)] == ["dev_silver"]
    assert len(list(athena.find_all(exp.Placeholder))) == 3
    with pytest.raises(ValueError, match="no SQL engine"):
        translate_query(text, "mysql")


def test_every_table_the_dashboard_reads_is_a_contract_table_whose_asset_links_to_it(tmp_path):
    """Each Warehouse query, captured as run, names only tables of market.schemas and the
    project's views, and the asset of each links to a dashboard page."""
    from stock_assets.dashboard.queries import PRICE_TABLES, Warehouse
    from stock_assets.market.sql import load_views

    class Recorder:
        statements: list[str] = []

        def query(self, statement, parameters=(), on_busy=None):
            self.statements.append(statement)
            return pd.DataFrame({"first": [None], "last": [None]})

    recorder = Recorder()
    warehouse = Warehouse(recorder)  # type: ignore[arg-type]
    day = dt.date(2024, 7, 5)
    for call in (
        warehouse.days,
        warehouse.symbols,
        lambda: warehouse.market_summary(day),
        lambda: warehouse.day_moves(day),
        lambda: warehouse.signals_between(day, day),
        lambda: warehouse.signals_between(day, day, "AAPL"),
        lambda: warehouse.returns_grid(day, day),
        *(lambda b=basis: warehouse.symbol_history("AAPL", day, day, b) for basis in PRICE_TABLES),
        lambda: warehouse.latest_session_bars("AAPL", day),
        warehouse.latest_snapshot,
        lambda: warehouse.live_signals(day),
        lambda: warehouse.rejects(day, day),
        lambda: warehouse.reject_counts(day, day),
    ):
        # The recorder's frame is not the real answer; only the SQL matters here.
        with contextlib.suppress(KeyError, AttributeError):
            call()
    tables = set()
    for statement in recorder.statements:
        parsed = sqlglot.parse_one(statement, read="athena")
        ctes = {cte.alias for cte in parsed.find_all(exp.CTE)}
        tables |= {f"{t.db}.{t.name}" for t in parsed.find_all(exp.Table) if t.name not in ctes}
    views = {view.qualified_name for view in load_views()}
    assert tables and tables <= set(TABLES) | views, tables - set(TABLES) - views
    unlinked = {table.replace(".", "/") for table in tables} - set(links.ASSET_PAGES)
    assert not unlinked, unlinked


def test_assets_link_to_their_dashboard_page():
    base = Settings.from_env({"STOCK_ASSETS_DASHBOARD_URL": "https://dash.example.com/"})

    @dg.asset(key=["gold", "signals"])
    def signals() -> None: ...

    @dg.asset(key=["other", "table"])
    def other() -> None: ...

    linked = {a.key: a for a in links.with_dashboard_links([signals, other], base.dashboard_url)}
    url = linked[dg.AssetKey(["gold", "signals"])].specs_by_key[signals.key].metadata["dashboard"]
    assert url == dg.MetadataValue.url("https://dash.example.com/")
    assert "dashboard" not in linked[other.key].specs_by_key[other.key].metadata
    assert links.page_url(base.dashboard_url, "symbol", {"symbol": "BRK-B"}) == (
        "https://dash.example.com/symbol?symbol=BRK-B"
    )


def test_each_page_links_the_dagster_asset_pages_of_its_tables():
    default = Settings.from_env({})
    assert default.dagster_url == "http://127.0.0.1:3000"
    viewers = Settings.from_env({"STOCK_ASSETS_DAGSTER_URL": "https://dagster.example.com/"})
    line = links.dagster_links_markdown(viewers.dagster_url, "symbol")
    for asset in ("silver/prices", "gold/adjusted_prices", "silver/intraday_bars"):
        assert f"[{asset}](https://dagster.example.com/assets/{asset})" in line
    assert "gold/latest_snapshot" not in line
    shown = {asset for page in links.PAGE_PATHS for asset in links.page_assets(page)}
    assert shown == set(links.ASSET_PAGES)


def test_the_code_location_links_its_tables(monkeypatch):
    from stock_assets.definitions import build_definitions

    monkeypatch.delenv("STOCK_ASSETS_DASHBOARD_URL", raising=False)
    graph = build_definitions().resolve_asset_graph()
    for key_text, page in links.ASSET_PAGES.items():
        metadata = graph.get(dg.AssetKey.from_user_string(key_text)).metadata
        assert metadata["dashboard"].value == f"{DEFAULT_DASHBOARD_URL}/" + (links.PAGE_PATHS[page])


def test_streamlit_is_started_offline():
    command = " ".join(streamlit_command(8501, "127.0.0.1"))
    for option in (
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--global.developmentMode=false",
    ):
        assert option in command
    assert "baseUrlPath" not in command
    assert "--server.baseUrlPath=dashboard" in streamlit_command(8501, "0.0.0.0", "/dashboard/")


def test_the_symbol_figure_marks_each_signal_at_that_days_close():
    days = pd.to_datetime(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"])
    history = pd.DataFrame(
        {"trade_date": days, "open": 1.0, "high": 3.0, "low": 0.5, "close": [1.0, 2.0, 1.5, 2.5]}
    )
    for column in ["volume", *[c for c, *_ in charts.OVERLAYS], "bb_upper", "bb_lower"]:
        history[column] = 1.0
    for column in ["macd", "macd_signal", "macd_hist", "rsi_14"]:
        history[column] = 50.0
    signals = pd.DataFrame(
        {
            "trade_date": [dt.date(2024, 7, 2), dt.date(2024, 7, 5)],
            "signal": ["BUY", "ANOMALY"],
            "reason": ["crossed", "moved"],
        }
    )
    figure = charts.symbol_figure("AAPL", history, signals)
    traces = {trace.name: trace for trace in figure.data}
    assert {"AAPL", "SMA 5", "SMA 20", "SMA 50", "7-day avg", "30-day avg", "MACD", "RSI 14"} <= (
        set(traces)
    )
    assert list(traces["BUY"].y) == [2.0] and list(traces["ANOMALY"].y) == [2.5]
    # Weekends and the 2024-07-04 holiday are hidden from the time axis.
    breaks = figure.layout.xaxis.rangebreaks
    assert any(b.values and "2024-07-04" in b.values for b in breaks)
