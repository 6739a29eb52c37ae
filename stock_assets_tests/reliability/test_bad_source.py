"""Bad inputs catalogue, source records: each kind of broken input, one test id each.

Source cases are CSV exports (the csv source) and the simulator's injected faults, pulled
through bronze.raw_quotes -> silver.prices in one single-run backfill each. Every case then
checks, from what the pipeline left behind: the bad record was rejected with a reason naming
its file and record (or the file was refused, reported for its symbol), the good records
beside it landed exactly once, and nothing half-written remains.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets.assets.prices import prices, raw_quotes
from stock_assets.market import calendar
from stock_assets.market.sources.simulated import FAULT_KINDS, SimulatedSource
from stock_assets.market.watchlist import default_listings
from stock_assets_tests.conftest import local_resources
from stock_assets_tests.reliability.runs import warehouse_tables

SOURCE_AREA = "bad input: source"

SOURCE_RANGE = (dt.date(2024, 7, 1), dt.date(2024, 7, 8))
SESSIONS = calendar.sessions_between(*SOURCE_RANGE)  # 1, 2, 3, 5 and 8 July
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def bar(day: dt.date, close: float = 100.5) -> str:
    return f"{day},{close - 0.5},{close + 1},{close - 1},{close},{close},1500"


def export(*rows: str, header: str = HEADER, end: str = "\n") -> bytes:
    """A CSV export: the header and rows, each ending with `end`."""
    return "".join(f"{text}{end}" for text in (header, *rows)).encode()


GOOD_ROWS = [bar(day) for day in SESSIONS]


@dataclass(frozen=True)
class SourceCase:
    """A <SYMBOL>.csv export and what silver must hold for that symbol afterwards."""

    id: str
    kind: str
    symbol: str
    body: bytes
    landed: list[dt.date]  # sessions that must be in silver.prices, once each
    rejected: dict[int, str] = field(default_factory=dict)  # CSV line -> reason fragment
    file_error: str | None = None  # the whole file is refused with this reason fragment


D = SESSIONS
SOURCE_CASES = [
    SourceCase(
        "high-below-low",
        "bar with high below low",
        "HILO",
        export(bar(D[0]), f"{D[1]},100,99,101,100,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "high 99.0 is below low 101.0"},
    ),
    SourceCase(
        "zero-close",
        "close 0",
        "ZERO",
        export(bar(D[0]), f"{D[1]},1,1,1,0,0,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "close must be positive"},
    ),
    SourceCase(
        "negative-open",
        "open -1",
        "NEG",
        export(bar(D[0]), f"{D[1]},-1,101,99,100,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "open must be positive"},
    ),
    SourceCase(
        "negative-volume",
        "volume -1500",
        "NVOL",
        export(bar(D[0]), bar(D[1])[:-4] + "-1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "volume must not be negative"},
    ),
    SourceCase(
        "fractional-volume",
        "volume 1500.5",
        "FVOL",
        export(bar(D[0]), bar(D[1]) + ".5", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "volume must be a whole number"},
    ),
    SourceCase(
        "nan-close",
        "close 'nan'",
        "NANC",
        export(bar(D[0]), f"{D[1]},100,101,99,nan,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "close is NaN"},
    ),
    SourceCase(
        "infinite-high",
        "high 'inf'",
        "INFH",
        export(bar(D[0]), f"{D[1]},100,inf,99,100,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "high is infinite"},
    ),
    SourceCase(
        "non-numeric-close",
        "close 'abc'",
        "TEXT",
        export(bar(D[0]), f"{D[1]},100,101,99,abc,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "close is not a number"},
    ),
    SourceCase(
        "nul-in-field",
        "a NUL byte inside the close",
        "NULB",
        export(bar(D[0]), f"{D[1]},100,101,99,10\x000.5,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "close is not a number"},
    ),
    SourceCase(
        "missing-close",
        "close empty (missing)",
        "MISS",
        export(bar(D[0]), f"{D[1]},100,101,99,,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "close is missing"},
    ),
    SourceCase(
        "too-few-fields",
        "a line with a field missing",
        "FEW",
        export(bar(D[0]), f"{D[1]},100,101,99,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "expected 7 fields"},
    ),
    SourceCase(
        "unquoted-comma",
        "a line with an unquoted 1,234.5 (one field too many)",
        "COMMA",
        export(bar(D[0]), f"{D[1]},100,1,234.5,99,100,100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "found 8"},
    ),
    SourceCase(
        "quoted-thousands",
        'quoted "1,234.50" prices (Excel export)',
        "QUOT",
        export(
            *GOOD_ROWS[:1],
            f'"{D[1]}","1,234.00","1,236.00","1,233.00","1,234.50","1,234.50","1,500"',
            *GOOD_ROWS[2:],
        ),
        list(D),
    ),
    SourceCase(
        "duplicate-day",
        "the same day twice (a correction)",
        "DUPE",
        export(*GOOD_ROWS, bar(D[1], close=200.5)),
        list(D),
    ),
    SourceCase(
        "out-of-order", "lines in reverse date order", "REV", export(*reversed(GOOD_ROWS)), list(D)
    ),
    SourceCase(
        "holiday",
        "a bar dated on an NYSE holiday (2024-07-04)",
        "HOLI",
        export(*GOOD_ROWS[:3], bar(dt.date(2024, 7, 4)), *GOOD_ROWS[3:]),
        list(D),
        {5: "NYSE holiday (July 4th)"},
    ),
    SourceCase(
        "weekend",
        "a bar dated on a Saturday",
        "WKND",
        export(*GOOD_ROWS[:4], bar(dt.date(2024, 7, 6)), *GOOD_ROWS[4:]),
        list(D),
        {6: "closed on weekends"},
    ),
    SourceCase(
        "us-date-format",
        "date written 07/02/2024",
        "USDT",
        export(bar(D[0]), bar(D[1]).replace(str(D[1]), "07/02/2024"), *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "is not YYYY-MM-DD"},
    ),
    SourceCase(
        "far-future-date",
        "a bar dated 2099-01-02 (outside every pull until then)",
        "FUTR",
        export(*GOOD_ROWS, bar(dt.date(2099, 1, 2))),
        list(D),
    ),
    SourceCase(
        "utf8-bom",
        "UTF-8 with a byte-order mark",
        "BOM",
        codecs.BOM_UTF8 + export(*GOOD_ROWS),
        list(D),
    ),
    SourceCase(
        "crlf", "Windows line endings (CRLF)", "CRLF", export(*GOOD_ROWS, end="\r\n"), list(D)
    ),
    SourceCase(
        "extra-column",
        "an extra column (Dividends)",
        "XCOL",
        export(*(r + ",0" for r in GOOD_ROWS), header=HEADER + ",Dividends"),
        list(D),
    ),
    SourceCase(
        "no-adj-close",
        "no Adj Close column",
        "NOADJ",
        export(
            *(",".join([*r.split(",")[:5], "1500"]) for r in GOOD_ROWS),
            header="Date,Open,High,Low,Close,Volume",
        ),
        list(D),
    ),
    SourceCase(
        "very-long-line",
        "a 200,000-character line (over the csv field limit)",
        "LONG",
        export(bar(D[0]), f"{D[1]},100,101,99,{'9' * 200_000},100,1500", *GOOD_ROWS[2:]),
        [D[0], *D[2:]],
        {3: "unreadable CSV: field larger"},
    ),
    SourceCase(
        "latin1",
        "Latin-1 text (not UTF-8)",
        "LATN",
        "\n".join([f"{HEADER},Bourse", *(f"{r},Société" for r in GOOD_ROWS)]).encode("latin-1"),
        [],
        file_error="is not UTF-8 text",
    ),
    SourceCase(
        "empty-file",
        "empty file (0 bytes)",
        "EMPT",
        b"",
        [],
        file_error="empty file or no header row",
    ),
    SourceCase(
        "no-header",
        "data lines without a header",
        "NOHD",
        "\n".join(GOOD_ROWS).encode(),
        [],
        file_error="header has no Date column",
    ),
]
MULTI_SYMBOLS = ("MULTI", "../etc/passwd", "X';DROP TABLE silver.prices;--")


@dataclass(frozen=True)
class SourceRun:
    prices: pd.DataFrame
    rejects: pd.DataFrame
    symbol_errors: dict[str, str]
    home: Path
    tables: set[str]


def _backfill(home: Path, symbols: list[str], **market: object) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [raw_quotes, prices],
        resources=local_resources(home, symbols=",".join(symbols), **market),
        tags={
            "dagster/asset_partition_range_start": SOURCE_RANGE[0].isoformat(),
            "dagster/asset_partition_range_end": SOURCE_RANGE[1].isoformat(),
        },
    )
    assert result.success
    return result


def _source_run(home: Path, result: dg.ExecuteInProcessResult) -> SourceRun:
    # One materialization per partition of the range, all with the pull's metadata.
    bronze = result.asset_materializations_for_node("bronze__raw_quotes")[0]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        silver = conn.execute("SELECT * FROM silver.prices").fetchdf()
        rejects = conn.execute("SELECT * FROM silver.price_rejects").fetchdf()
    return SourceRun(
        silver, rejects, bronze.metadata["symbol_errors"].value, home, warehouse_tables(home)
    )


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> SourceRun:
    """All CSV cases as one folder of exports, pulled in one single-run backfill."""
    home = tmp_path_factory.mktemp("csv-catalogue")
    folder = home / "exports"
    folder.mkdir()
    for case in SOURCE_CASES:
        (folder / f"{case.symbol}.csv").write_bytes(case.body)
    multi = [f"{symbol},{bar(D[0])}" for symbol in MULTI_SYMBOLS]
    (folder / "multi.csv").write_bytes(export(*multi, header=f"Symbol,{HEADER}"))
    symbols = [case.symbol for case in SOURCE_CASES] + ["MULTI"]
    return _source_run(home, _backfill(home, symbols, source="csv", csv_path=str(folder)))


def _bronze_payload(home: Path, object_key: str, record_no: int) -> str:
    """The payload a reject's (object_key, record_no) points at in the bronze lake file."""
    lines = (home / "lake" / object_key).read_text(encoding="utf-8").splitlines()
    return json.loads(lines[record_no])["payload"]


def _days(frame: pd.DataFrame, symbol: str) -> list[dt.date]:
    return sorted(d.date() for d in frame[frame.symbol == symbol].trade_date)


@pytest.mark.parametrize("case", SOURCE_CASES, ids=lambda c: c.id)
def test_csv_source_bad_input(case: SourceCase, csv_run: SourceRun, reliability_record):
    assert _days(csv_run.prices, case.symbol) == sorted(case.landed)  # each once: a list
    landed = f"{len(case.landed)} good bar(s) landed once"
    where = f"{case.symbol}.csv line"
    rejects = csv_run.rejects[csv_run.rejects.symbol == case.symbol]
    by_line = {}
    for reject in rejects.itertuples():
        payload = json.loads(reject.payload)
        assert payload["file"] == f"{case.symbol}.csv"  # the record names its file and line
        assert _bronze_payload(csv_run.home, reject.object_key, reject.record_no) == reject.payload
        by_line[payload["line"]] = reject.reason
    assert sorted(by_line) == sorted(case.rejected)
    for line_no, fragment in case.rejected.items():
        assert fragment in by_line[line_no]
    if case.file_error:
        assert case.file_error in csv_run.symbol_errors[case.symbol]
        outcome = f"file refused, reported for the symbol: {csv_run.symbol_errors[case.symbol]}"
    elif by_line:
        named = "; ".join(
            reason if reason.startswith(where) else f"{where} {n}: {reason}"
            for n, reason in sorted(by_line.items())
        )
        outcome = f"rejected to silver.price_rejects ({named}); {landed}"
    else:
        assert case.symbol not in csv_run.symbol_errors
        outcome = f"accepted: {landed}, nothing rejected"
    reliability_record(SOURCE_AREA, f"CSV export: {case.kind}", outcome)


def test_csv_source_values_that_land_are_read_right(csv_run: SourceRun):
    """The accepted oddities land with the right values (not just the right days)."""
    silver = csv_run.prices.set_index(["symbol", "trade_date"])
    quoted = silver.loc[("QUOT", pd.Timestamp(D[1]))]
    assert (quoted.close, quoted.high, quoted.volume) == (1234.5, 1236.0, 1500)
    assert silver.loc[("DUPE", pd.Timestamp(D[1]))].close == 200.5  # the later line wins
    no_adj = silver.loc["NOADJ"]
    assert (no_adj.adj_close == no_adj.close).all()


def test_csv_invalid_symbols_in_a_symbol_column_never_reach_silver(
    csv_run: SourceRun, reliability_record
):
    multi = _days(csv_run.prices, "MULTI")
    assert multi == [D[0]]
    assert set(csv_run.prices.symbol) <= {c.symbol for c in SOURCE_CASES} | {"MULTI"}
    assert {"silver.prices", "bronze.raw_quotes"} <= csv_run.tables
    reliability_record(
        SOURCE_AREA,
        "CSV export: Symbol column holding ../etc/passwd and X';DROP TABLE silver.prices;--",
        f"those rows never pulled (not valid symbols); MULTI's {len(multi)} bar landed once;"
        " silver.prices intact",
    )


def test_csv_catalogue_leaves_nothing_half_written(csv_run: SourceRun):
    assert csv_run.prices.duplicated(["symbol", "trade_date"]).sum() == 0
    assert csv_run.tables == {"bronze.raw_quotes", "silver.prices", "silver.price_rejects"}
    lake = csv_run.home / "lake"
    assert [p for p in lake.rglob("*") if p.name.startswith(".tmp")] == []
    assert {p.relative_to(lake).parts[0] for p in lake.rglob("*") if p.is_file()} == {"bronze"}


# The simulator's fault injection: which record is faulty is a pure function of symbol and
# day (SimulatedSource.fault_for), so the expected outcome comes from the source, not the run.
FAULT_RATE = 0.5
FAULT_SYMBOLS = list(default_listings())[:8]
FAULT_SOURCE = SimulatedSource(fault_rate=FAULT_RATE)


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> SourceRun:
    home = tmp_path_factory.mktemp("simulated-faults")
    return _source_run(home, _backfill(home, FAULT_SYMBOLS, fault_rate=FAULT_RATE))


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_simulated_feed_fault(fault: str, simulated_run: SourceRun, reliability_record):
    faulty = [(s, d) for s in FAULT_SYMBOLS for d in D if FAULT_SOURCE.fault_for(s, d) == fault]
    assert faulty, f"no {fault} in the window: widen it"
    silver = {(r.symbol, r.trade_date.date()) for r in simulated_run.prices.itertuples()}
    rejected = {
        (r.symbol, r.trade_date.date()): r.reason for r in simulated_run.rejects.itertuples()
    }
    for reject in simulated_run.rejects.itertuples():
        stored = _bronze_payload(simulated_run.home, reject.object_key, reject.record_no)
        assert stored == reject.payload
    for key in faulty:
        if fault == "duplicate":
            assert key in silver and key not in rejected
        else:
            assert key in rejected and key not in silver
    clean = {(s, d) for s in FAULT_SYMBOLS for d in D if FAULT_SOURCE.fault_for(s, d) is None}
    assert clean <= silver and not clean & set(rejected)
    if fault == "duplicate":
        outcome = f"{len(faulty)} doubled record(s): each bar landed once"
    else:
        reasons = sorted({re.sub(r"[-\d.]+(e[-+]?\d+)?", "N", rejected[k]) for k in faulty})
        outcome = f"{len(faulty)} record(s) rejected ({' | '.join(reasons)}); neighbours landed"
    reliability_record(
        SOURCE_AREA,
        f"simulated feed at fault rate {FAULT_RATE}: {fault.replace('_', ' ')}",
        f"{outcome}; {len(clean)} clean bars of {len(FAULT_SYMBOLS)} symbols all landed once",
    )
