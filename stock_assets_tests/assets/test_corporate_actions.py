"""silver.corporate_actions materialized for real: merged, corrected, read by gold."""

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from stock_assets import checks
from stock_assets.assets.gold import indicators
from stock_assets.assets.prices import ACTIONS_KEY, corporate_actions, prices, raw_quotes
from stock_assets.io_managers import WarehouseIOManager
from stock_assets_tests.conftest import local_resources

ASSETS = [raw_quotes, prices, corporate_actions, indicators]
RANGE = {
    "dagster/asset_partition_range_start": "2024-06-03",
    "dagster/asset_partition_range_end": "2024-06-14",
}


def run(home: Path, selection, actions: str, tags=RANGE) -> None:
    resources = local_resources(home, symbols="AAPL,MSFT", simulated_actions=actions)
    assert dg.materialize(ASSETS, resources=resources, selection=selection, tags=tags).success


def stored(home: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchdf()


def split_day_move(home: Path) -> float:
    sql = "SELECT pct_change FROM gold.indicators WHERE symbol = 'AAPL' AND trade_date = ?"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql, ["2024-06-10"]).fetchone()[0]


def test_a_corrected_or_late_action_lands_like_late_data(tmp_path):
    run(tmp_path, [raw_quotes, prices, corporate_actions], "AAPL:2024-06-10:split:4")
    first = stored(tmp_path, "SELECT * FROM silver.corporate_actions")
    assert first[["symbol", "action", "ratio"]].values.tolist() == [["AAPL", "SPLIT", 4.0]]
    # The vendor corrects the ratio and announces a dividend; a one-day run brings both
    # (its partition tag is its range), the other stored rows stay.
    corrected = "AAPL:2024-06-10:split:10,MSFT:2024-06-12:dividend:0.5"
    run(tmp_path, [corporate_actions], corrected, tags=RANGE)
    run(tmp_path, [corporate_actions], corrected, tags={"dagster/partition": "2024-06-12"})
    rows = stored(tmp_path, "SELECT * FROM silver.corporate_actions ORDER BY symbol")
    assert rows[["symbol", "ex_date", "action"]].values.tolist() == [
        ["AAPL", pd.Timestamp("2024-06-10"), "SPLIT"],
        ["MSFT", pd.Timestamp("2024-06-12"), "DIVIDEND"],
    ]
    assert rows.ratio.iloc[0] == 10.0 and rows.amount.iloc[1] == 0.5
    assert (rows.source == "simulated").all()


def test_indicators_read_the_stored_actions(tmp_path):
    """With the split stored, the split day's adjusted move is ordinary; without, -90 %."""
    split = "AAPL:2024-06-10:split:10"
    run(tmp_path, [raw_quotes, prices], split)
    run(tmp_path, [indicators], split)  # before the actions are stored: the raw jump
    naive = split_day_move(tmp_path)
    run(tmp_path, [corporate_actions, indicators], split)
    adjusted = split_day_move(tmp_path)
    assert naive < -85 and abs(adjusted) < 6


WHOLE_READS: list[tuple[str, tuple]] = []


class RecordingWarehouse(WarehouseIOManager):
    """The local IO manager, recording every table its `read` returns rows of."""

    def read(self, table, partitions=None):
        WHOLE_READS.append((table, tuple(partitions or ())))
        return super().read(table, partitions)


def test_the_references_check_asks_prices_only_which_symbols_exist(tmp_path):
    """The actions table is unpartitioned, so its check runs on every load: it must not load
    the whole price history (at 5,000 symbols x 10 years that alone took 4 GiB)."""
    resources = {
        **local_resources(
            tmp_path, symbols="AAPL,MSFT", simulated_actions="AAPL:2024-06-10:split:4"
        ),
        "io_manager": RecordingWarehouse(database=str(tmp_path / "warehouse.duckdb")),
    }
    actions_checks = [
        c for c in checks.ASSET_CHECKS if ACTIONS_KEY in {k.asset_key for k in c.check_keys}
    ]
    WHOLE_READS.clear()
    result = dg.materialize(
        [raw_quotes, prices, corporate_actions, *actions_checks], resources=resources, tags=RANGE
    )
    (references,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "references"
    ]
    assert references.passed  # AAPL's action: its bars were found among the distinct symbols
    assert ("silver.prices", ()) not in WHOLE_READS
    assert ("silver.corporate_actions", ()) in WHOLE_READS  # the checked table itself, whole
