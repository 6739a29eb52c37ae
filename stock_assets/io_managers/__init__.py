"""IO managers: DuckDB locally, Iceberg in Glue in AWS; both offer read(table, partitions)."""

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

import pandas as pd

from stock_assets.io_managers.duckdb import WarehouseIOManager


class TableReader(Protocol):
    """What assets and checks may ask of the `io_manager` resource in any mode."""

    def read(
        self, table: str, partitions: Sequence[str | dt.date] | None = None
    ) -> pd.DataFrame: ...

    def distinct(
        self,
        table: str,
        columns: Sequence[str],
        partitions: Sequence[str | dt.date] | None = None,
    ) -> pd.DataFrame: ...


__all__ = ["TableReader", "WarehouseIOManager"]
