"""The project's SQL engine: the local DuckDB warehouse, or Athena in AWS mode.

Both run the same view files (market.sql): Athena as written (with the Glue database
prefix applied), DuckDB after sqlglot's translation. `query` runs read queries written the
same way (Athena SQL, `?` placeholders for values) and returns a DataFrame; the dashboard
reads the warehouse through it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from stock_assets.market.schemas import TABLES
from stock_assets.market.sql import View, glue_database, translate_query
from stock_assets.settings import aws_region

# A value bound to a `?` placeholder: never spliced into the SQL text by this module.
Parameter = str | int | float | bool | dt.date | dt.datetime
# Called with the seconds waited so far while another process holds the warehouse's lock.
BusyCallback = Callable[[float], None]


@dataclass(frozen=True)
class CreatedView:
    name: str  # as the engine knows it: database.view
    statement: str  # the SQL that created it
    query_id: str | None = None  # Athena's QueryExecutionId


class SqlEngineError(RuntimeError):
    """The engine answered a question with nothing to read (e.g. no rows for a count)."""


class WarehouseBusyError(RuntimeError):
    """The pipeline held the DuckDB warehouse's write lock for longer than a reader waits."""


class WarehouseMissingError(FileNotFoundError):
    """No warehouse file yet: nothing has been materialized into this data dir."""


class SqlEngine(dg.ConfigurableResource):
    """Creates or replaces views from sql/views, runs read queries, and answers the questions
    the views' checks ask."""

    def create_view(self, view: View) -> CreatedView:
        raise NotImplementedError

    def query(
        self,
        statement: str,
        parameters: Sequence[Parameter] = (),
        on_busy: BusyCallback | None = None,
    ) -> pd.DataFrame:
        """Run one read query (Athena SQL, `?` placeholders bound to `parameters`)."""
        raise NotImplementedError

    def count(self, query: str) -> int:
        """The one number a counting query (Athena dialect, tables by layer) returns."""
        frame = self.query(query)
        if frame.empty:
            raise SqlEngineError(f"the counting query returned no rows: {query}")
        return int(frame.iat[0, 0])

    def columns(self, view: View) -> list[str]:
        """The columns of the view as the engine stores it, in order."""
        return list(self.query(f"SELECT * FROM {view.qualified_name} LIMIT 0").columns)


class DuckDBSqlEngine(SqlEngine):
    """Views in the local warehouse file, translated from Athena SQL to DuckDB.

    DuckDB lets one process write a file and refuses any other open, read-only included,
    while it does. So every call opens its own short-lived connection and closes it at
    once (a reader never holds the file between queries, and the pipeline's writer, which
    retries its own open with backoff, gets it back within milliseconds), and an open that
    meets the writer's lock is retried with backoff for up to `busy_timeout_seconds`.
    """

    database: str = Field(description="Path of the DuckDB warehouse")
    busy_timeout_seconds: float = Field(
        default=30.0, description="How long to wait for another process's write lock"
    )

    def create_view(self, view: View) -> CreatedView:
        """Create or replace the view, unless the warehouse holds it from this very statement
        (its comment is the statement's digest): the daily run refreshes every view, and a
        view only changes with its file."""
        statement = view.to_duckdb()
        digest = hashlib.sha256(statement.encode()).hexdigest()[:16]
        with self._connect(read_only=False) as conn:
            stored = conn.execute(
                "SELECT comment FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
                [view.layer, view.name],
            ).fetchone()
            if stored is not None and stored[0] == digest:
                return CreatedView(name=view.qualified_name, statement=statement)
            # DuckDB binds a view when it is created: a contract table it reads that nobody
            # has written yet (the stream's before the first arrival) is created empty.
            for table in view.tables:
                if table in TABLES:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.split(".")[0]}"')
                    conn.execute(TABLES[table].ddl())
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{view.layer}"')
            conn.execute(statement)
            conn.execute(f"COMMENT ON VIEW {view.qualified_name} IS '{digest}'")
        return CreatedView(name=view.qualified_name, statement=statement)

    def query(
        self,
        statement: str,
        parameters: Sequence[Parameter] = (),
        on_busy: BusyCallback | None = None,
    ) -> pd.DataFrame:
        if not Path(self.database).is_file():
            raise WarehouseMissingError(
                f"no warehouse at {self.database}: materialize the pipeline first (make run)"
            )
        text = translate_query(statement, "duckdb")
        with self._connect(read_only=True, on_busy=on_busy) as conn:
            return conn.execute(text, list(parameters)).fetchdf()

    @contextmanager
    def _connect(
        self, read_only: bool, on_busy: BusyCallback | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one statement, waiting out another process's lock."""
        started, delay = time.monotonic(), 0.05
        while True:
            try:
                conn = duckdb.connect(self.database, read_only=read_only)
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower():
                    raise
                waited = time.monotonic() - started
                if waited >= self.busy_timeout_seconds:
                    raise WarehouseBusyError(
                        f"{self.database} is locked by another process (the pipeline is "
                        f"writing) and stayed locked for {waited:.0f} s"
                    ) from error
                if on_busy is not None:
                    on_busy(waited)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield conn
        finally:
            conn.close()


class AthenaQueryError(RuntimeError):
    pass


class AthenaSqlEngine(SqlEngine):
    """Views in the Glue catalog, created by Athena queries in a workgroup."""

    workgroup: str = Field(default="primary", description="STOCK_ASSETS_ATHENA_WORKGROUP")
    database_prefix: str = Field(
        default="", description="Glue database prefix (STOCK_ASSETS_GLUE_DATABASE)"
    )
    output_location: str = Field(
        default="",
        description="s3:// prefix for query results; empty: the workgroup's own setting",
    )
    region_name: str | None = Field(
        default=None, description="AWS region; unset: AWS_REGION, then boto3's default chain"
    )
    poll_seconds: float = Field(default=1.0, description="Delay between status checks")
    timeout_seconds: float = Field(default=300.0, description="Give up (and cancel) after this")

    def create_view(self, view: View) -> CreatedView:
        statement = view.to_athena(self.database_prefix)
        database = glue_database(view.layer, self.database_prefix)
        query_id = self.run_query(statement, database)
        return CreatedView(name=f"{database}.{view.name}", statement=statement, query_id=query_id)

    def query(
        self,
        statement: str,
        parameters: Sequence[Parameter] = (),
        on_busy: BusyCallback | None = None,
    ) -> pd.DataFrame:
        """Athena runs the statement with `parameters` as its ExecutionParameters."""
        text = translate_query(statement, "athena", self.database_prefix)
        query_id = self.run_query(text, glue_database("gold", self.database_prefix), parameters)
        return self._results(query_id)

    def _client(self):
        import boto3

        return boto3.client("athena", region_name=self.region_name or aws_region())

    def _results(self, query_id: str) -> pd.DataFrame:
        """The rows of a finished query, typed by Athena's column metadata."""
        pages = (
            self._client().get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
        )
        columns: list[dict] = []
        rows: list[list[str | None]] = []
        for page in pages:
            result = page["ResultSet"]
            columns = columns or result["ResultSetMetadata"]["ColumnInfo"]
            rows += [[cell.get("VarCharValue") for cell in row["Data"]] for row in result["Rows"]]
        names = [column["Name"] for column in columns]
        if rows and rows[0] == names:  # a SELECT's first row repeats the column names
            rows = rows[1:]
        frame = pd.DataFrame(rows, columns=names, dtype=object)
        for column in columns:
            frame[column["Name"]] = _athena_column(frame[column["Name"]], column["Type"])
        return frame

    def run_query(self, statement: str, database: str, parameters: Sequence[Parameter] = ()) -> str:
        """Start one statement and wait for it; raises with Athena's reason if it fails."""
        athena = self._client()
        request: dict = {
            "QueryString": statement,
            "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": database},
            "WorkGroup": self.workgroup,
        }
        if parameters:
            request["ExecutionParameters"] = [athena_literal(value) for value in parameters]
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        query_id = athena.start_query_execution(**request)["QueryExecutionId"]
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"][
                "Status"
            ]
            state = status["State"]
            if state == "SUCCEEDED":
                return query_id
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason", "no reason given")
                raise AthenaQueryError(f"Athena query {query_id} {state}: {reason}")
            if time.monotonic() > deadline:
                athena.stop_query_execution(QueryExecutionId=query_id)
                raise AthenaQueryError(
                    f"Athena query {query_id} still {state} after {self.timeout_seconds}s; "
                    "cancelled"
                )
            time.sleep(self.poll_seconds)


def athena_literal(value: Parameter) -> str:
    """An Athena execution parameter: the value as a typed SQL literal, quotes escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.replace(tzinfo=None).isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot bind a {type(value).__name__} as an Athena parameter")


_ATHENA_INTEGERS = {"tinyint", "smallint", "integer", "int", "bigint"}
_ATHENA_FLOATS = {"double", "float", "real", "decimal"}


def _athena_column(values: pd.Series, athena_type: str) -> pd.Series:
    """Athena returns every value as text; give it the column's type (NULL stays missing)."""
    kind = athena_type.lower().split("(")[0]
    if kind in _ATHENA_INTEGERS:
        return pd.to_numeric(values).astype("Int64")
    if kind in _ATHENA_FLOATS:
        return pd.to_numeric(values).astype(float)
    if kind == "date" or kind.startswith("timestamp"):  # datetime64, as DuckDB returns both
        return pd.to_datetime(values)
    if kind == "boolean":
        return values.map({"true": True, "false": False})
    return values
