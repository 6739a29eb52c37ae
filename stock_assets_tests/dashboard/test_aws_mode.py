"""The dashboard in AWS mode: its queries go to Athena on moto's loopback server.

moto runs no SQL: it records each query execution (statement, database, workgroup,
execution parameters, result location) and answers GetQueryResults from a queue of result
sets set through its API (`/moto-api/static/athena/query-results`). So the rows below are
stubbed, shaped exactly as Athena returns them (all values as text, a header row first,
column types in the metadata); everything else is real: the engine built from the
environment, the translated statement, the bound parameters, the polling and the paging.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import boto3
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from stock_assets.dashboard.queries import DayRange, Warehouse, engine_from_env
from stock_assets.resources.sql_engine import AthenaSqlEngine

BUCKET = "dashboard-lake"


@pytest.fixture
def aws_mode(aws_endpoint, monkeypatch):
    monkeypatch.setenv("STOCK_ASSETS_ENV", "aws")
    monkeypatch.setenv("STOCK_ASSETS_S3_BUCKET", BUCKET)
    monkeypatch.setenv("STOCK_ASSETS_GLUE_DATABASE", "dev")
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return aws_endpoint


def stub_results(endpoint: str, columns: list[tuple[str, str]], rows: list[list]) -> None:
    """Queue one result set in moto, as Athena returns it: header row, values as text."""

    def cells(values: list) -> dict:
        return {"Data": [{} if v is None else {"VarCharValue": str(v)} for v in values]}

    body = {
        "results": [
            {
                "rows": [cells([name for name, _ in columns]), *map(cells, rows)],
                "column_info": [
                    {"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"}
                    for name, kind in columns
                ],
            }
        ]
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def executions() -> list[dict]:
    athena = boto3.client("athena")
    return [
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        for query_id in athena.list_query_executions()["QueryExecutionIds"]
    ]


def test_the_engine_of_aws_mode_is_athena_in_the_configured_catalog(aws_mode):
    engine = engine_from_env()
    assert isinstance(engine, AthenaSqlEngine)
    assert engine.database_prefix == "dev"
    assert engine.output_location == f"s3://{BUCKET}/stock-assets/athena-results/"


def test_symbol_history_runs_in_athena_with_bound_parameters(aws_mode):
    columns = [
        ("trade_date", "date"),
        ("open", "double"),
        ("high", "double"),
        ("low", "double"),
        ("close", "double"),
        ("volume", "bigint"),
        ("avg_7d", "double"),
        ("avg_30d", "double"),
        ("sma_5", "double"),
    ]
    stub_results(
        aws_mode,
        columns,
        [
            ["2024-07-03", 10.0, 11.0, 9.5, 10.5, 1200, 10.2, None, 10.1],
            ["2024-07-05", 10.5, 12.0, 10.0, 11.5, 1500, 10.4, None, 10.3],
        ],
    )
    start, end = dt.date(2024, 7, 1), dt.date(2024, 7, 5)
    history = Warehouse(engine_from_env()).symbol_history("AAPL", start, end)

    assert history.trade_date.tolist() == [pd.Timestamp("2024-07-03"), pd.Timestamp("2024-07-05")]
    assert history.close.tolist() == [10.5, 11.5]
    assert history.volume.tolist() == [1200, 1500]
    assert history.avg_30d.isna().all()

    [execution] = executions()
    assert execution["QueryExecutionContext"]["Database"] == "dev_gold"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{BUCKET}/stock-assets/athena-results/"
    )
    statement = sqlglot.parse_one(execution["Query"], read="athena")
    tables = {f"{t.db}.{t.name}" for t in statement.find_all(exp.Table) if t.db}
    assert tables == {"dev_silver.prices", "dev_gold.indicators"}
    assert "AAPL" not in execution["Query"]  # the symbol travels as a parameter
    warmup = "DATE '2024-05-12'"  # 50 days before the range, for the 30-session average
    assert execution["ExecutionParameters"] == [
        "'AAPL'",
        warmup,
        "DATE '2024-07-05'",
        "'AAPL'",
        "DATE '2024-07-01'",
        "DATE '2024-07-05'",
        "DATE '2024-07-01'",
        "DATE '2024-07-05'",
    ]


def test_the_day_range_and_an_empty_answer(aws_mode):
    # Without a queued result moto answers with no rows and no columns: an empty warehouse.
    assert Warehouse(engine_from_env()).days() is None
    stub_results(aws_mode, [("first", "date"), ("last", "date")], [["2024-07-01", "2024-07-12"]])
    warehouse = Warehouse(engine_from_env())
    assert warehouse.days() == DayRange(dt.date(2024, 7, 1), dt.date(2024, 7, 12))
    stub_results(aws_mode, [("symbol", "varchar")], [])
    assert warehouse.symbols() == []
    day_range = (
        "SELECT MIN(trade_date) AS first, MAX(trade_date) AS last FROM dev_gold.market_summary"
    )
    assert sorted(e["Query"] for e in executions()) == [
        "SELECT DISTINCT symbol FROM dev_silver.prices ORDER BY symbol",
        day_range,
        day_range,
    ]
