"""The dashboard's query layer on a small hand-built warehouse, and DuckDB's lock.

Expected values come from the frames written here (pandas rolling means, filters), never
from the queries under test.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from stock_assets.dashboard.charts import minute_figure
from stock_assets.dashboard.queries import AVERAGE_WARMUP_DAYS, Warehouse
from stock_assets.market import calendar
from stock_assets.market.schemas import (
    INDICATORS,
    INTRADAY_BARS,
    LIVE_SIGNALS,
    PRICES,
    SIGNALS,
    TABLES,
    conform,
)
from stock_assets.resources.sql_engine import (
    DuckDBSqlEngine,
    WarehouseBusyError,
    WarehouseMissingError,
)

SESSIONS = calendar.sessions_between(dt.date(2024, 1, 2), dt.date(2024, 6, 28))
SYMBOLS = ("AAPL", "MSFT")


def _minute_bars() -> pd.DataFrame:
    """Three bars of AAPL on each of the last two sessions (14:30 UTC is 10:30 New York)."""
    rows = []
    for day in SESSIONS[-2:]:
        for minute in range(3):
            close = 100.0 + minute + day.day
            rows.append(
                dict(
                    symbol="AAPL",
                    trade_date=day,
                    bar_start=pd.Timestamp(f"{day} 14:3{minute}:00"),
                    open=close - 0.2,
                    high=close + 0.5,
                    low=close - 0.5,
                    close=close,
                    volume=100 * (minute + 1),
                    vwap=close - 0.1,
                    quotes=4,
                    source="stream",
                    ingested_at=pd.Timestamp("2024-07-01"),
                )
            )
    return conform(pd.DataFrame(rows), INTRADAY_BARS)


def _prices() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for n, symbol in enumerate(SYMBOLS):
        closes = 100 * (n + 1) + np.cumsum(rng.normal(0, 1, len(SESSIONS)))
        for day, close in zip(SESSIONS, closes, strict=True):
            rows.append(
                dict(
                    symbol=symbol,
                    trade_date=day,
                    open=close - 0.5,
                    high=close + 1,
                    low=close - 1,
                    close=close,
                    adj_close=close,
                    volume=1_000_000 + day.toordinal(),
                    source="test",
                    ingested_at=pd.Timestamp("2024-07-01"),
                )
            )
    return conform(pd.DataFrame(rows), PRICES)


def _live_signals() -> pd.DataFrame:
    """Two live signals in the last session and one in the session before."""
    last, before = SESSIONS[-1], SESSIONS[-2]
    rows = [
        ("AAPL", last, pd.Timestamp(f"{last} 14:35"), "MOVE", None, 5.5, "moved"),
        ("MSFT", last, pd.Timestamp(f"{last} 15:10"), "RULE", "dip", 1.0, "rule"),
        ("AAPL", before, pd.Timestamp(f"{before} 19:00"), "CROSS_UP", None, 1.0, "crossed"),
    ]
    frame = pd.DataFrame(rows, columns=LIVE_SIGNALS.column_names[:-1])
    return conform(frame.assign(detected_at=pd.Timestamp("2024-07-01")), LIVE_SIGNALS)


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard") / "warehouse.duckdb"
    prices = _prices()
    indicators = prices[["symbol", "trade_date", "close", "volume"]].assign(
        sma_5=prices.groupby("symbol").close.transform(lambda c: c.rolling(5).mean())
    )
    for column in INDICATORS.column_names:
        if column not in indicators:
            indicators[column] = 1.0
    indicators["pct_change"] = prices.groupby("symbol").close.pct_change() * 100
    signals = pd.DataFrame(
        [
            ("AAPL", SESSIONS[40], "BUY", 1.0, "crossed"),
            ("MSFT", SESSIONS[40], "SELL", 2.0, "crossed"),
            ("AAPL", SESSIONS[90], "ANOMALY", 6.0, "moved"),
        ],
        columns=SIGNALS.column_names,
    )
    with duckdb.connect(str(path)) as conn:
        for table in TABLES.values():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.layer}")
            conn.execute(table.ddl())
        for name, frame in [
            ("silver.prices", prices),
            ("gold.indicators", conform(indicators, INDICATORS)),
            ("gold.signals", conform(signals, SIGNALS)),
            ("silver.intraday_bars", _minute_bars()),
            ("gold.live_signals", _live_signals()),
        ]:
            conn.register("frame", frame)
            conn.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
            conn.unregister("frame")
    return path


@pytest.fixture
def warehouse(warehouse_file: Path) -> Warehouse:
    return Warehouse(DuckDBSqlEngine(database=str(warehouse_file)))


def test_symbol_history_is_the_symbols_range_with_its_indicators(warehouse):
    start, end = SESSIONS[60], SESSIONS[100]
    got = warehouse.symbol_history("MSFT", start, end)
    prices = _prices()
    msft = prices[prices.symbol == "MSFT"].reset_index(drop=True)
    shown = msft[(msft.trade_date >= start) & (msft.trade_date <= end)]
    assert got.trade_date.dt.date.tolist() == shown.trade_date.tolist()
    np.testing.assert_allclose(got.close, shown.close)
    np.testing.assert_allclose(got.sma_5, msft.close.rolling(5).mean()[shown.index])
    # The 7/30-session averages see the sessions before the range (read as warm-up).
    np.testing.assert_allclose(got.avg_7d, msft.close.rolling(7).mean()[shown.index])
    np.testing.assert_allclose(got.avg_30d, msft.close.rolling(30).mean()[shown.index])


def test_adjusted_basis_shows_bars_and_indicators_on_todays_basis(warehouse_file, tmp_path):
    """A 2-for-1 MSFT split in the range: the adjusted page halves every earlier bar and
    its price-like indicators (gold.indicators holds them on their own day's basis), and
    leaves unit-free ones (pct_change) alone."""
    from stock_assets.market.sql import load_views

    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(warehouse_file.read_bytes())
    ex_date = SESSIONS[80]
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "INSERT INTO silver.corporate_actions VALUES ('MSFT', ?, 'SPLIT', 2.0, NULL, 'csv', ?)",
            [ex_date, dt.datetime(2024, 7, 1)],
        )
    engine = DuckDBSqlEngine(database=str(path))
    engine.create_view(next(v for v in load_views() if v.name == "adjusted_prices"))
    start, end = SESSIONS[60], SESSIONS[100]
    raw = Warehouse(engine).symbol_history("MSFT", start, end, basis="raw")
    adjusted = Warehouse(engine).symbol_history("MSFT", start, end, basis="adjusted")
    factor = np.where(raw.trade_date.dt.date < ex_date, 0.5, 1.0)
    for column in ("open", "close", "sma_5", "bb_upper", "macd"):
        np.testing.assert_allclose(adjusted[column], raw[column] * factor, err_msg=column)
    np.testing.assert_allclose(adjusted.volume, raw.volume / factor)
    np.testing.assert_allclose(adjusted["pct_change"], raw["pct_change"])


def test_averages_are_missing_until_enough_sessions_exist(warehouse):
    got = warehouse.symbol_history("AAPL", SESSIONS[0], SESSIONS[40])
    assert got.avg_7d[:6].isna().all() and got.avg_7d[6:].notna().all()
    assert got.avg_30d[:29].isna().all() and got.avg_30d[29:].notna().all()
    assert AVERAGE_WARMUP_DAYS >= 30 * 7 / 5  # 30 sessions fit in the warm-up window


def test_signals_between_filters_days_and_symbol(warehouse):
    everyone = warehouse.signals_between(SESSIONS[40], SESSIONS[40])
    assert sorted(everyone.symbol) == ["AAPL", "MSFT"]
    aapl = warehouse.signals_between(SESSIONS[0], SESSIONS[-1], "AAPL")
    assert aapl.signal.tolist() == ["BUY", "ANOMALY"]


def test_day_moves_are_that_days_changes_biggest_gain_first(warehouse):
    day = SESSIONS[50]
    moves = warehouse.day_moves(day)
    prices = _prices()
    change = prices.groupby("symbol").close.pct_change() * 100
    on_day = prices.trade_date == day
    expected = change[on_day].set_axis(prices.symbol[on_day])
    assert moves.symbol.tolist() == expected.sort_values(ascending=False).index.tolist()
    np.testing.assert_allclose(moves["pct_change"], expected.sort_values(ascending=False))


def test_symbols_and_an_empty_summary(warehouse):
    assert warehouse.symbols() == list(SYMBOLS)
    assert warehouse.days() is None  # no gold.market_summary rows
    assert warehouse.market_summary(SESSIONS[0]) is None


def test_values_are_bound_never_spliced_into_the_sql(warehouse):
    hostile = "AAPL' OR '1'='1"
    assert warehouse.symbol_history(hostile, SESSIONS[0], SESSIONS[-1]).empty
    assert warehouse.signals_between(SESSIONS[0], SESSIONS[-1], hostile).empty


def test_a_missing_warehouse_says_how_to_make_one(tmp_path):
    engine = DuckDBSqlEngine(database=str(tmp_path / "warehouse.duckdb"))
    with pytest.raises(WarehouseMissingError, match="make run"):
        Warehouse(engine).symbols()
    assert not (tmp_path / "warehouse.duckdb").exists()  # a read never creates the file


WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])  # read-write: holds the file's lock
    conn.execute(sys.argv[3])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.close()
    """
)


def hold_write_lock(
    path: Path, hold_seconds: float, statement: str = "SELECT 1"
) -> subprocess.Popen:
    """Another process that runs `statement` and holds the warehouse's write lock."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(hold_seconds), statement],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    return process


class Notice:
    """Records what a page would show while a query waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.done_after_wait = False

    def waiting(self, seconds: float) -> None:
        self.waits.append(seconds)

    def done(self) -> None:
        self.done_after_wait = bool(self.waits)


def test_a_reader_waits_for_the_pipelines_writer_and_says_so(tmp_path, warehouse_file):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(warehouse_file.read_bytes())
    notice = Notice()
    warehouse = Warehouse(DuckDBSqlEngine(database=str(path)), notice)
    insert = "INSERT INTO gold.signals VALUES ('MSFT', DATE '2024-06-28', 'BUY', 3, 'w')"
    writer = hold_write_lock(path, hold_seconds=1.5, statement=insert)
    try:
        signals = warehouse.signals_between(SESSIONS[-1], SESSIONS[-1])
    finally:
        writer.wait(timeout=30)
    assert notice.waits, "the reader never met the writer's lock"
    assert notice.done_after_wait
    assert signals.symbol.tolist() == ["MSFT"]  # it read after the writer committed


def test_a_reader_gives_up_with_a_clear_error_and_never_blocks_the_writer(tmp_path, warehouse_file):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(warehouse_file.read_bytes())
    engine = DuckDBSqlEngine(database=str(path), busy_timeout_seconds=0.5)
    writer = hold_write_lock(path, hold_seconds=3)
    try:
        with pytest.raises(WarehouseBusyError, match="the pipeline is writing"):
            Warehouse(engine).symbols()
    finally:
        writer.wait(timeout=30)
    # Between queries the reader holds nothing: a writer, which tries the lock once and
    # fails if it is taken (hold_write_lock asserts it got it), opens the file at once.
    reader = Warehouse(DuckDBSqlEngine(database=str(path)))
    reader.symbols()
    assert hold_write_lock(path, hold_seconds=0).wait(timeout=30) == 0
    assert reader.symbols()  # and the reader still reads after it


def test_minute_bars_are_the_newest_session_up_to_the_end(warehouse):
    latest = warehouse.latest_session_bars("AAPL", SESSIONS[-1])
    expected = _minute_bars().tail(3)
    assert [pd.Timestamp(t) for t in latest.bar_start] == list(expected.bar_start)
    assert latest.close.tolist() == expected.close.tolist()
    earlier = warehouse.latest_session_bars("AAPL", SESSIONS[-2])
    assert {pd.Timestamp(d).date() for d in earlier.trade_date} == {SESSIONS[-2]}
    assert warehouse.latest_session_bars("MSFT", SESSIONS[-1]).empty


def test_the_minute_chart_draws_the_running_session_vwap_in_new_york_time():
    bars = _minute_bars().tail(3).reset_index(drop=True)
    candles, vwap, volume = minute_figure("AAPL", bars).data
    weights = bars.volume.to_numpy(dtype=float)
    running = np.cumsum(bars.vwap.to_numpy() * weights) / np.cumsum(weights)
    np.testing.assert_allclose(np.asarray(vwap.y, dtype=float), running)
    assert pd.Timestamp(candles.x[0]).strftime("%H:%M") == "10:30"
    assert list(volume.y) == [100, 200, 300]


def test_live_signals_are_the_sessions_newest_first(warehouse):
    got = warehouse.live_signals(SESSIONS[-1])
    assert got.symbol.tolist() == ["MSFT", "AAPL"]
    assert got.signal.tolist() == ["RULE", "MOVE"]
    assert got["rule"].tolist()[0] == "dip"
    assert warehouse.live_signals(SESSIONS[-2]).signal.tolist() == ["CROSS_UP"]
    assert warehouse.live_signals(SESSIONS[0]).empty
