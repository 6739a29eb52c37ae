"""Gold assets materialized for real: run-shape independence, TA-Lib agreement, alerts, charts."""

import base64
import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
import talib

from stock_assets.assets.gold import indicators, market_summary, signals
from stock_assets.assets.prices import corporate_actions, prices, raw_quotes
from stock_assets.market import calendar, lookback
from stock_assets_tests.conftest import local_resources

SYMBOLS = "AAPL,MSFT,XOM,ARM"
HISTORY = (dt.date(2021, 6, 1), dt.date(2024, 7, 12))  # longer than any indicator window
TARGET = (dt.date(2024, 7, 1), dt.date(2024, 7, 12))  # holiday on 2024-07-04
GOLD = [indicators, signals, market_summary]
ALL_ASSETS = [raw_quotes, prices, corporate_actions, *GOLD]


def run(home: Path, assets, start: dt.date, end: dt.date) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        ALL_ASSETS,
        resources=local_resources(home, symbols=SYMBOLS),
        selection=assets,
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
    )
    assert result.success
    return result


def table(home: Path, name: str) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchdf()


@pytest.fixture(scope="module")
def silver_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("gold")
    run(home, [raw_quotes, prices], *HISTORY)
    return home


def copy_home(src: Path, dst: Path) -> Path:
    dst.mkdir()
    (dst / "warehouse.duckdb").write_bytes((src / "warehouse.duckdb").read_bytes())
    return dst


@pytest.mark.slow
def test_gold_tables_do_not_depend_on_how_partitions_were_materialized(silver_home, tmp_path):
    backfilled = copy_home(silver_home, tmp_path / "backfill")
    run(backfilled, GOLD, *TARGET)
    daily = copy_home(silver_home, tmp_path / "daily")
    for day in reversed(calendar.sessions_between(*TARGET)):  # out of order, one by one
        run(daily, [indicators], day, day)
    for day in calendar.sessions_between(*TARGET):
        run(daily, [signals, market_summary], day, day)
    for name in ("gold.indicators", "gold.signals", "gold.market_summary"):
        pd.testing.assert_frame_equal(table(backfilled, name), table(daily, name), check_exact=True)
    assert len(table(backfilled, "gold.indicators")) == 4 * len(calendar.sessions_between(*TARGET))


def test_windowed_indicators_equal_talib_over_the_full_history(silver_home, tmp_path):
    home = copy_home(silver_home, tmp_path / "h")
    run(home, [indicators], *TARGET)
    gold = table(home, "gold.indicators").set_index(["symbol", "trade_date"])
    silver = table(home, "silver.prices")
    assert lookback.window_start(TARGET[0]) > HISTORY[0]  # the window really cuts history
    for symbol, bars in silver.groupby("symbol"):
        close = bars.sort_values("trade_date").close.to_numpy()
        macd, macd_signal, macd_hist = talib.MACD(close, 12, 26, 9)
        upper, middle, lower = talib.BBANDS(close, 20, 2, 2, 0)
        reference = pd.DataFrame(
            {
                "sma_50": talib.SMA(close, 50),
                "ema_12": talib.EMA(close, 12),
                "ema_26": talib.EMA(close, 26),
                "macd": macd,
                "macd_signal": macd_signal,
                "macd_hist": macd_hist,
                "bb_upper": upper,
                "bb_middle": middle,
                "bb_lower": lower,
                "rsi_14": talib.RSI(close, 14),
            },
            index=pd.Index(bars.sort_values("trade_date").trade_date),
        )
        got = gold.loc[symbol]
        expected = reference.loc[got.index]
        for column in expected.columns:
            np.testing.assert_allclose(got[column], expected[column], rtol=1e-6, err_msg=column)


def test_charts_are_attached_to_indicator_materializations(silver_home, tmp_path):
    home = copy_home(silver_home, tmp_path / "h")
    charts = {"chart_AAPL", "chart_MSFT", "chart_XOM"}
    # A backfill charts once, on its last day; every day has its own row count.
    *earlier, last = run(home, [indicators], *TARGET).asset_materializations_for_node(
        "gold__indicators"
    )
    assert last.partition == TARGET[1].isoformat() and charts <= set(last.metadata)
    assert all(not charts & set(m.metadata) for m in earlier)
    assert {m.metadata["dagster/partition_row_count"].value for m in [*earlier, last]} == {4}
    result = run(home, [indicators], TARGET[1], TARGET[1])
    (materialization,) = result.asset_materializations_for_node("gold__indicators")
    meta = materialization.metadata
    assert charts <= set(meta)
    text = meta["chart_AAPL"].value
    assert text.startswith("![AAPL indicators](data:image/png;base64,")
    png = base64.b64decode(text.split(",", 1)[1].rstrip(")"))
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_new_signals_alert_once_across_reruns(silver_home, tmp_path):
    home = copy_home(silver_home, tmp_path / "h")
    run(home, [indicators], *TARGET)
    # The run's alert counts are on its last partition.
    first = run(home, [signals], *TARGET).asset_materializations_for_node("gold__signals")[-1]
    again = run(home, [signals], *TARGET).asset_materializations_for_node("gold__signals")[-1]
    found = table(home, "gold.signals")
    assert len(found) > 0
    assert first.metadata["alerts_sent"].value == len(found)
    assert again.metadata["alerts_sent"].value == 0
    assert again.metadata["alerts_already_sent"].value == len(found)
    ledger = sorted((home / "lake" / "alerts" / "sent").rglob("*.json"))
    assert len(ledger) == len(found)
