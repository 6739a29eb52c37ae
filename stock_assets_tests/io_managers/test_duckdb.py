"""The warehouse IO manager: contract DDL, by-name inserts, atomic partition replacement."""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets.io_managers import WarehouseIOManager
from stock_assets.market.schemas import INDICATORS, PRICES, conform
from stock_assets.partitions import TRADING_DAYS

DAY = "2024-07-05"


def prices_frame(close: float, volume: object = 100) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "symbol": "AAPL",
                "trade_date": dt.date(2024, 7, 5),
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "adj_close": close,
                "volume": volume,
                "source": "test",
                "ingested_at": pd.Timestamp("2024-07-05 21:00"),
            }
        ]
    )
    return frame


def make_asset(frame: pd.DataFrame) -> dg.AssetsDefinition:
    @dg.asset(
        key=["silver", "prices"],
        partitions_def=TRADING_DAYS,
        metadata={"partition_expr": "trade_date"},
    )
    def _prices() -> pd.DataFrame:
        return frame

    return _prices


def write(database: str, frame: pd.DataFrame, day: str = DAY) -> bool:
    return dg.materialize(
        [make_asset(frame)],
        resources={"io_manager": WarehouseIOManager(database=database)},
        partition_key=day,
        raise_on_error=False,
    ).success


def rows(database: str) -> pd.DataFrame:
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute("SELECT * FROM silver.prices").fetchdf()


def test_table_is_created_from_the_contract_and_columns_match_by_name(tmp_path):
    database = str(tmp_path / "w.duckdb")
    reordered = conform(prices_frame(10.0), PRICES)[list(reversed(PRICES.column_names))]
    assert write(database, reordered)
    with duckdb.connect(database, read_only=True) as conn:
        described = conn.execute("DESCRIBE silver.prices").fetchall()
    assert [(c[0], c[1]) for c in described] == list(PRICES.columns)
    assert rows(database).close.tolist() == [10.0]


def test_a_failed_write_leaves_the_previous_partition_intact(tmp_path):
    database = str(tmp_path / "w.duckdb")
    assert write(database, conform(prices_frame(10.0), PRICES))
    # The delete of the old partition runs first; the insert then fails on a bad value.
    assert not write(database, prices_frame(11.0, volume="not-a-number"))
    assert rows(database).close.tolist() == [10.0]
    assert write(database, conform(prices_frame(12.0), PRICES))
    assert rows(database).close.tolist() == [12.0]


def test_read_returns_the_requested_days_as_the_asset_produced_them(tmp_path):
    database = str(tmp_path / "w.duckdb")
    days = {"2024-07-03": 10.0, "2024-07-05": 11.0, "2024-07-08": 12.0}
    for day, close in days.items():
        frame = conform(prices_frame(close), PRICES).assign(trade_date=dt.date.fromisoformat(day))
        assert write(database, frame, day)
    warehouse = WarehouseIOManager(database=database)

    two = warehouse.read("silver.prices", ["2024-07-05", dt.date(2024, 7, 8)])
    assert sorted(zip(two.trade_date, two.close, strict=True)) == [
        (dt.date(2024, 7, 5), 11.0),
        (dt.date(2024, 7, 8), 12.0),
    ]
    assert list(two.columns) == PRICES.column_names
    assert len(warehouse.read("silver.prices")) == 3 == len(rows(database))
    # A table not written yet reads as its empty contract; a name is never spliced into SQL.
    assert list(warehouse.read("gold.indicators").columns) == INDICATORS.column_names
    with pytest.raises(ValueError, match="not a table name"):
        warehouse.read("silver.prices; DROP TABLE silver.prices")


def test_distinct_returns_the_keys_of_the_rows_read_would_return(tmp_path):
    database = str(tmp_path / "w.duckdb")
    for day, symbol in (("2024-07-03", "AAPL"), ("2024-07-05", "AAPL"), ("2024-07-08", "MSFT")):
        frame = conform(prices_frame(10.0), PRICES).assign(
            trade_date=dt.date.fromisoformat(day), symbol=symbol
        )
        assert write(database, frame, day)
    warehouse = WarehouseIOManager(database=database)

    every = warehouse.distinct("silver.prices", ["symbol"])
    assert list(every.columns) == ["symbol"] and sorted(every.symbol) == ["AAPL", "MSFT"]
    days = warehouse.distinct("silver.prices", ["symbol", "trade_date"], ["2024-07-05"])
    assert days.values.tolist() == [["AAPL", dt.date(2024, 7, 5)]]
    assert warehouse.distinct("gold.indicators", ["symbol"]).empty  # not written yet
    with pytest.raises(ValueError, match="not a column name"):
        warehouse.distinct("silver.prices", ['symbol" FROM silver.prices; --'])
