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


def materializations(result: dg.ExecuteInProcessResult, *path: str) -> dict[str, dict]:
    """Each partition's materialization metadata (plain values) of one asset of the run."""
    node = "prices" if path[0] == "silver" else "__".join(path)
    return {
        m.partition: {name: value.value for name, value in m.metadata.items()}
        for m in result.asset_materializations_for_node(node)
        if m.asset_key == dg.AssetKey(list(path))
    }


ROWS = "dagster/partition_row_count"
HEAVY = {"preview", "symbols", "dagster/column_schema", "run_rows", "source", "carried_forward"}


def test_a_backfill_describes_the_run_once_and_counts_each_day(data_home):
    sessions = [d.isoformat() for d in calendar.sessions_between(*JULY_2024)]
    result = backfill(data_home, *JULY_2024)
    silver = materializations(result, "silver", "prices")
    bronze = materializations(result, "bronze", "raw_quotes")
    assert list(silver) == list(bronze) == sessions
    for day in sessions:
        assert silver[day][ROWS] == 3 and silver[day]["symbol_count"] == 3
        assert bronze[day][ROWS] == 3 and bronze[day]["symbol_errors"] == {}
    for day in sessions[:-1]:  # no run-wide description on the earlier days
        assert not HEAVY & (set(silver[day]) | set(bronze[day]))
    last = silver[sessions[-1]]
    assert last["run_rows"] == 3 * len(sessions) and last["run_partitions"] == len(sessions)
    assert last["symbols"] == "AAPL, ARM, MSFT" and "| symbol |" in last["preview"]
    # The last day's preview shows that day's rows only, numbers rounded for reading.
    rows = [row.split(" | ") for row in last["preview"].splitlines()[2:]]
    assert {row[1] for row in rows} == {sessions[-1]}
    prices = [cell for row in rows for cell in row[2:7]]  # open .. adj_close
    assert prices and all(len(cell.partition(".")[2]) <= 4 for cell in prices)
    assert last["dagster/table_name"] == "silver.prices"
    columns = last["dagster/column_schema"].columns
    assert [c.name for c in columns][:3] == ["symbol", "trade_date", "open"]
    assert all(c.description for c in columns)
    assert HEAVY - {"source", "carried_forward"} <= set(last)
    assert {"source", "carried_forward", "preview"} <= set(bronze[sessions[-1]])


def test_a_one_day_run_keeps_the_whole_description(data_home):
    result = backfill(data_home, dt.date(2024, 7, 5), dt.date(2024, 7, 5))
    (silver,) = materializations(result, "silver", "prices").values()
    (bronze,) = materializations(result, "bronze", "raw_quotes").values()
    assert silver[ROWS] == 3 and silver["symbols"] == "AAPL, ARM, MSFT"
    assert {"preview", "dagster/column_schema", "rejected_records"} <= set(silver)
    assert bronze["symbol_errors"] == {} and bronze["source"] == "simulated"


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


def test_a_session_that_has_not_closed_is_refused_with_its_reason(data_home, monkeypatch):
    """Launched at 15:59 New York for that day (the UI's "Latest" partition): no bar exists."""
    day = dt.date(2024, 11, 29)  # the day after Thanksgiving closes at 13:00
    morning = dt.datetime(2024, 11, 29, 17, 59, tzinfo=dt.UTC)  # 12:59 New York
    monkeypatch.setattr(calendar, "utc_now", lambda: morning)
    result = dg.materialize(
        [raw_quotes, prices],
        resources=local_resources(data_home, symbols=SYMBOLS),
        partition_key=day.isoformat(),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert "have not closed yet" in message and "2024-11-29 closes 13:00 New York" in message
    assert not (data_home / "lake" / "bronze").exists()

    monkeypatch.setattr(calendar, "utc_now", lambda: morning + dt.timedelta(minutes=2))
    assert backfill(data_home, day, day).success
