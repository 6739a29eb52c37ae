"""Where the sql/ views are created: the local DuckDB warehouse, or Athena in AWS mode.

Both run the same view files (market.sql): Athena as written (with the Glue database
prefix applied), DuckDB after sqlglot's translation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dagster as dg
import duckdb
from pydantic import Field

from stock_assets.market.sql import SOURCE_DIALECT, View, glue_database, query_for
from stock_assets.settings import aws_region


@dataclass(frozen=True)
class CreatedView:
    name: str  # as the engine knows it: database.view
    statement: str  # the SQL that created it
    query_id: str | None = None  # Athena's QueryExecutionId


class SqlEngine(dg.ConfigurableResource):
    """Creates or replaces views from sql/views, and answers the questions their checks ask."""

    def create_view(self, view: View) -> CreatedView:
        raise NotImplementedError

    def count(self, query: str) -> int:
        """The one number a counting query (Athena dialect, tables by layer) returns."""
        raise NotImplementedError

    def columns(self, view: View) -> list[str]:
        """The columns of the view as the engine stores it, in order."""
        raise NotImplementedError


class DuckDBSqlEngine(SqlEngine):
    """Views in the local warehouse file, translated from Athena SQL to DuckDB."""

    database: str = Field(description="Path of the DuckDB warehouse")

    def create_view(self, view: View) -> CreatedView:
        statement = view.to_duckdb()
        with duckdb.connect(self.database) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{view.layer}"')
            conn.execute(statement)
        return CreatedView(name=view.qualified_name, statement=statement)

    def count(self, query: str) -> int:
        with duckdb.connect(self.database) as conn:
            return int(conn.execute(query_for(query, "duckdb")).fetchone()[0])

    def columns(self, view: View) -> list[str]:
        with duckdb.connect(self.database) as conn:
            relation = conn.execute(f"SELECT * FROM {view.qualified_name} LIMIT 0")
            return [column[0] for column in relation.description]


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

    def count(self, query: str) -> int:
        statement = query_for(query, SOURCE_DIALECT, self.database_prefix)
        query_id = self.run_query(statement, glue_database("gold", self.database_prefix))
        rows = self._results(query_id)["ResultSet"]["Rows"]  # row 0 is the header
        if len(rows) < 2:
            raise AthenaQueryError(f"Athena query {query_id} returned no rows: {statement}")
        return int(rows[1]["Data"][0]["VarCharValue"])

    def columns(self, view: View) -> list[str]:
        database = glue_database(view.layer, self.database_prefix)
        query_id = self.run_query(f'SELECT * FROM "{database}"."{view.name}" LIMIT 0', database)
        info = self._results(query_id)["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        return [column["Name"] for column in info]

    def _athena(self):
        import boto3

        return boto3.client("athena", region_name=self.region_name or aws_region())

    def _results(self, query_id: str) -> dict:
        return self._athena().get_query_results(QueryExecutionId=query_id, MaxResults=2)

    def run_query(self, statement: str, database: str) -> str:
        """Start one statement and wait for it; raises with Athena's reason if it fails."""
        athena = self._athena()
        request: dict = {
            "QueryString": statement,
            "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": database},
            "WorkGroup": self.workgroup,
        }
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
