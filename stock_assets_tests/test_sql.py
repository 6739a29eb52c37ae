"""sql/: the DDL matches the contracts, views parse as Athena SQL and, translated, run on DuckDB
with the results an independent pandas computation gives; Athena receives the same views."""

from __future__ import annotations

import datetime as dt
import json
import math
import urllib.request
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from stock_assets.assets.gold import indicators, market_summary, signals
from stock_assets.assets.prices import corporate_actions, prices, raw_quotes
from stock_assets.assets.views import VIEWS, sql_views
from stock_assets.market.schemas import TABLES, conform
from stock_assets.market.sql import SQL_DIR, View, load_views
from stock_assets.resources.sql_engine import AthenaQueryError, AthenaSqlEngine, DuckDBSqlEngine
from stock_assets_tests.conftest import JULY_2024, local_resources

SYMBOLS = "AAPL,MSFT,XOM,ARM,NVDA,TSLA"
HISTORY_START = "2024-05-01"  # long enough for SMA-20 crossings and volume averages
FAULT_RATE = 0.1  # malformed payloads in bronze: the views must cope with them
HIVE = {
    "VARCHAR": "STRING",
    "DOUBLE": "DOUBLE",
    "BIGINT": "BIGINT",
    "INTEGER": "INT",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
}


# -- the files -----------------------------------------------------------------------------


def sql_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*/*.sql"))


@pytest.mark.parametrize("path", sql_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sql_file_is_one_athena_statement(path):
    statements = [s for s in sqlglot.parse(path.read_text(), read="athena") if s is not None]
    assert len(statements) == 1 and isinstance(statements[0], exp.Create)
    if path.parent.name == "views":  # views are Trino SQL (Athena's DML/view engine)
        assert sqlglot.parse_one(path.read_text(), read="trino") == statements[0]


def test_there_is_one_ddl_per_contract_table_and_it_is_the_iceberg_table_of_the_contract():
    ddl = {p.stem: p for p in (SQL_DIR / "ddl").glob("*.sql")}
    assert sorted(ddl) == sorted(TABLES)
    for name, contract in TABLES.items():
        create = sqlglot.parse_one(ddl[name].read_text(), read="athena")
        assert create.this.this.sql() == name
        properties = {type(p).__name__: p for p in create.args["properties"].expressions}
        assert "ExternalProperty" not in properties  # Athena creates Iceberg tables as managed
        table_properties = {
            p.this.name: p.args["value"].name
            for p in create.args["properties"].expressions
            if type(p).__name__ == "Property"
        }
        assert table_properties == {"table_type": "ICEBERG"}, name
        location = properties["LocationProperty"].this.name
        assert location == f"${{lake}}/tables/{contract.layer}/{contract.name}/"
        columns = [(c.name, c.args["kind"].sql("hive")) for c in create.this.expressions]
        assert columns == [(n, HIVE[t]) for n, t in contract.columns], name
        partition = properties.get("PartitionedByProperty")
        keys = [c.name for c in partition.this.expressions] if partition else []
        assert keys == (["trade_date"] if "trade_date" in contract.column_names else []), name


def test_views_keep_their_meaning_through_the_athena_writer_and_take_the_prefix():
    for view in load_views():
        assert sqlglot.parse_one(view.to_athena(), read="athena") == view.statement
        prefixed = sqlglot.parse_one(view.to_athena("dev"), read="athena")
        tables = {f"{t.db}.{t.name}" for t in prefixed.find_all(exp.Table) if t.db}
        assert tables == {f"dev_{t}" for t in (*view.tables, view.qualified_name)}


def test_a_view_file_must_create_the_view_it_is_named_after(tmp_path):
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "x.sql").write_text("CREATE OR REPLACE VIEW gold.y AS SELECT 1 AS a")
    with pytest.raises(ValueError, match="must be named"):
        load_views(tmp_path)


def test_each_view_is_an_asset_depending_on_the_tables_it_reads():
    keys = {k.to_user_string() for k in sql_views.keys}
    assert keys == {
        "gold/stock_analysis",
        "gold/latest_prices",
        "gold/todays_movers",
        "gold/todays_signals",
        "gold/stream_quotes_analysis",
        "gold/stock_kpis",
        "gold/intraday_bars_resampled",
        "gold/adjusted_prices",
    }
    deps = {
        k.to_user_string(): {d.to_user_string() for d in v} for k, v in sql_views.asset_deps.items()
    }
    assert deps["gold/stock_analysis"] == {"bronze/raw_quotes"}
    assert deps["gold/todays_signals"] == {"gold/indicators", "gold/signals"}
    assert deps["gold/adjusted_prices"] == {"silver/prices", "silver/corporate_actions"}


def test_adjusted_prices_view_against_a_hand_computation(tmp_path):
    """Back-adjusted bars on today's basis, computed here by hand: X splits 2-for-1 on
    Jan 4 and pays 1.00 on Jan 8 (previous raw close 50, factor 0.98); Y pays a dividend
    before its first bar (nothing to adjust); Z has no action."""
    days = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8)]
    closes = {"X": [100.0, 102.0, 51.5, 50.0, 49.5], "Y": [10.0] * 5, "Z": [7.0] * 5}
    rows = [
        dict(symbol=s, trade_date=d, open=c, high=c + 1, low=c - 1, close=c, adj_close=c,
             volume=1000 + i, source="csv", ingested_at=dt.datetime(2024, 2, 1))
        for s, cs in closes.items() for i, (d, c) in enumerate(zip(days, cs, strict=True))
    ]  # fmt: skip
    actions = pd.DataFrame(
        [
            ("X", dt.date(2024, 1, 4), "SPLIT", 2.0, None),
            ("X", dt.date(2024, 1, 8), "DIVIDEND", None, 1.0),
            ("Y", dt.date(2024, 1, 1), "DIVIDEND", None, 0.5),
        ],
        columns=["symbol", "ex_date", "action", "ratio", "amount"],
    ).assign(source="csv", ingested_at=dt.datetime(2024, 2, 1))
    database = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(database) as conn:
        for contract, frame in ((TABLES["silver.prices"], pd.DataFrame(rows)),
                                (TABLES["silver.corporate_actions"], actions)):  # fmt: skip
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {contract.layer}")
            conn.execute(contract.ddl())
            conn.register("frame", conform(frame, contract))
            conn.execute(f"INSERT INTO {contract.qualified_name} BY NAME SELECT * FROM frame")
    DuckDBSqlEngine(database=database).create_view(
        next(v for v in load_views() if v.name == "adjusted_prices")
    )
    with duckdb.connect(database, read_only=True) as conn:
        got = conn.execute(
            "SELECT * FROM gold.adjusted_prices ORDER BY symbol, trade_date"
        ).fetchdf()
    assert list(got.columns) == [
        "symbol",
        "trade_date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "factor",
    ]
    factor = {"X": [0.49, 0.49, 0.98, 0.98, 1.0], "Y": [1.0] * 5, "Z": [1.0] * 5}
    expected_factor = [f for s in closes for f in factor[s]]
    np.testing.assert_allclose(got.factor, expected_factor, rtol=1e-12)
    expected_close = [c * f for s in closes for c, f in zip(closes[s], factor[s], strict=True)]
    np.testing.assert_allclose(got.close, expected_close, rtol=1e-12)
    np.testing.assert_allclose(got.high - got.close, np.array(expected_factor), rtol=1e-12)
    assert got.volume.tolist()[:5] == [2000, 2002, 1002, 1003, 1004]


# -- the views on DuckDB, against pandas ---------------------------------------------------


def materialize(assets, resources, selection, first: str, last: str) -> None:
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    assert dg.materialize(assets, resources=resources, selection=selection, tags=tags).success


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Path, dg.ExecuteInProcessResult]:
    home = tmp_path_factory.mktemp("views")
    resources = {
        **local_resources(home, symbols=SYMBOLS, fault_rate=FAULT_RATE),
        "sql_engine": DuckDBSqlEngine(database=str(home / "warehouse.duckdb")),
    }
    pipeline = [
        raw_quotes,
        prices,
        corporate_actions,
        indicators,
        signals,
        market_summary,
        sql_views,
    ]
    last = JULY_2024[1].isoformat()
    materialize(pipeline, resources, [raw_quotes, prices], HISTORY_START, last)
    materialize(pipeline, resources, [indicators, signals], JULY_2024[0].isoformat(), last)
    result = dg.materialize(pipeline, resources=resources, selection=[sql_views])
    assert result.success
    return home / "warehouse.duckdb", result


def query(warehouse, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse[0]), read_only=True) as conn:
        return conn.execute(sql).fetchdf()


def test_every_view_is_created_and_reported(warehouse):
    materializations = warehouse[1].asset_materializations_for_node("sql_views")
    reported = {m.asset_key.to_user_string(): m.metadata["view"].value for m in materializations}
    assert reported == {k.to_user_string(): v.qualified_name for k, v in VIEWS.items()}
    created = query(warehouse, "SELECT schema_name || '.' || view_name AS v FROM duckdb_views()")
    assert set(reported.values()) <= set(created.v)


def test_a_view_is_created_again_only_when_its_statement_changed(tmp_path):
    engine = DuckDBSqlEngine(database=str(tmp_path / "warehouse.duckdb"))
    text = "CREATE OR REPLACE VIEW gold.v AS SELECT symbol FROM silver.prices"

    def tables_and_view() -> tuple[set[str], str]:
        with duckdb.connect(engine.database, read_only=True) as conn:
            found = conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            tables = {name for (name,) in found}
            (sql,) = conn.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'v'").fetchone()
            return tables, sql

    def drop_prices() -> None:
        with duckdb.connect(engine.database) as conn:
            conn.execute("DROP TABLE silver.prices")

    # Creating the view creates the contract table it reads; a creation that is skipped
    # leaves the dropped table dropped.
    first = engine.create_view(View.parse("v", text))
    assert tables_and_view()[0] == {"prices"}
    drop_prices()
    assert engine.create_view(View.parse("v", text)) == first
    assert tables_and_view()[0] == set()
    engine.create_view(View.parse("v", text.replace("symbol", "symbol, close")))
    tables, sql = tables_and_view()
    assert tables == {"prices"} and "close" in sql


def test_latest_prices_is_the_last_close_per_symbol(warehouse):
    silver = query(warehouse, "SELECT * FROM silver.prices").sort_values(["symbol", "trade_date"])
    got = query(warehouse, "SELECT * FROM gold.latest_prices").set_index("symbol").sort_index()
    last = silver.groupby("symbol").tail(1).set_index("symbol").sort_index()
    previous = silver.groupby("symbol").close.apply(lambda s: s.iloc[-2])
    assert list(got.index) == sorted(SYMBOLS.split(","))
    assert (got.trade_date == last.trade_date).all()
    assert (got.close == last.close).all() and (got.volume == last.volume).all()
    assert (got.previous_close == previous).all()
    pd.testing.assert_series_equal(
        got.change_pct, 100 * (last.close - previous) / previous, check_names=False
    )


def parsed(payload: str) -> dict | None:
    try:
        return json.loads(payload, parse_constant=lambda c: c)  # NaN/Infinity stay text
    except json.JSONDecodeError:
        return None


def number(record: dict, name: str) -> float | None:
    """What the view's TRY_CAST should make of a payload field."""
    try:
        return float(record[name])
    except (KeyError, TypeError, ValueError):
        return None


def test_stock_analysis_casts_the_payload_fields(warehouse):
    raw = query(warehouse, "SELECT * FROM bronze.raw_quotes")
    got = query(warehouse, "SELECT * FROM gold.stock_analysis")
    assert len(got) == len(raw)
    both = raw.merge(got, on=["object_key", "record_no"], suffixes=("", "_view"))
    records = both.payload.map(parsed)
    malformed = records.isna()
    assert malformed.sum() > 0 and both[malformed].close.isna().all()  # NULLs, not a failure
    strict = ~malformed & ~both.payload.str.contains("NaN|Infinity")  # JSON Athena accepts too
    assert strict.sum() > 0.8 * len(both)
    for row, record in zip(both[strict].itertuples(), records[strict], strict=True):
        close, volume = number(record, "close"), number(record, "volume")
        assert (close is None and pd.isna(row.close)) or math.isclose(row.close, close)
        assert (volume is None and pd.isna(row.volume)) or row.volume == volume
        assert row.quote_ts == pd.Timestamp(record["date"])
        if close is not None and number(record, "open"):
            expected = 100 * (close - record["open"]) / record["open"]
            assert math.isclose(row.day_change_pct, expected)
    assert got.close.dtype == "float64" and str(got.quote_ts.dtype).startswith("datetime64")


def test_todays_movers_rank_the_latest_days_moves(warehouse):
    gold = query(warehouse, "SELECT * FROM gold.indicators")
    latest = gold[(gold.trade_date == gold.trade_date.max()) & gold["pct_change"].notna()]
    got = query(warehouse, "SELECT * FROM gold.todays_movers ORDER BY move_rank, symbol")
    expected = latest.assign(size=latest["pct_change"].abs()).sort_values(
        ["size", "symbol"], ascending=[False, True]
    )
    assert got.symbol.tolist() == expected.symbol.tolist()
    assert got.move_rank.tolist() == list(range(1, len(expected) + 1))
    assert len(got) > 0 and (got.trade_date == pd.Timestamp(JULY_2024[1])).all()
    assert set(got.direction) <= {"UP", "DOWN", "FLAT"}
    assert ((got.direction == "UP") == (got["pct_change"] > 0)).all()


def test_todays_signals_are_the_signals_of_the_latest_day(warehouse):
    day = query(warehouse, "SELECT max(trade_date) AS d FROM gold.indicators").d[0]
    all_signals = query(warehouse, "SELECT * FROM gold.signals")
    expected = all_signals[all_signals.trade_date == day].sort_values(["symbol", "signal"])
    got = query(warehouse, "SELECT * FROM gold.todays_signals ORDER BY symbol, signal")
    assert len(expected) > 0 and len(all_signals) > len(expected)
    pd.testing.assert_frame_equal(
        got, expected[list(got.columns)].reset_index(drop=True), check_dtype=False
    )


# -- Athena --------------------------------------------------------------------------------


def athena_views(resources: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize([sql_views], resources=resources, raise_on_error=False)


def test_athena_runs_each_view_in_its_glue_database(aws_endpoint):
    engine = AthenaSqlEngine(
        workgroup="primary",
        database_prefix="dev",
        output_location="s3://lake/athena-results/",
        poll_seconds=0.01,
    )
    result = athena_views({"sql_engine": engine})
    assert result.success
    athena = boto3.client("athena")
    for materialization in result.asset_materializations_for_node("sql_views"):
        view = VIEWS[materialization.asset_key]
        query_id = materialization.metadata["athena_query_id"].value
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        assert execution["Query"] == view.to_athena("dev")
        assert execution["QueryExecutionContext"]["Database"] == "dev_gold"
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(
            "s3://lake/athena-results/"
        )
        assert execution["Status"]["State"] == "SUCCEEDED"
        assert materialization.metadata["view"].value == f"dev_gold.{view.name}"


@pytest.fixture
def athena_progression(aws_endpoint):
    """Set how moto's Athena queries progress through QUEUED -> RUNNING -> SUCCEEDED."""

    def post(path: str, body: dict) -> None:
        request = urllib.request.Request(
            f"{aws_endpoint}/moto-api/state-manager/{path}",
            data=json.dumps(body).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()

    yield lambda transition: post(
        "set-transition", {"model_name": "athena::execution", "transition": transition}
    )
    post("unset-transition", {"model_name": "athena::execution"})


def test_athena_queries_are_polled_until_they_finish(athena_progression):
    athena_progression({"progression": "time", "seconds": 0.05})
    engine = AthenaSqlEngine(poll_seconds=0.01)
    view = View.from_file(SQL_DIR / "views" / "latest_prices.sql")
    created = engine.create_view(view)
    execution = boto3.client("athena").get_query_execution(QueryExecutionId=created.query_id)
    assert execution["QueryExecution"]["Status"]["State"] == "SUCCEEDED"


def test_an_athena_query_that_never_finishes_is_cancelled(athena_progression):
    athena_progression({"progression": "manual", "times": 1_000_000})  # stays QUEUED
    engine = AthenaSqlEngine(poll_seconds=0.01, timeout_seconds=0.1)
    with pytest.raises(AthenaQueryError, match="cancelled"):
        engine.run_query("SELECT 1", "gold")
