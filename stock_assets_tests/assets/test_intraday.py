"""Arrivals runs -> silver.intraday_bars, vendor bars replacing them, gold.daily_kpis.

The stored bars are compared with the DuckDB reference aggregation of test_intraday over
the stored stream history, never with the code under test.
"""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd

from stock_assets.assets.intraday import INTRADAY_BARS_KEY, daily_kpis, intraday_bars
from stock_assets.assets.stream import stream_assets
from stock_assets.checks import ASSET_CHECKS
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.resources.lake import LocalLake
from stock_assets_tests.conftest import local_resources, sense
from stock_assets_tests.market.test_intraday import assert_bars_equal, reference_bars

DAY = dt.date(2024, 7, 5)
SYMBOLS = ["AAPL", "MSFT", "TMUS"]
BAR_CHECKS = [c for c in ASSET_CHECKS if {k.asset_key for k in c.check_keys} == {INTRADAY_BARS_KEY}]


def quotes_at(minute: int, second: int = 0) -> list[dict]:
    as_of = dt.datetime(2024, 7, 5, 14, minute, second, tzinfo=dt.UTC)
    return SimulatedSource().latest_quotes(SYMBOLS, as_of)


def ingest(home, lake, objects: dict[str, list[dict]], cursor=None):
    """Write the objects, evaluate the sensor and run what it asks for; the next cursor."""
    for key, quotes in objects.items():
        lake.put(key, encode_micro_batch(quotes, "jsonl"))
    result = sense(lake, cursor)
    for request in result.run_requests:
        run = dg.materialize(
            [stream_assets, intraday_bars],
            resources={**local_resources(home), "lake": lake},
            run_config=request.run_config,
            partition_key=request.partition_key,
            tags=request.tags,
        )
        assert run.success
    return result.cursor


def table(home, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchdf()


def stored_bars(home) -> pd.DataFrame:
    bars = table(home, "SELECT * FROM silver.intraday_bars ORDER BY symbol, bar_start")
    return bars.assign(trade_date=pd.to_datetime(bars["trade_date"]).dt.date)


def test_arrivals_in_any_order_leave_the_bars_of_all_quotes(tmp_path):
    objects = {
        f"landing/quotes/2024/07/05/b{m}.jsonl": quotes_at(30 + m // 2, 30 * (m % 2))
        for m in range(6)
    }
    orders = [list(objects), list(reversed(objects))]
    results = []
    for n, order in enumerate(orders):
        home = tmp_path / f"home{n}"
        home.mkdir()
        lake = LocalLake(root=str(home / "lake"))
        cursor = None
        for key in order[:3]:
            cursor = ingest(home, lake, {key: objects[key]}, cursor)
        cursor = ingest(home, lake, {k: objects[k] for k in order[3:]}, cursor)
        ingest(home, lake, {order[0]: objects[order[0]]}, cursor)  # re-listed: nothing new
        quotes = table(home, "SELECT symbol, ts, price, volume FROM silver.stream_history")
        bars = stored_bars(home)
        assert_bars_equal(bars, reference_bars(quotes))
        assert set(bars["source"]) == {"stream"} and len(bars) == 3 * 3
        results.append(bars.drop(columns="ingested_at"))
    pd.testing.assert_frame_equal(results[0], results[1])


def test_vendor_bars_replace_the_stream_for_a_closed_session_and_keep_their_source(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    lake = LocalLake(root=str(home / "lake"))
    cursor = ingest(home, lake, {"landing/quotes/2024/07/05/a.jsonl": quotes_at(31)})
    resources = {**local_resources(home, symbols=",".join(SYMBOLS[:2])), "lake": lake}
    config = {"ops": {"silver__intraday_bars": {"config": {"vendor_sessions": 1}}}}
    run = dg.materialize(
        [stream_assets, intraday_bars, *BAR_CHECKS],
        selection=dg.AssetSelection.assets(intraday_bars.key),
        resources=resources,
        partition_key=DAY.isoformat(),
        run_config=config,
    )
    # The bars' checks in the same run: the stream-only symbol lacks most of its minutes (a
    # WARN listing them in New York time); everything else passes.
    evaluations = {e.check_name: e for e in run.get_asset_check_evaluations()}
    assert set(evaluations) == {"schema", "keys", "values", "completeness", "daily_agreement"}
    assert {name for name, e in evaluations.items() if not e.passed} == {"completeness"}
    completeness = evaluations["completeness"]
    assert completeness.severity == dg.AssetCheckSeverity.WARN
    sample = completeness.metadata["failing_sample"].value
    assert "| TMUS | 2024-07-05 | 389 | 390 | 09:30, 09:31, 09:32" in sample
    assert "AAPL" not in sample and "MSFT" not in sample
    (materialization,) = run.asset_materializations_for_node("silver__intraday_bars")
    chart = materialization.metadata["chart_AAPL"].value
    assert chart.startswith("![AAPL intraday](data:image/png;base64,iVBORw0KGgo")  # a PNG
    bars = stored_bars(home)
    by_source = bars.groupby(["symbol", "source"]).size().to_dict()
    # AAPL and MSFT got the simulator's 390 bars; TMUS, not in its pull, keeps the stream's.
    assert by_source == {
        ("AAPL", "simulated"): 390,
        ("MSFT", "simulated"): 390,
        ("TMUS", "stream"): 1,
    }
    assert bars.loc[bars.source == "simulated", "quotes"].isna().all()
    # A late stream file for the same session changes nothing where the vendor has spoken.
    ingest(home, lake, {"landing/quotes/2024/07/05/late.jsonl": quotes_at(45)}, cursor)
    after = stored_bars(home)
    assert after.groupby(["symbol", "source"]).size().to_dict() == {
        **by_source,
        ("TMUS", "stream"): 2,
    }
    # The late file wrote TMUS's 14:45 bar only: its 14:31 bar is the same write as before.
    tmus = [frame[frame.symbol == "TMUS"].iloc[0] for frame in (bars, after)]
    assert tmus[0].equals(tmus[1]) and tmus[1].bar_start == pd.Timestamp("2024-07-05 14:31")
    vendor = after[after.source == "simulated"].drop(columns="ingested_at").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        vendor, bars[bars.source == "simulated"].drop(columns="ingested_at").reset_index(drop=True)
    )
    # Daily figures: the simulator's bars add up to its daily bar.
    assert dg.materialize(
        [stream_assets, intraday_bars, daily_kpis],
        selection=[daily_kpis.key],
        resources=resources,
        partition_key=DAY.isoformat(),
    ).success
    kpis = table(home, "SELECT * FROM gold.daily_kpis ORDER BY symbol")
    daily = SimulatedSource().daily_bars("AAPL", DAY, DAY).iloc[0]
    aapl = kpis[kpis.symbol == "AAPL"].iloc[0]
    assert (aapl.open, aapl.close, aapl.volume) == (daily.open, daily.close, daily.volume)
    assert aapl.bars == aapl.bars_expected == 390 and aapl.completeness == 1.0
    assert aapl.range_pct == 100 * (daily.high - daily.low) / daily.open
