"""The local warehouse: dagster-duckdb's pandas IO manager with two guarantees added.

1. Tables are created from the declared contract (market.schemas) instead of being
   inferred from the first DataFrame, so `volume` is BIGINT and `trade_date` a DATE from
   the very first write, and inserts match columns by name.
2. Replacing a partition (delete + insert) happens in one transaction: a failed or killed
   write leaves the previous partition in place, never half of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd
from dagster import InputContext, MetadataValue, OutputContext, TableColumn, TableSchema
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler

from stock_assets.io_managers.merge import MergeSpec, merge_spec
from stock_assets.market.schemas import TABLES


def _contract(table_slice: TableSlice):
    return TABLES.get(f"{table_slice.schema}.{table_slice.table}")


class _TransactionalDuckDbClient(DuckDbClient):
    @staticmethod
    @contextmanager
    def connect(context, table_slice: TableSlice) -> Iterator:
        with DuckDbClient.connect(context, table_slice) as conn:
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                conn.close()  # dagster-duckdb only closes on success; a failed write must too
                raise
            conn.commit()

    @staticmethod
    def ensure_schema_exists(context: OutputContext, table_slice: TableSlice, connection) -> None:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{table_slice.schema}"')
        contract = _contract(table_slice)
        if contract is not None:
            connection.execute(contract.ddl())

    @staticmethod
    def delete_table_slice(context: OutputContext, table_slice: TableSlice, connection) -> None:
        if merge_spec(context.definition_metadata) is not None:
            return  # merged assets keep their stored rows; see io_managers.merge
        exists = connection.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [table_slice.schema, table_slice.table],
        ).fetchone()[0]
        if exists:
            DuckDbClient.delete_table_slice(context, table_slice, connection)


class _ContractPandasHandler(DuckDBPandasTypeHandler):
    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection
    ) -> None:
        if _contract(table_slice) is None:
            super().handle_output(context, table_slice, obj, connection)
            return
        if not obj.empty:
            table = f'"{table_slice.schema}"."{table_slice.table}"'
            connection.register("_stock_assets_out", obj)
            spec = merge_spec(context.definition_metadata)
            for statement in _merge_statements(table, spec) if spec else [_INSERT.format(table)]:
                connection.execute(statement)
            connection.unregister("_stock_assets_out")
        count = {"partition_row_count" if context.has_partition_key else "row_count": len(obj)}
        context.add_output_metadata(
            {
                **TableMetadataSet(**count, storage_kind="duckdb"),
                "dataframe_columns": MetadataValue.table_schema(
                    TableSchema(
                        columns=[TableColumn(str(n), str(t)) for n, t in obj.dtypes.items()]
                    )
                ),
            }
        )

    def load_input(
        self, context: InputContext, table_slice: TableSlice, connection
    ) -> pd.DataFrame:
        """Load with the same dtypes assets produce (DuckDB hands DATE back as datetime64)."""
        frame = super().load_input(context, table_slice, connection)
        contract = _contract(table_slice)
        if contract is not None and not frame.empty:
            for name, sql_type in contract.columns:
                if sql_type == "DATE" and name in frame:
                    frame[name] = frame[name].dt.date
        return frame


_INSERT = "INSERT INTO {} BY NAME SELECT * FROM _stock_assets_out"


def _merge_statements(table: str, spec: MergeSpec) -> list[str]:
    """SQL for a merge write (io_managers.merge): keys matched, newest or stored row kept."""
    match = " AND ".join(f't."{k}" = o."{k}"' for k in spec.keys)
    statements = []
    if spec.newest_by:
        newer = f'o."{spec.newest_by}" > t."{spec.newest_by}"'
        statements.append(
            f"DELETE FROM {table} t USING _stock_assets_out o WHERE {match} AND {newer}"
        )
    statements.append(
        f"INSERT INTO {table} BY NAME SELECT * FROM _stock_assets_out o "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})"
    )
    return statements


class WarehouseIOManager(DuckDBPandasIOManager):
    """DuckDBPandasIOManager with contract DDL and transactional partition replacement."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [_ContractPandasHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=_TransactionalDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=pd.DataFrame,
            io_manager_name="DuckDBIOManager",
        )
