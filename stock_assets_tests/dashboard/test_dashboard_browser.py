"""The dashboard in headless Chromium (Debian's, as the Dagster UI test) over a warehouse the
pipeline made: `stock-assets run` on the simulator for a few symbols and ten weeks.

Each page is opened through `python -m stock_assets.dashboard` on a free loopback port;
what the charts and tables hold is compared with the warehouse, queried here with DuckDB.
Screenshots go to $STOCK_ASSETS_DATA_DIR/screenshots/dashboard-*.png (docs/img/ holds copies
for the README), so a test run leaves the checkout as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets_tests.dashboard.test_queries import hold_write_lock

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = "AAPL,MSFT,NVDA,JPM,XOM,TSLA"
START, END = dt.date(2024, 5, 1), dt.date(2024, 7, 12)
TIMEOUT_MS = 60_000
# The figures of a page: per chart, its traces with their names and data arrays.
FIGURES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
    e => e._fullData.map(t => ({name: t.name, type: t.type,
        x: t.x ? Array.from(t.x) : null, y: t.y ? Array.from(t.y) : null,
        close: t.close ? Array.from(t.close) : null})))"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A data dir and Dagster instance filled by the pipeline (daily job + stream demo)."""
    home = tmp_path_factory.mktemp("dashboard-data")
    dagster_home = home / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        **os.environ,
        "STOCK_ASSETS_ENV": "local",
        "STOCK_ASSETS_DATA_DIR": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "STOCK_ASSETS_SYMBOLS": SYMBOLS,
        "STOCK_ASSETS_FAULT_RATE": "0.03",
    }
    command = [sys.executable, "-m", "stock_assets.cli", "run"]
    command += ["--start", START.isoformat(), "--end", END.isoformat()]
    subprocess.run(command, env=env, check=True, timeout=600, capture_output=True)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(dataset: dict[str, str]) -> Iterator[str]:
    """`python -m stock_assets.dashboard` on a free loopback port; its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "stock_assets.dashboard", "--port", str(port)],
        env=dataset,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).close()
                break
            except OSError:
                assert process.poll() is None, "the dashboard exited"
                assert time.monotonic() < deadline, "the dashboard did not answer in 60 s"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def warehouse(dataset: dict[str, str], sql: str, *params: object) -> pd.DataFrame:
    path = Path(dataset["STOCK_ASSETS_DATA_DIR"]) / "warehouse.duckdb"
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchdf()


def open_page(page, url: str, ready_text: str) -> None:
    page.goto(url)
    page.get_by_text(ready_text).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=stException]").count() == 0


def figures(page, count: int) -> list[list[dict]]:
    """The page's `count` Plotly charts, once all are drawn."""
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot').length >= {count}", timeout=TIMEOUT_MS
    )
    return page.evaluate(FIGURES_JS)


def table_cells(page, index: int, expected: Iterable[str]) -> list[str]:
    """The visible cells of the page's index-th table, once they hold every expected text
    (the grid draws its cells after the data arrives, and may redraw them)."""
    cells = page.locator("[data-testid=stDataFrame]").nth(index).locator("[role=gridcell]")
    wanted, deadline = set(expected), time.monotonic() + TIMEOUT_MS / 1000
    while True:
        texts = cells.all_inner_texts()
        if wanted <= set(texts) or time.monotonic() > deadline:
            return texts
        page.wait_for_timeout(300)


def metrics(page) -> dict[str, str]:
    page.locator("[data-testid=stMetric]").first.wait_for()
    texts = page.locator("[data-testid=stMetric]").all_inner_texts()
    return dict(tuple(part.strip() for part in text.split("\n", 1)) for text in texts)


def day_text(value: object) -> str:
    return str(value)[:10]


def screenshot(page, name: str, element=None) -> None:
    """The page as the window shows it, or one element of it (scrolled into view)."""
    folder = Path(os.environ.get("STOCK_ASSETS_DATA_DIR", REPO / "data")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dashboard-{name}.png"
    if element is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        element.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def test_overview_shows_the_days_breadth_movers_signals_and_heat_map(page, dashboard, dataset):
    day = (
        warehouse(
            dataset, "SELECT max(trade_date) AS d FROM gold.signals WHERE signal <> 'BB_BREAKOUT'"
        )
        .d[0]
        .date()
    )
    open_page(page, f"{dashboard}/?day={day}", f"Breadth on {day}")
    summary = warehouse(dataset, "SELECT * FROM gold.market_summary WHERE trade_date = ?", day)
    shown = metrics(page)
    for label, column in [("Advancers", "advancers"), ("Decliners", "decliners")]:
        assert shown[label] == str(summary[column][0])
    moves = warehouse(
        dataset,
        "SELECT symbol, pct_change AS change FROM gold.indicators "
        "WHERE trade_date = ? ORDER BY symbol",
        day,
    )
    bars, heatmap = figures(page, 2)
    chart = dict(zip(bars[0]["y"], bars[0]["x"], strict=True))
    assert sorted(chart) == moves.symbol.tolist()
    for symbol, change in zip(moves.symbol, moves.change, strict=True):
        assert chart[symbol] == pytest.approx(change)
    best = moves.sort_values("change").symbol.iloc[-1]
    assert table_cells(page, 0, [best])[0] == best  # top gainers, biggest first
    assert heatmap[0]["y"] == sorted(SYMBOLS.split(","))
    assert heatmap[0]["x"][-1] == day.isoformat()
    signals = warehouse(dataset, "SELECT symbol FROM gold.signals WHERE trade_date = ?", day)
    assert set(signals.symbol) <= set(table_cells(page, 2, signals.symbol))
    # The tables of the page link their Dagster asset pages (make dev's UI by default).
    link = page.get_by_role("link", name="gold/market_summary")
    assert link.get_attribute("href") == "http://127.0.0.1:3000/assets/gold/market_summary"
    screenshot(page, "overview")


def test_symbol_page_draws_the_bars_indicators_and_signals(page, dashboard, dataset):
    start, end = dt.date(2024, 5, 15), END
    open_page(
        page,
        f"{dashboard}/symbol?symbol=msft&start={start}&end={end}",
        "MSFT: daily bars and indicators",
    )
    prices = warehouse(
        dataset,
        # The page draws bars on today's share basis by default.
        "SELECT trade_date, close FROM gold.adjusted_prices "
        "WHERE symbol = 'MSFT' AND trade_date BETWEEN ? AND ? ORDER BY trade_date",
        start,
        end,
    )
    traces, minutes = figures(page, 2)
    by_name = {trace["name"]: trace for trace in traces}
    candles = by_name["MSFT"]
    bars = warehouse(
        dataset,
        "SELECT close FROM silver.intraday_bars WHERE symbol = 'MSFT' AND trade_date = "
        "(SELECT max(trade_date) FROM silver.intraday_bars WHERE symbol = 'MSFT') "
        "ORDER BY bar_start",
    )
    assert len(bars) > 300, "make run leaves a whole session of minute bars"
    minute_candles = next(trace for trace in minutes if trace["type"] == "candlestick")
    assert minute_candles["close"] == pytest.approx(bars.close.tolist())
    assert any(trace["name"] == "VWAP" for trace in minutes)
    assert [day_text(x) for x in candles["x"]] == [day_text(d) for d in prices.trade_date]
    assert candles["close"] == pytest.approx(prices.close.tolist())
    for name in ("SMA 5", "SMA 20", "SMA 50", "7-day avg", "30-day avg", "MACD", "RSI 14"):
        assert name in by_name, name
    signals = warehouse(
        dataset,
        "SELECT signal, trade_date FROM gold.signals "
        "WHERE symbol = 'MSFT' AND trade_date BETWEEN ? AND ?",
        start,
        end,
    )
    assert len(signals) > 0
    for kind, rows in signals.groupby("signal"):
        marked = sorted(day_text(x) for x in by_name[kind]["x"])
        assert marked == sorted(day_text(d) for d in rows.trade_date)
    last_close = f"{prices.close.iloc[-1]:.2f}"
    assert metrics(page)[f"Close {day_text(prices.trade_date.iloc[-1])}"] == last_close
    screenshot(page, "symbol")
    minute_chart = page.locator(".js-plotly-plot").nth(1)
    screenshot(page, "symbol-minutes", minute_chart)


def test_the_raw_choice_shows_the_bars_as_sent(page, dashboard, dataset):
    """NVDA has make run's 10-for-1 split inside the range: adjusted and raw bars differ."""
    start, end = START, END
    open_page(
        page,
        f"{dashboard}/symbol?symbol=NVDA&start={start}&end={end}",
        "NVDA: daily bars and indicators",
    )
    query = (
        "SELECT close FROM {} WHERE symbol = 'NVDA' AND trade_date BETWEEN ? AND ? "
        "ORDER BY trade_date"
    )
    adjusted = warehouse(dataset, query.format("gold.adjusted_prices"), start, end).close
    raw = warehouse(dataset, query.format("silver.prices"), start, end).close
    assert raw.iloc[0] == pytest.approx(10 * adjusted.iloc[0])  # before the split

    def daily_closes() -> list[list[float]]:
        """The closes of each daily chart on the page (a rerun may briefly show two)."""
        daily = [f for f in figures(page, 2) if any(t["name"] == "SMA 5" for t in f)]
        return [next(t for t in chart if t["name"] == "NVDA")["close"] for chart in daily]

    assert daily_closes() == [pytest.approx(adjusted.tolist())]
    page.get_by_text("raw", exact=True).click()
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while daily_closes() != [pytest.approx(raw.tolist())] and time.monotonic() < deadline:
        page.wait_for_timeout(300)
    assert daily_closes() == [pytest.approx(raw.tolist())]


def test_bad_input_gets_a_message_not_a_traceback(page, dashboard):
    open_page(page, f"{dashboard}/symbol?symbol=ZZZZ", "Unknown symbol ZZZZ")
    open_page(page, f"{dashboard}/symbol?symbol=AAPL%27%20OR%201=1", "is not a ticker symbol")
    open_page(page, f"{dashboard}/?day=2024-07-04", "NYSE holiday")
    open_page(page, f"{dashboard}/?day=2024-13-01", "is not a date")


def test_live_page_shows_the_latest_snapshot(page, dashboard, dataset):
    open_page(page, f"{dashboard}/live", "Latest quotes")
    snapshot = warehouse(dataset, "SELECT symbol, price FROM gold.latest_snapshot ORDER BY symbol")
    assert snapshot.symbol.tolist() == sorted(SYMBOLS.split(","))
    prices = [f"{price:.2f}" for price in snapshot.price]
    cells = table_cells(page, 0, [*snapshot.symbol, *prices])
    for symbol, price in zip(snapshot.symbol, prices, strict=True):
        assert symbol in cells and price in cells
    live = warehouse(
        dataset,
        "SELECT symbol, signal FROM gold.live_signals WHERE trade_date = "
        "(SELECT max(trade_date) FROM silver.stream_history)",
    )
    assert len(live) > 0, "make run's stream demo raises live signals"
    shown = table_cells(page, 1, [*live.symbol, *live.signal])
    assert set(live.symbol) | set(live.signal) <= set(shown)
    screenshot(page, "live")


def test_quality_page_shows_check_results_and_rejects(page, dashboard, dataset):
    open_page(page, f"{dashboard}/quality?start={START}&end={END}", "Latest check results")
    rejects = warehouse(
        dataset,
        "SELECT reason, count(*) AS n FROM silver.price_rejects "
        "WHERE trade_date BETWEEN ? AND ? GROUP BY reason",
        START,
        END,
    )
    assert rejects.n.sum() > 0  # the simulator injected faults
    page.get_by_text(f"{rejects.n.sum()} records rejected").wait_for()
    latest = latest_check_results(dataset["DAGSTER_HOME"])
    from stock_assets.definitions import defs

    assert set(latest) <= defs().resolve_asset_graph().asset_check_keys
    failing = {key: severity for key, (passed, severity) in latest.items() if not passed}
    # make run injects faults: the rejects WARN check fails; no ERROR check does.
    assert set(failing.values()) <= {dg.AssetCheckSeverity.WARN}
    page.get_by_text(f"{len(latest)} checks, {len(failing)} failing in their latest run").wait_for()
    tables = {key.asset_key.to_user_string() for key in latest}
    per_table = table_cells(page, 0, tables)
    for table in tables:
        assert table in per_table, table
    counts = table_cells(page, 2, rejects.reason)
    for reason in rejects.reason:
        assert reason in counts
    screenshot(page, "quality")


def latest_check_results(
    dagster_home: str,
) -> dict[dg.AssetCheckKey, tuple[bool, dg.AssetCheckSeverity]]:
    """Each check's newest evaluation in the dataset's instance: (passed, severity)."""
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        records = instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        )
    latest = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        data = record.event_log_entry.dagster_event.asset_check_evaluation_data
        latest[data.asset_check_key] = (data.passed, data.severity)
    return latest


def test_a_page_waits_while_the_pipeline_holds_the_write_lock(page, dashboard, dataset):
    path = Path(dataset["STOCK_ASSETS_DATA_DIR"]) / "warehouse.duckdb"
    # Long enough for a fresh page session to reach its first query on a busy machine.
    writer = hold_write_lock(path, hold_seconds=15)
    try:
        page.goto(f"{dashboard}/symbol?symbol=NVDA&start=2024-06-03&end=2024-06-28")
        page.get_by_text("The pipeline is writing to the warehouse").wait_for()
    finally:
        writer.wait(timeout=30)
    page.get_by_text("NVDA: daily bars and indicators").wait_for()
    assert page.get_by_text("The pipeline is writing to the warehouse").count() == 0
