"""Security: hostile symbols and keys stop at the gate, SQL never embeds values, and the API
key never reaches an event, a log or a file."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._serdes import serialize_value

from stock_assets.assets.prices import prices, raw_quotes
from stock_assets.assets.stream import stream_assets
from stock_assets.definitions import market_data_resource
from stock_assets.market.landing import parse_landing_object
from stock_assets.market.sources.csv_file import CsvFileSource
from stock_assets.market.symbols import InvalidSymbolError
from stock_assets.resources.lake import LocalLake, S3Lake
from stock_assets_tests.conftest import local_resources
from stock_assets_tests.market.sources.test_alpha_vantage import (
    JAN2,
    JAN5,
    RecordedAlphaVantage,
    Sleeps,
)
from stock_assets_tests.reliability.runs import recorded_market_data

PACKAGE = Path(__file__).resolve().parents[2] / "stock_assets"
FULL_WIDTH_AAPL = "\uff21\uff21\uff30\uff2c"  # looks like AAPL, is not ASCII
HOSTILE_SYMBOLS = [
    "../x",
    "A;DROP TABLE",
    "A'B",
    'A"B',
    "A/B",
    FULL_WIDTH_AAPL,
    "ÄPPL",
    "A B",
    "A\x00",
]


# -- hostile symbols and keys, at every entry ------------------------------------------------


@pytest.mark.parametrize("symbol", [s for s in HOSTILE_SYMBOLS if "\x00" not in s], ids=ascii)
def test_a_hostile_symbol_in_the_symbols_variable_is_refused(symbol, monkeypatch):
    monkeypatch.setenv("STOCK_ASSETS_SYMBOLS", f"AAPL,{symbol}")
    with pytest.raises(InvalidSymbolError):
        market_data_resource().watchlist()


def test_a_run_with_a_hostile_symbol_fails_before_writing_anything(
    data_home, monkeypatch, reliability_record
):
    monkeypatch.setenv("STOCK_ASSETS_SYMBOLS", "AAPL,../x")
    resources = {**local_resources(data_home), "market_data": market_data_resource()}
    result = dg.materialize(
        [raw_quotes, prices], resources=resources, partition_key="2024-07-05", raise_on_error=False
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "invalid symbol '../x'" in failure.step_failure_data.error.cause.message
    written = sorted(p.name for p in data_home.rglob("*"))
    assert written == []  # no lake object, no warehouse file
    reliability_record(
        "security",
        f"STOCK_ASSETS_SYMBOLS holding one of {len(HOSTILE_SYMBOLS) - 1} hostile symbols "
        "(path traversal, SQL, quotes, slash, full-width and accented letters, space)",
        f"each refused by the watchlist; a run with '../x' failed before the source call: "
        f"{len(written)} files written",
    )


def test_csv_files_named_like_hostile_symbols_are_refused(tmp_path, reliability_record):
    folder = tmp_path / "imports"
    folder.mkdir()
    names = ["A;DROP TABLE", "A'B", 'A"B', "..X", "ÄPPL", "AAPL"]
    for name in names:
        (folder / f"{name}.csv").write_text(
            "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,2,0.5,1.5,1.5,100\n"
        )
    extraction = CsvFileSource(folder).fetch(["AAPL"], JAN2, JAN5)

    assert {r.symbol for r in extraction.records} == {"AAPL"}
    refused = sorted(k for k in extraction.symbol_errors if "is not a valid symbol" in str(
        extraction.symbol_errors[k]))  # fmt: skip
    assert refused == sorted(f"{n}.csv" for n in names if n != "AAPL")
    reliability_record(
        "security",
        "CSV source folder with files named A;DROP TABLE.csv, A'B.csv, A\"B.csv, ..X.csv, "
        "ÄPPL.csv next to AAPL.csv",
        f"{len(refused)} files refused as invalid symbols (reported per file); "
        f"{len(extraction.records)} record(s) read, all AAPL",
    )


def test_landing_records_with_hostile_symbols_are_rejected_and_good_ones_kept(
    reliability_record,
):
    records = [{"symbol": s, "price": 10.0, "ts": "2024-07-05T14:30:00Z"} for s in HOSTILE_SYMBOLS]
    records.append({"symbol": "AAPL", "price": 10.0, "ts": "2024-07-05T14:30:00Z"})
    body = "\n".join(json.dumps(r) for r in records).encode()
    parse = parse_landing_object("landing/quotes/x.jsonl", body, now=dt.datetime.now(dt.UTC))

    assert parse.fatal is None and parse.quotes.symbol.tolist() == ["AAPL"]
    assert len(parse.rejects) == len(HOSTILE_SYMBOLS)
    assert all("symbol" in r.reason for r in parse.rejects)
    reliability_record(
        "security",
        f"landing object: {len(HOSTILE_SYMBOLS)} records with hostile symbols and 1 good one",
        f"{len(parse.rejects)} rejected with a symbol reason; {len(parse.quotes)} quote kept",
    )


@pytest.mark.parametrize("lake_kind", ["local", "s3"])
def test_lake_keys_that_escape_the_lake_are_refused(tmp_path, lake_kind):
    lake = LocalLake(root=str(tmp_path)) if lake_kind == "local" else S3Lake(bucket="b")
    for key in ("../outside", "landing/../../outside", "/etc/passwd", "a//b", "a\\b", ""):
        with pytest.raises(ValueError, match="invalid lake key"):
            lake.get(key)
        with pytest.raises(ValueError, match="invalid lake key"):
            lake.put(key, b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_run_config_naming_a_key_outside_the_lake_fails_without_reading_it(
    data_home, reliability_record
):
    secret = data_home.parent / "outside.jsonl"
    secret.write_text('{"symbol": "AAPL", "price": 1, "ts": "2024-07-05T14:30:00Z"}\n')
    keys = ["landing/quotes/../../../outside.jsonl"]
    result = dg.materialize(
        [stream_assets],
        resources=local_resources(data_home),
        run_config={"ops": {"stream_assets": {"config": {"object_keys": keys}}}},
        partition_key="2024-07-05",
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "invalid lake key" in failure.step_failure_data.error.cause.message
    assert not (data_home / "warehouse.duckdb").exists()
    reliability_record(
        "security",
        "stream run config with object key landing/quotes/../../../outside.jsonl",
        "run failed with 'invalid lake key' before reading; warehouse not created",
    )


def test_asset_keys_that_would_break_a_quoted_identifier_are_refused():
    """Identifiers in our SQL come from asset keys; Dagster allows only [A-Za-z0-9_] in them."""
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="not a valid name"):

        @dg.asset(key=["silver", 'x"; DROP TABLE silver.prices; --'])
        def _hostile() -> None: ...


# -- SQL is never built from values ------------------------------------------------------

_SQL = re.compile(r"\b(SELECT|INSERT|DELETE|UPDATE|CREATE|DROP|ALTER|MERGE)\b")
_HOLE = "\x00"
# An interpolation right after one of these is in value position (it should be a `?`).
_VALUE_POSITION = re.compile(
    r"(=|<|>|\bLIKE|\bIN\s*\(|\bBETWEEN|\bLIMIT|\bOFFSET|\bVALUES\s*\(|\bTHEN|\bELSE)\s*$",
    re.IGNORECASE,
)


def _template(node: ast.AST) -> str | None:
    """The SQL text of an f-string or str.format template, holes marked; None if not SQL."""
    if isinstance(node, ast.JoinedStr):
        text = "".join(
            v.value if isinstance(v, ast.Constant) else _HOLE for v in node.values
        )  # fmt: skip
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "{" in node.value:
        text = re.sub(r"\{[^{}]*\}", _HOLE, node.value)
    else:
        return None
    return text if _SQL.search(text) else None


def sql_value_interpolations(source: str) -> list[str]:
    """Interpolations in SQL text that sit in a string literal or in value position."""
    found = []
    for node in ast.walk(ast.parse(source)):
        text = _template(node)
        if text is None:
            continue
        for match in re.finditer(_HOLE, text):
            before, after = text[: match.start()], text[match.end() :]
            quoted_identifier = before.endswith('"') and after.startswith('"')
            in_literal = before.count("'") % 2 == 1
            if in_literal or (not quoted_identifier and _VALUE_POSITION.search(before)):
                found.append(f"line {node.lineno}: {text.replace(_HOLE, '{...}')!r}")
    return found


def test_the_sql_scan_catches_values_formatted_into_sql():
    bad = [
        "conn.execute(f\"SELECT * FROM t WHERE symbol = '{symbol}'\")",
        'conn.execute(f"DELETE FROM t WHERE trade_date >= {day}")',
        'conn.execute("SELECT * FROM t WHERE symbol IN ({})".format(symbols))',
        'q = f"SELECT * FROM t LIMIT {n}"',
    ]
    good = [
        'conn.execute("SELECT * FROM t WHERE symbol = ?", [symbol])',
        "conn.execute(f'CREATE SCHEMA IF NOT EXISTS \"{schema}\"')",
        'match = f\'t."{k}" = o."{k}"\'',
        'conn.execute(f"SELECT count(*) FROM {table}")',
    ]
    assert [len(sql_value_interpolations(s)) for s in bad] == [1] * len(bad)
    assert [sql_value_interpolations(s) for s in good] == [[]] * len(good)


def test_no_sql_in_the_package_formats_a_value_into_its_text(reliability_record):
    files = sorted(PACKAGE.rglob("*.py"))
    findings = {
        str(path.relative_to(PACKAGE.parent)): found
        for path in files
        if (found := sql_value_interpolations(path.read_text()))
    }
    statements = sum(
        1
        for path in files
        for node in ast.walk(ast.parse(path.read_text()))
        if _template(node) is not None
    )
    assert findings == {}
    reliability_record(
        "security",
        f"static scan of {len(files)} package modules: SQL built by f-string or str.format",
        f"{statements} SQL templates found; interpolations only in identifier position "
        "(quoted or from code constants), values passed as ? parameters: 0 findings",
    )


# -- the API key never leaves the request ------------------------------------------------------

CANARY = "CANARY-KEY-8d1f3c0e9b"


def test_the_deployed_resource_binds_the_key_through_envvar(monkeypatch):
    """Definitions hold the variable's name; Dagster resolves the value only inside a run."""
    monkeypatch.setenv("STOCK_ASSETS_SOURCE", "alpha_vantage")
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", CANARY)
    resource = market_data_resource()
    assert isinstance(resource.alpha_vantage_api_key, dg.EnvVar)
    assert resource.alpha_vantage_api_key == "ALPHA_VANTAGE_API_KEY"
    assert CANARY not in repr(resource)


def _text_of_tables(database: Path) -> str:
    """Every row of every warehouse table as text (DuckDB's file is compressed)."""
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        return "\n".join(
            conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchdf().to_csv()
            for schema, name in tables
        )


def test_the_api_key_is_in_no_event_log_metadata_error_or_file(
    tmp_path, data_home, monkeypatch, caplog, capfd, reliability_record
):
    caplog.set_level("DEBUG")
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", CANARY)
    home = tmp_path / "dagster_home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(tempdir=str(home))
    resources = local_resources(data_home)
    scripts = {
        # Throttled once, then data; an unknown symbol is reported as a symbol error.
        "IBM,NOPE": {"IBM": ["note_call_frequency.json", "daily_adjusted_IBM.json"],
                     "NOPE": ["error_invalid_call.json"]},
        "MSFT": {"MSFT": ["500:"]},  # the run fails: error message and stack trace
        "IBM": {"IBM": ["error_invalid_apikey.json"]},  # the key is refused: the run fails
    }  # fmt: skip
    servers, outcomes = [], []
    for symbols, script in scripts.items():
        server = RecordedAlphaVantage(script)
        servers.append(server)
        resources["market_data"] = recorded_market_data(server, Sleeps(), symbols)
        result = dg.materialize(
            [raw_quotes, prices],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": JAN2.isoformat(),
                "dagster/asset_partition_range_end": JAN5.isoformat(),
            },
            raise_on_error=False,
        )
        outcomes.append(result.success)
    assert outcomes == [True, False, False]
    # Control: the key did reach the (recorded) service on every request.
    sent = [q["apikey"] for server in servers for q in server.requests]
    assert len(sent) == 5 and set(sent) == {CANARY}

    records = [record for run in instance.get_runs() for record in instance.all_logs(run.run_id)]
    places = {
        "event log (events, metadata, errors, stack traces)": "\n".join(
            serialize_value(r) for r in records
        ),
        "run records (config, tags)": "\n".join(serialize_value(r) for r in instance.get_runs()),
        "captured log output": caplog.text + "".join(capfd.readouterr()),
        "warehouse tables": _text_of_tables(data_home / "warehouse.duckdb"),
    }
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    compute_logs = "".join(p.read_text() for p in files if p.suffix == ".err")
    assert "HTTP 500 for MSFT" in compute_logs  # control: the scan does read the compute logs
    places.update({f"file {p.name}": p.read_bytes().decode("latin-1") for p in files})
    # Control: the failures are in the event log with their messages and stack traces.
    events = places["event log (events, metadata, errors, stack traces)"]
    assert "HTTP 500 for MSFT" in events and "API key was rejected" in events
    assert "sources/alpha_vantage.py" in events  # a frame of the stack trace

    leaks = [where for where, text in places.items() if CANARY in text]
    assert leaks == []
    reliability_record(
        "security",
        "ALPHA_VANTAGE_API_KEY set to a canary through EnvVar; 3 runs: throttle + unknown "
        "symbol, HTTP 500, rejected key",
        f"key sent on {len(sent)} requests; found in none of: the event log (events, "
        "metadata, errors, stack traces), run records, captured logs, warehouse tables, any "
        "file under the instance and data dir (compute logs, lake)",
    )
