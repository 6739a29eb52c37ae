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
import pyarrow as pa
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
        if _exists(connection, table_slice):
            DuckDbClient.delete_table_slice(context, table_slice, connection)


def _exists(connection, table_slice: TableSlice) -> bool:
    return bool(
        connection.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [table_slice.schema, table_slice.table],
        ).fetchone()[0]
    )


class _ContractPandasHandler(DuckDBPandasTypeHandler):
    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection
    ) -> None:
        if _contract(table_slice) is None:
            super().handle_output(context, table_slice, obj, connection)
            return
        if not obj.empty:
            table = f'"{table_slice.schema}"."{table_slice.table}"'
            spec = merge_spec(context.definition_metadata)
            # DuckDB scans Arrow in parallel, while it converts pandas' Python strings one by
            # one: 40 % less time for the batch tables (1.76 -> 1.0 s at 500 x 1,000 sessions)
            # and the stream's hot path. One converting thread: the columns are quick, and
            # hand-offs cost more on busy CPUs.
            out = pa.Table.from_pandas(obj, preserve_index=False, nthreads=1)
            connection.register("_stock_assets_out", out)
            if spec:
                _merge(connection, table, spec)
            else:
                connection.execute(_INSERT.format(table))
            connection.unregister("_stock_assets_out")
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            # A backfill's output: Dagster would copy this onto every day's materialization,
            # with the whole run's count; the assets record each day's own (assets/metadata.py).
            return
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
        """Load with the same dtypes assets produce (DuckDB hands DATE back as datetime64).

        A contract table nobody has written yet reads as empty, as on S3: the daily job's
        intraday bars read the stream history before the first arrival."""
        contract = _contract(table_slice)
        if contract is not None and not _exists(connection, table_slice):
            return contract.empty_frame()
        frame = super().load_input(context, table_slice, connection)
        if contract is not None and not frame.empty:
            for name, sql_type in contract.columns:
                if sql_type == "DATE" and name in frame:
                    frame[name] = frame[name].dt.date
        return frame


_INSERT = "INSERT INTO {} BY NAME SELECT * FROM _stock_assets_out"


def _merge(connection, table: str, spec: MergeSpec) -> None:
    """A merge write (io_managers.merge): keys matched, newest or stored row kept.

    Only stored rows whose keys lie within the batch's key ranges can match. Saying so lets
    DuckDB skip the other row groups by their min/max instead of reading the whole table,
    so the cost of a stream micro-batch does not grow with the history it joins.
    """
    batch = "_stock_assets_out"
    if spec.fallback:
        batch = _without_fallback_rows(connection, table, spec)
    ranges = ", ".join(f'min("{k}"), max("{k}")' for k in spec.keys)
    bounds = connection.execute(f"SELECT {ranges} FROM {batch}").fetchone()
    match = " AND ".join(f't."{k}" = o."{k}" AND t."{k}" BETWEEN ? AND ?' for k in spec.keys)
    if spec.newest_by:
        newer = f'o."{spec.newest_by}" > t."{spec.newest_by}"'
        connection.execute(
            f"DELETE FROM {table} t USING {batch} o WHERE {match} AND {newer}", bounds
        )
    connection.execute(
        f"INSERT INTO {table} BY NAME SELECT * FROM {batch} o "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})",
        bounds,
    )


def _without_fallback_rows(connection, table: str, spec: MergeSpec) -> str:
    """Delete stored fallback rows the batch outranks; return the batch rows still to write."""
    column, value = spec.fallback
    same_scope = " AND ".join(f'a."{k}" = b."{k}"' for k in spec.scope)
    better_in = 'EXISTS (SELECT 1 FROM {} b WHERE {} AND b."{}" <> ?)'
    connection.execute(
        f'DELETE FROM {table} a WHERE a."{column}" = ? AND '
        + better_in.format("_stock_assets_out", same_scope, column),
        [value, value],
    )
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE _stock_assets_kept AS SELECT * FROM _stock_assets_out a "
        f'WHERE NOT (a."{column}" = ? AND ('
        + better_in.format(table, same_scope, column)
        + " OR "
        + better_in.format("_stock_assets_out", same_scope, column)
        + "))",
        [value, value, value],
    )
    return "_stock_assets_kept"


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
