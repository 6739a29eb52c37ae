"""DuckDB's iceberg extension, a reader sharing no code with the project, sees exactly
what the Iceberg IO manager committed: the current snapshot after a range replace, a held
snapshot after it, one day by a trade_date filter, and stream merges and their compaction
counted once.

It runs in its own locked environment (DuckDB 1.5.5, the version the extension wheels
exist for; `make install-test` syncs it) and finds each table where Athena does: the
`metadata_location` of its Glue entry."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pandas as pd
import pyarrow.parquet as pq

from stock_assets.io_managers.iceberg_maintenance import compact
from stock_assets_tests.io_managers.test_iceberg import bars, iceberg
from stock_assets_tests.io_managers.test_iceberg_lake import (
    DAYS,
    HISTORY,
    history_table,
    manager,  # noqa: F401  (fixture)
    prices_table,
    quotes,
)

READER = Path(__file__).parent / "duckdb_iceberg"
READER_PYTHON = READER / ".venv" / "bin" / "python"


def metadata_location(table: str) -> str:
    """The metadata file Glue points at, which is what Athena reads."""
    database, name = table.split(".")
    entry = boto3.client("glue").get_table(DatabaseName=database, Name=name)["Table"]
    assert entry["Parameters"]["table_type"].upper() == "ICEBERG"
    return entry["Parameters"]["metadata_location"]


def duckdb_read(tmp_path: Path, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    assert READER_PYTHON.exists(), f"{READER_PYTHON} is missing: run `make install-test`"
    subprocess.run(
        [str(READER_PYTHON), str(READER / "scan.py"), str(tmp_path)],
        input=json.dumps(queries),
        text=True,
        check=True,
        timeout=300,
    )
    return {name: pq.read_table(tmp_path / f"{name}.parquet").to_pandas() for name in queries}


def scan(location: str, where: str = "") -> str:
    return f"SELECT * FROM iceberg_scan('{location}') {where}"


def in_order(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by).reset_index(drop=True)


def test_duckdb_reads_exactly_the_committed_snapshots(manager, tmp_path):  # noqa: F811
    prices = prices_table(manager)
    manager.write(prices, bars(DAYS, 10.0), DAYS)
    held = metadata_location("silver.prices")
    manager.write(prices, bars(DAYS[:2], 20.0), DAYS[:2])  # one commit replaces two days

    history = history_table(manager)
    for batch in (quotes(0), quotes(1), quotes(1), pd.concat([quotes(1), quotes(2)])):
        manager.write(history, batch, ["2024-07-05"])
    before_compaction = metadata_location(HISTORY)
    assert compact(manager, history, min_files=1) == 1

    current = metadata_location("silver.prices")
    read = duckdb_read(
        tmp_path,
        {
            "prices_now": scan(current),
            "prices_held": scan(held),
            "prices_day": scan(current, f"WHERE trade_date = DATE '{DAYS[2]}'"),
            "history_now": scan(metadata_location(HISTORY)),
            "history_before": scan(before_compaction),
        },
    )

    by_day = ["trade_date", "symbol"]
    expected = in_order(iceberg().scan().to_arrow().to_pandas(), by_day)
    now = in_order(read["prices_now"], by_day)
    pd.testing.assert_frame_equal(now, expected, check_dtype=False)
    assert len(now) == 6 and sorted(now.open.unique()) == [10.0, 20.0]
    assert now.loc[now.trade_date.astype(str) < DAYS[2], "open"].eq(20.0).all()
    assert read["prices_held"].open.eq(10.0).all() and len(read["prices_held"]) == 6
    day = read["prices_day"]
    assert len(day) == 2 and day.open.eq(10.0).all()
    assert set(day.trade_date.astype(str)) == {DAYS[2]}

    by_quote = ["ts", "symbol"]
    stored = in_order(iceberg(HISTORY).scan().to_arrow().to_pandas(), by_quote)
    for name in ("history_now", "history_before"):
        seen = in_order(read[name], by_quote)
        assert len(seen) == 6 and not seen.duplicated(by_quote).any(), name
        pd.testing.assert_frame_equal(seen, stored, check_dtype=False)
