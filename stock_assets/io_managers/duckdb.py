"""The local warehouse: pandas DataFrames as tables in one DuckDB file.

Two guarantees beyond a plain insert:

1. Tables are created from the declared contract (market.schemas) instead of being
   inferred from the first DataFrame, so `volume` is BIGINT and `trade_date` a DATE from
   the very first write, and inserts match columns by name.
2. Replacing a partition (delete + insert) happens in one transaction: a failed or killed
   write leaves the previous partition in place, never half of it (dagster-duckdb's IO
   manager does not; see stock_assets/compat.py).

A partitioned asset declares its partition column as `partition_expr` in its definition
metadata; the run's partitions are the rows whose column lies in their time window.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
from pydantic import Field

from stock_assets.io_managers.merge import MergeSpec, merge_spec, one_row_per_key
from stock_assets.io_managers.table_metadata import (
    PARTITION_COLUMN,
    input_columns,
    output_metadata,
    qualified_name,
    valid_table_name,
)
from stock_assets.market.schemas import TABLES, TableSchema

_FRAME = "_stock_assets_out"  # the registered Arrow table an insert reads
_COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_CONNECT_ATTEMPTS = 10  # another process may hold the file's write lock for a moment


class WarehouseIOManager(dg.ConfigurableIOManager):
    """DataFrames in DuckDB tables named by the asset key (`layer.table`), with contract
    DDL, by-name inserts, merges (io_managers.merge) and transactional partition replacement.
    """

    database: str = Field(description="Path of the DuckDB warehouse file")

    # -- Dagster entry points -----------------------------------------------------------

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: WarehouseIOManager stores pandas "
                f"DataFrames, got {type(obj).__name__}"
            )
        table = qualified_name(context.asset_key)
        spec = merge_spec(context.definition_metadata)
        where, params = _slice(context, context.definition_metadata)
        with self._transaction() as conn:
            _create(conn, table, obj)
            if spec is None:  # merged assets keep their stored rows
                conn.execute(f"DELETE FROM {table}{where}", params)
            rows = one_row_per_key(obj, spec) if spec else obj
            if not rows.empty:
                # DuckDB scans Arrow in parallel, while it converts pandas' Python strings
                # one by one. One converting thread: the columns are quick, and hand-offs
                # cost more on busy CPUs.
                conn.register(_FRAME, pa.Table.from_pandas(rows, preserve_index=False, nthreads=1))
                if spec:
                    _merge(conn, table, spec)
                else:
                    conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {_FRAME}")
                conn.unregister(_FRAME)
            rows = len(obj) if spec is None else _count(conn, table, where, params)
        context.add_output_metadata(output_metadata(context, obj, rows, table))

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        upstream = context.upstream_output
        metadata = upstream.definition_metadata if upstream is not None else {}
        if context.has_asset_partitions and not context.asset_partition_keys:
            return pd.DataFrame()
        where, params = _slice(context, metadata)
        table = qualified_name(context.asset_key)
        columns = input_columns(context)
        with self._connection() as conn:
            if not _exists(conn, table) and table in TABLES:
                # A contract table nobody has written yet reads as empty, as on S3: the
                # daily job's intraday bars read the stream history before any arrival.
                empty = TABLES[table].empty_frame()
                return empty[list(columns)] if columns else empty
            return _select(conn, table, where, params, columns)

    # -- the public read ------------------------------------------------------------------

    def read(self, table: str, partitions: Sequence[str | dt.date] | None = None) -> pd.DataFrame:
        """The stored rows of `table` (`layer.table`), as the asset produced them.

        With `partitions` (trading days), the rows dated from the first to the last of
        them (a row misfiled on a holiday between them included); without, every row. A
        table not written yet reads as empty."""
        return self._read(table, partitions)

    def distinct(
        self,
        table: str,
        columns: Sequence[str],
        partitions: Sequence[str | dt.date] | None = None,
    ) -> pd.DataFrame:
        """The distinct values of `columns` among the rows `read` would return: what a check
        that only asks which keys exist needs, without loading a whole table."""
        return self._read(table, partitions, tuple(columns), distinct=True)

    def _read(
        self,
        table: str,
        partitions: Sequence[str | dt.date] | None,
        columns: Sequence[str] | None = None,
        distinct: bool = False,
    ) -> pd.DataFrame:
        table = valid_table_name(table)
        where, params = "", []
        if partitions:
            days = sorted(dt.date.fromisoformat(str(p)) for p in partitions)
            where, params = f' WHERE "{PARTITION_COLUMN}" BETWEEN ? AND ?', [days[0], days[-1]]
        with self._connection() as conn:
            if not _exists(conn, table):
                contract = TABLES.get(table)
                empty = contract.empty_frame() if contract else pd.DataFrame()
                return empty[list(columns)] if columns else empty
            return _select(conn, table, where, params, columns, distinct)

    # -- connections ----------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        for attempt in range(_CONNECT_ATTEMPTS):
            try:
                conn = duckdb.connect(self.database)
                break
            except (duckdb.IOException, RuntimeError):  # another process holds the write lock
                if attempt == _CONNECT_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * 2**attempt)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connection() as conn:
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()


def _slice(
    context: dg.InputContext | dg.OutputContext, metadata: dg.RawMetadataMapping | None
) -> tuple[str, list]:
    """The WHERE clause selecting the context's partitions (none for a whole table)."""
    if not context.has_asset_partitions:
        return "", []
    column = (metadata or {}).get("partition_expr")
    column = getattr(column, "value", column)
    if not column:
        raise ValueError(
            f"{context.asset_key.to_user_string()} is partitioned but declares no "
            "'partition_expr' metadata naming its partition column"
        )
    window = context.asset_partitions_time_window
    return f' WHERE "{column}" >= ? AND "{column}" < ?', [window.start.date(), window.end.date()]


def _quoted(column: str) -> str:
    """A column name as a quoted SQL identifier; refused unless a-z, 0-9 and _ (it is
    written into the statement)."""
    if not _COLUMN_NAME.fullmatch(column):
        raise ValueError(f"{column!r} is not a column name (a-z, 0-9, _)")
    return f'"{column}"'


def _select(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    where: str,
    params: list,
    columns: Sequence[str] | None = None,
    distinct: bool = False,
) -> pd.DataFrame:
    """Rows (all columns, or `columns`; their distinct values if `distinct`) with the dtypes
    assets produce (DuckDB hands DATE back as datetime64)."""
    selected = ", ".join(_quoted(c) for c in columns) if columns else "*"
    keyword = "SELECT DISTINCT" if distinct else "SELECT"
    frame = conn.execute(f"{keyword} {selected} FROM {table}{where}", params).fetchdf()
    contract = TABLES.get(table)
    if contract is not None and not frame.empty:
        for name, sql_type in contract.columns:
            if sql_type == "DATE" and name in frame:
                frame[name] = frame[name].dt.date
    return frame


def _count(conn: duckdb.DuckDBPyConnection, table: str, where: str, params: list) -> int:
    """Rows the table (or the written partitions) holds: after a merge, not the batch's."""
    found = conn.execute(f"SELECT count(*) FROM {table}{where}", params).fetchone()
    return int(found[0]) if found else 0


def _exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(found and found[0])


def _create(conn: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """The table's schema and table: from its contract, or (no contract) the frame's types."""
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.split(".")[0]}"')
    contract = TABLES.get(table)
    if contract is not None:
        conn.execute(contract.ddl())
        _add_new_columns(conn, contract)
    elif not _exists(conn, table):
        conn.register(_FRAME, frame)
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM {_FRAME} LIMIT 0")
        conn.unregister(_FRAME)


def _add_new_columns(conn: duckdb.DuckDBPyConnection, contract: TableSchema) -> None:
    """Columns the contract gained since the table was created (e.g. the snapshot's
    `volume` and `last_signal*`), added NULL to its stored rows."""
    stored = {
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [contract.layer, contract.name],
        ).fetchall()
    }
    for name, sql_type in contract.columns:
        if name not in stored:
            conn.execute(f'ALTER TABLE {contract.qualified_name} ADD COLUMN "{name}" {sql_type}')


def _merge(conn: duckdb.DuckDBPyConnection, table: str, spec: MergeSpec) -> None:
    """A merge write (io_managers.merge): keys matched, newest or stored row kept.

    Only stored rows whose keys lie within the batch's key ranges can match. Saying so lets
    DuckDB skip the other row groups by their min/max instead of reading the whole table,
    so the cost of a stream micro-batch does not grow with the history it joins.
    """
    batch = _without_fallback_rows(conn, table, spec) if spec.fallback else _FRAME
    ranges = ", ".join(f'min("{k}"), max("{k}")' for k in spec.keys)
    bounds = conn.execute(f"SELECT {ranges} FROM {batch}").fetchone()
    match = " AND ".join(f't."{k}" = o."{k}" AND t."{k}" BETWEEN ? AND ?' for k in spec.keys)
    if spec.newest_by:
        newer = f'o."{spec.newest_by}" > t."{spec.newest_by}"'
        conn.execute(f"DELETE FROM {table} t USING {batch} o WHERE {match} AND {newer}", bounds)
    conn.execute(
        f"INSERT INTO {table} BY NAME SELECT * FROM {batch} o "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})",
        bounds,
    )


def _without_fallback_rows(conn: duckdb.DuckDBPyConnection, table: str, spec: MergeSpec) -> str:
    """Delete stored fallback rows the batch outranks; return the batch rows still to write."""
    column, value = spec.fallback
    same_scope = " AND ".join(f'a."{k}" = b."{k}"' for k in spec.scope)
    better_in = 'EXISTS (SELECT 1 FROM {} b WHERE {} AND b."{}" <> ?)'
    conn.execute(
        f'DELETE FROM {table} a WHERE a."{column}" = ? AND '
        + better_in.format(_FRAME, same_scope, column),
        [value, value],
    )
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _stock_assets_kept AS SELECT * FROM {_FRAME} a "
        f'WHERE NOT (a."{column}" = ? AND ('
        + better_in.format(table, same_scope, column)
        + " OR "
        + better_in.format(_FRAME, same_scope, column)
        + "))",
        [value, value, value],
    )
    return "_stock_assets_kept"
