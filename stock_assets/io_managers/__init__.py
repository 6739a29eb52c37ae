"""IO managers: DuckDB locally, S3 Parquet + Glue in AWS; both offer read(table, partitions)."""

from stock_assets.io_managers.duckdb import WarehouseIOManager

__all__ = ["WarehouseIOManager"]
