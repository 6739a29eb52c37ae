"""IO managers: DuckDB locally (dagster-duckdb), S3 Parquet + Glue in AWS mode."""

from stock_assets.io_managers.duckdb import WarehouseIOManager

__all__ = ["WarehouseIOManager"]
