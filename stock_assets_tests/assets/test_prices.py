"""bronze.raw_quotes -> silver.prices materialized for real into a temporary warehouse."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from stock_assets.assets.prices import prices, raw_quotes
from stock_assets.market import calendar
from stock_assets_tests.conftest import JULY_2024, local_resources

SYMBOLS = "AAPL,MSFT,ARM"


def backfill(home: Path, start: dt.date, end: dt.date, **market) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_quotes, prices],
        resources=local_resources(home, symbols=SYMBOLS, **market),
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
    )


def query(home: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchdf()


def test_backfill_lands_every_symbol_and_trading_day_and_no_holiday(data_home):
    assert backfill(data_home, *JULY_2024).success
    got = query(data_home, "SELECT symbol, trade_date FROM silver.prices ORDER BY 1, 2")
    sessions = calendar.sessions_between(*JULY_2024)
    assert dt.date(2024, 7, 4) not in sessions
    # ARM is listed since 2023, AAPL/MSFT since before the calendar: all trade every session.
    expected = {(s, d) for s in SYMBOLS.split(",") for d in sessions}
    assert {(r.symbol, r.trade_date.date()) for r in got.itertuples()} == expected
    types = dict(
        query(
            data_home,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'silver' AND table_name = 'prices'",
        ).values
    )
    assert types["volume"] == "BIGINT" and types["trade_date"] == "DATE"


def test_bronze_keeps_each_record_verbatim_with_its_lake_object(data_home):
    assert backfill(data_home, *JULY_2024).success
    rows = query(data_home, "SELECT * FROM bronze.raw_quotes WHERE trade_date = '2024-07-05'")
    assert len(rows) == 3
    for row in rows.itertuples():
        lines = (data_home / "lake" / row.object_key).read_text().splitlines()
        stored = json.loads(lines[row.record_no])
        assert stored["payload"] == row.payload and stored["symbol"] == row.symbol
        assert row.object_key.startswith("bronze/raw_quotes/trade_date=2024-07-05/")


def test_rematerializing_a_range_replaces_it_exactly(data_home):
    assert backfill(data_home, *JULY_2024).success
    first = query(data_home, "SELECT * EXCLUDE (ingested_at) FROM silver.prices ORDER BY 1, 2")
    bronze_count = query(data_home, "SELECT count(*) AS n FROM bronze.raw_quotes").n[0]
    # Overlapping re-run of part of the range, then the whole range again.
    assert backfill(data_home, dt.date(2024, 7, 8), dt.date(2024, 7, 9)).success
    assert backfill(data_home, *JULY_2024).success
    again = query(data_home, "SELECT * EXCLUDE (ingested_at) FROM silver.prices ORDER BY 1, 2")
    pd.testing.assert_frame_equal(first, again)
    assert query(data_home, "SELECT count(*) AS n FROM bronze.raw_quotes").n[0] == bronze_count


def test_bad_records_are_rejected_with_a_reason_while_good_ones_land(data_home):
    assert backfill(data_home, *JULY_2024, fault_rate=0.35).success
    rejects = query(data_home, "SELECT * FROM silver.price_rejects")
    landed = query(data_home, "SELECT symbol, trade_date FROM silver.prices")
    raw = query(
        data_home, "SELECT count(DISTINCT (symbol, trade_date)) AS n FROM bronze.raw_quotes"
    ).n[0]
    assert len(rejects) > 0 and rejects.reason.str.len().min() > 5
    assert rejects.object_key.str.startswith("bronze/raw_quotes/").all()
    # Every (symbol, day) is either in silver or explained by a reject: nothing silently lost.
    rejected_days = {(r.symbol, r.trade_date.date()) for r in rejects.itertuples()}
    landed_days = {(r.symbol, r.trade_date.date()) for r in landed.itertuples()}
    assert landed_days | rejected_days == {
        (s, d) for s in SYMBOLS.split(",") for d in calendar.sessions_between(*JULY_2024)
    }
    assert len(landed_days) + len(rejected_days - landed_days) == raw


def test_materialization_metadata_describes_the_output(data_home):
    result = backfill(data_home, *JULY_2024)
    (silver,) = [
        m
        for m in result.asset_materializations_for_node("prices")
        if m.asset_key == dg.AssetKey(["silver", "prices"])
    ][:1]
    meta = silver.metadata
    assert meta["rows"].value == 3 * len(calendar.sessions_between(*JULY_2024))
    assert meta["symbols"].value == "AAPL, ARM, MSFT"
    assert [c.name for c in meta["dagster/column_schema"].schema.columns][:3] == [
        "symbol",
        "trade_date",
        "open",
    ]
    assert "| symbol |" in meta["preview"].value


def test_a_source_that_cannot_run_fails_the_run_and_keeps_old_data(data_home, monkeypatch):
    monkeypatch.delenv("ALPHA_VANTAGE_API_KEY", raising=False)
    assert backfill(data_home, *JULY_2024).success
    before = query(data_home, "SELECT count(*) AS n FROM silver.prices").n[0]
    result = dg.materialize(
        [raw_quotes, prices],
        resources=local_resources(data_home, source="alpha_vantage", symbols=SYMBOLS),
        partition_key="2024-07-05",
        raise_on_error=False,
    )
    assert not result.success
    assert query(data_home, "SELECT count(*) AS n FROM silver.prices").n[0] == before
