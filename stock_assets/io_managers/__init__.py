"""IO managers: DuckDB locally, Iceberg in Glue in AWS; both offer read(table, partitions)."""

from stock_assets.io_managers.duckdb import WarehouseIOManager

__all__ = ["WarehouseIOManager"]
