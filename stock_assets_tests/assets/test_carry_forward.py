"""A symbol the source fails on keeps the rows of its earlier pulls (never a partial partition)."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from stock_assets.assets.prices import prices, raw_quotes
from stock_assets.market import bronze, calendar
from stock_assets_tests.assets.test_prices import query
from stock_assets_tests.conftest import local_resources

FIRST, LAST = dt.date(2024, 1, 2), dt.date(2024, 1, 5)
SESSIONS = [d.isoformat() for d in calendar.sessions_between(FIRST, LAST)]


def write_csv(folder: Path, symbol: str, close: float) -> None:
    """A Yahoo-style export of one symbol: a valid bar per session, closing at `close`."""
    rows = [
        f"{day},{close},{close + 1},{close - 1},{close},{close},{1000 + i}"
        for i, day in enumerate(SESSIONS)
    ]
    (folder / f"{symbol}.csv").write_text(
        "\n".join(["Date,Open,High,Low,Close,Adj Close,Volume", *rows])
    )


def pull(home: Path, csv_folder: Path, lake=None) -> dg.ExecuteInProcessResult:
    resources = local_resources(home, source="csv", csv_path=str(csv_folder), symbols="AAPL,MSFT")
    if lake is not None:
        resources["lake"] = lake
    return dg.materialize(
        [raw_quotes, prices],
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": FIRST.isoformat(),
            "dagster/asset_partition_range_end": LAST.isoformat(),
        },
    )


def bronze_metadata(result: dg.ExecuteInProcessResult) -> dict:
    """The run's bronze/raw_quotes metadata (on the run's last partition)."""
    materialization = result.asset_materializations_for_node("bronze__raw_quotes")[-1]
    return {name: value.value for name, value in materialization.metadata.items()}


def rows(home: Path, table: str, symbol: str) -> pd.DataFrame:
    return query(home, f"SELECT * FROM {table} WHERE symbol = '{symbol}' ORDER BY trade_date")


def test_a_failed_symbol_keeps_its_earlier_rows_while_the_others_are_replaced(
    data_home, tmp_path, lake
):
    csv_folder = tmp_path / "csv"
    csv_folder.mkdir()
    write_csv(csv_folder, "AAPL", 100.0)
    write_csv(csv_folder, "MSFT", 200.0)
    first = bronze_metadata(pull(data_home, csv_folder, lake))
    assert first["carried_forward"] == {} and first["symbol_errors"] == {}
    msft_bronze = rows(data_home, "bronze.raw_quotes", "MSFT")
    msft_silver = rows(data_home, "silver.prices", "MSFT").drop(columns="ingested_at")
    aapl_keys = set(rows(data_home, "bronze.raw_quotes", "AAPL").object_key)
    assert len(msft_bronze) == len(SESSIONS) == 4

    write_csv(csv_folder, "AAPL", 110.0)  # a corrected AAPL; MSFT now fails at the source
    (csv_folder / "MSFT.csv").unlink()
    # Twice: the second failing pull must find MSFT in the first pull, past the second's
    # objects, which hold only AAPL.
    for _ in range(2):
        meta = bronze_metadata(pull(data_home, csv_folder, lake))
        assert "MSFT" in meta["symbol_errors"]
        assert meta["carried_forward"] == {"MSFT": SESSIONS}
        pd.testing.assert_frame_equal(rows(data_home, "bronze.raw_quotes", "MSFT"), msft_bronze)
        pd.testing.assert_frame_equal(
            rows(data_home, "silver.prices", "MSFT").drop(columns="ingested_at"), msft_silver
        )
        aapl = rows(data_home, "silver.prices", "AAPL")
        assert list(aapl.close) == [110.0] * 4
        new_keys = set(rows(data_home, "bronze.raw_quotes", "AAPL").object_key)
        assert new_keys.isdisjoint(aapl_keys) and len(new_keys) == 4  # this pull's objects
        aapl_keys = new_keys


def test_a_first_pull_has_nothing_to_carry_and_reports_the_symbol(data_home, tmp_path):
    csv_folder = tmp_path / "csv"
    csv_folder.mkdir()
    write_csv(csv_folder, "AAPL", 100.0)
    meta = bronze_metadata(pull(data_home, csv_folder))
    assert "MSFT" in meta["symbol_errors"] and meta["carried_forward"] == {}
    assert rows(data_home, "bronze.raw_quotes", "MSFT").empty
    assert len(rows(data_home, "silver.prices", "AAPL")) == 4


def test_the_latest_earlier_pull_is_chosen_by_the_fetch_time_in_its_key_not_its_name():
    day = bronze.day_prefix("raw_quotes", FIRST)
    listed = [  # in name order, as S3 lists them: the source name sorts before the time
        f"{day}alpha_vantage-20240102T230000Z-1a2b3c4d.jsonl",
        f"{day}csv-20240103T090000Z-5e6f7a8b.jsonl",
        f"{day}simulated-20240103T100000Z-9c0d1e2f.jsonl",  # after the current pull
        f"{day}README.md",
    ]
    now = dt.datetime(2024, 1, 3, 9, 30, tzinfo=dt.UTC)
    got = bronze.earlier_pulls(listed, now)
    assert [(p.source, p.fetched_at.isoformat()) for p in got] == [
        ("csv", "2024-01-03T09:00:00+00:00"),
        ("alpha_vantage", "2024-01-02T23:00:00+00:00"),
    ]
