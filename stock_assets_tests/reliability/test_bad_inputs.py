"""Bad inputs catalogue: each kind of broken input, through the real pipeline, one test id each.

Landing cases are written as objects into one local landing zone; the arrivals sensor is
evaluated and the runs it requests are executed (stream assets -> DuckDB), once for the
whole catalogue. Source cases are CSV exports (the csv source) and the simulator's injected
faults, pulled through bronze.raw_quotes -> silver.prices in one single-run backfill each.
Every case then checks, from what the pipeline left behind: the bad record was rejected with
a reason naming its file and record (or the object was quarantined whole, with a report),
the good records beside it landed exactly once, and nothing half-written remains.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import itertools
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
from stock_assets.resources.lake import LocalLake
from stock_assets_tests.assets.test_stream import Harness
from stock_assets_tests.conftest import local_resources

LANDING_AREA = "bad input: landing"
SOURCE_AREA = "bad input: source"
PREFIX = "landing/quotes/catalogue/"

# -- landing objects -------------------------------------------------------------------------

_second = itertools.count()


def quote(symbol: str = "AAPL", **fields: object) -> dict[str, object]:
    """A valid quote on 2024-07-05 with a ts no other quote of the catalogue has."""
    at = dt.datetime(2024, 7, 5, 14, tzinfo=dt.UTC) + dt.timedelta(seconds=next(_second))
    return {
        "symbol": symbol,
        "ts": at.isoformat().replace("+00:00", "Z"),
        "price": 190.25,
        "volume": 1200,
        "name": "Apple Inc.",
        **fields,
    }


def line(record: dict[str, object], **changes: object) -> str:
    return json.dumps({**record, **changes}, ensure_ascii=False)


def lines(*texts: str, end: str = "\n") -> bytes:
    return end.join(texts).encode() + end.encode()


def epoch(record: dict[str, object]) -> int:
    return int(dt.datetime.fromisoformat(str(record["ts"])).timestamp())


@dataclass(frozen=True)
class LandingCase:
    """Objects written to the landing zone, and what must become of them."""

    id: str
    kind: str  # the row's "case" in the report
    files: dict[str, bytes]  # name under PREFIX -> body
    good: list[dict[str, object]]  # quotes that must land, exactly once, as given
    rejected: dict[int, str] = field(default_factory=dict)  # record_no -> reason fragment
    quarantined: str | None = None  # fatal reason fragment: the object is moved whole

    @property
    def keys(self) -> list[str]:
        return [PREFIX + name for name in self.files]


def beside_good(changes: dict[str, object] | str, *, first: bool = False) -> tuple[bytes, list]:
    """A JSON Lines object: one good quote and one bad record (first or second)."""
    good = quote()
    bad = changes if isinstance(changes, str) else line(quote(), **changes)
    texts = [bad, line(good)] if first else [line(good), bad]
    return lines(*texts), [good]


def without(*names: str) -> str:
    return json.dumps({k: v for k, v in quote().items() if k not in names})


def csv_row(q: dict[str, object], *names: str) -> str:
    return ",".join(str(q[name]) for name in names)


def landing_cases() -> list[LandingCase]:
    """One case per kind; each bad record sits next to good quotes of its own object."""
    cases: list[LandingCase] = []

    def add(id_, kind, name, body_good, rejected=None, quarantined=None):
        body, good = body_good
        cases.append(LandingCase(id_, kind, {name: body}, good, rejected or {}, quarantined))

    def rejected_beside_good(id_, kind, changes, reason, first=False):
        add(
            id_,
            kind,
            f"{id_}.jsonl",
            beside_good(changes, first=first),
            {1 if first else 2: reason},
        )

    def quarantined(id_, kind, name, body, reason):
        add(id_, kind, name, (body, []), quarantined=reason)

    def accepted(id_, kind, name, body, good):
        add(id_, kind, name, (body, good))

    rejected_beside_good(
        "price-wrong-type",
        "price given as text that is not a number",
        {"price": "one hundred"},
        "price is not a number",
        first=True,
    )
    rejected_beside_good(
        "price-boolean", "price given as a JSON boolean", {"price": True}, "price must be a number"
    )
    rejected_beside_good(
        "symbol-wrong-type",
        "symbol given as a number",
        {"symbol": 1234},
        "symbol must be text",
        first=True,
    )
    rejected_beside_good(
        "nan-price", "price NaN (JSON NaN literal)", {"price": float("nan")}, "price is NaN"
    )
    rejected_beside_good(
        "infinite-price",
        "price Infinity and change -Infinity",
        {"price": float("inf"), "change": float("-inf")},
        "price is infinite",
        first=True,
    )
    rejected_beside_good("zero-price", "price 0", {"price": 0}, "price must be positive")
    rejected_beside_good(
        "negative-price", "price -12.5", {"price": -12.5}, "price must be positive", first=True
    )
    rejected_beside_good(
        "negative-volume", "volume -100", {"volume": -100}, "volume must not be negative"
    )
    rejected_beside_good(
        "fractional-volume",
        "volume 10.5 (not a whole number)",
        {"volume": 10.5},
        "volume must be a whole number",
    )
    rejected_beside_good(
        "far-future-ts",
        "ts in the year 2999",
        {"ts": "2999-01-01T00:00:00Z"},
        "in the future",
        first=True,
    )
    rejected_beside_good(
        "weekend-ts",
        "ts on a Saturday (no trading session to file it under)",
        {"ts": "2024-07-06T15:00:00Z"},
        "2024-07-06 is a Saturday: the NYSE is closed on weekends",
    )
    rejected_beside_good(
        "holiday-ts",
        "ts on an NYSE holiday (2024-07-04)",
        {"ts": "2024-07-04T15:00:00Z"},
        "2024-07-04 is an NYSE holiday",
        first=True,
    )
    rejected_beside_good(
        "ancient-ts",
        "ts 1970-01-02 (before any plausible quote)",
        {"ts": "1970-01-02T00:00:00Z"},
        "implausible for a quote",
    )
    rejected_beside_good(
        "epoch-microseconds",
        "ts as epoch microseconds (a unit the contract does not take)",
        {"ts": 1720188000 * 10**6},
        "read as epoch milliseconds) is in the future",
        first=True,
    )
    rejected_beside_good(
        "ts-without-offset",
        "ISO ts without a UTC offset",
        {"ts": "2024-07-05T14:00:00"},
        "has no UTC offset",
    )
    rejected_beside_good(
        "ts-and-timestamp-disagree",
        "ts and timestamp given and different",
        {"ts": "2024-07-05T14:00:00Z", "timestamp": "2024-07-05T15:00:00Z"},
        "disagree",
        first=True,
    )
    rejected_beside_good(
        "missing-price", "record without a price", without("price"), "price is missing", first=True
    )
    rejected_beside_good("missing-ts", "record without a ts", without("ts"), "ts is missing")
    rejected_beside_good(
        "path-traversal-symbol",
        "symbol ../../etc/passwd",
        {"symbol": "../../etc/passwd"},
        "invalid symbol",
        first=True,
    )
    rejected_beside_good(
        "sql-metacharacters-symbol",
        "symbol AAPL'; DROP TABLE silver.stream_history;--",
        {"symbol": "AAPL'; DROP TABLE silver.stream_history;--"},
        "invalid symbol",
    )
    rejected_beside_good(
        "deeply-nested", "a line nested 100,000 levels deep", "[" * 100_000, "nested too deeply"
    )
    rejected_beside_good(
        "very-long-line",
        "a 1 MB line beside a good one",
        {"name": "x" * 1_000_100},
        "characters long; the limit is",
    )
    g = [quote(), quote("MSFT", name="Microsoft")]
    add(
        "truncated-json-line",
        "JSON Lines: a line cut off mid-record",
        "trunc.jsonl",
        (lines(line(g[0]), line(g[1])[:25], line(g[1])), g),
        {2: "line is not valid JSON"},
    )
    g = [quote(), quote()]
    add(
        "record-not-an-object",
        "JSON array holding a number and a list among records",
        "mixed-array.json",
        (f"[{line(g[0])}, 42, [1, 2], {line(g[1])}]".encode(), g),
        {2: "record is a number", 3: "record is an array"},
    )
    g = [quote()]
    add(
        "thousands-separator",
        'CSV price "1,234.50" with a thousands separator',
        "thousands.csv",
        (
            lines(
                "symbol,price,ts",
                'AAPL,"1,234.50",2024-07-05T13:00:00Z',
                csv_row(g[0], "symbol", "price", "ts"),
            ),
            [{**g[0], "volume": None, "name": None}],
        ),
        {1: "has a thousands separator"},
    )
    g = [quote()]
    add(
        "csv-field-count",
        "CSV rows with a field too many and too few",
        "fields.csv",
        (
            lines(
                "symbol,price,ts",
                "AAPL,1,2,2024-07-05T13:00:00Z",
                "AAPL,5",
                csv_row(g[0], "symbol", "price", "ts"),
            ),
            [{**g[0], "volume": None, "name": None}],
        ),
        {1: "row has 4 fields but the header has 3", 2: "row has 2 fields"},
    )
    quarantined(
        "truncated-json-array",
        "JSON array cut off mid-element",
        "trunc-array.json",
        json.dumps([quote(), quote()])[:-30].encode(),
        "truncated or malformed",
    )
    quarantined(
        "json-document-not-records",
        "JSON document that is a bare string",
        "string.json",
        b'"AAPL 190.25"',
        "JSON document is a string",
    )
    quarantined("empty-object", "empty object (0 bytes)", "empty.jsonl", b"", "empty object")
    quarantined(
        "blank-object", "object of blank lines only", "blank.jsonl", b"\n \r\n\t\n", "empty object"
    )
    quarantined(
        "latin1",
        "Latin-1 text (not UTF-8)",
        "latin1.jsonl",
        line(quote(name="Société")).encode("latin-1"),
        "not valid UTF-8",
    )
    quarantined(
        "utf16-without-bom",
        "UTF-16 without a byte-order mark",
        "utf16-nobom.jsonl",
        line(quote()).encode("utf-16-le"),
        "NUL characters",
    )
    quarantined(
        "binary",
        "binary data (a truncated GZIP stream) named .jsonl",
        "binary.jsonl",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xcb\x48\xcd\xc9\xc9\x07\x00",
        "GZIP-compressed but cannot be decompressed",
    )
    f = [quote(), quote("MSFT"), quote()]
    concatenated = "".join(line(q) for q in f).encode()
    accepted(
        "firehose-concatenated",
        "Kinesis Firehose object: JSON records concatenated without newlines, no extension",
        "stream-1-2024-07-05-14-00-00-8c1f0e2a",
        concatenated,
        f,
    )
    f = [quote(), quote("MSFT")]
    accepted(
        "firehose-gzip",
        "Kinesis Firehose object: concatenated JSON records, GZIP-compressed (.gz)",
        "stream-1-2024-07-05-14-05-00-3d9b7c41.gz",
        gzip.compress("".join(line(q) for q in f).encode(), mtime=0),
        f,
    )
    f = [quote(), quote("MSFT")]
    accepted(
        "gzip-json-lines",
        "JSON Lines, GZIP-compressed, named .jsonl.gz",
        "quotes.jsonl.gz",
        gzip.compress(lines(*(line(q) for q in f)), mtime=0),
        f,
    )
    f = [quote(), quote("MSFT")]
    add(
        "firehose-broken-record",
        "Kinesis Firehose object whose second concatenated record is broken JSON",
        "stream-1-2024-07-05-14-10-00-55aa01b2",
        (f'{line(f[0])}{{"symbol": "AAPL", "price": }}{line(f[1])}'.encode(), f),
        {2: "record is not valid JSON"},
    )
    quarantined(
        "csv-without-header",
        "CSV with no header row",
        "no-header.csv",
        f"AAPL,190.25,{quote()['ts']}\n".encode(),
        "lacks required column",
    )
    g = [quote()]
    accepted(
        "duplicates-in-object",
        "the same quote three times in one object",
        "dupes.jsonl",
        lines(line(g[0]), line(g[0]), line(g[0])),
        g,
    )
    g = [quote(), quote(), quote()]
    accepted(
        "out-of-order",
        "timestamps out of order within an object",
        "out-of-order.jsonl",
        lines(line(g[2]), line(g[0]), line(g[1])),
        g,
    )
    g = [quote(), quote()]
    accepted(
        "epoch-seconds-and-millis",
        "ts as epoch seconds and as epoch milliseconds",
        "epoch.jsonl",
        lines(line(g[0], ts=epoch(g[0])), line(g[1], ts=epoch(g[1]) * 1000)),
        g,
    )
    g = [quote(), quote()]
    accepted(
        "utf8-bom",
        "UTF-8 with a byte-order mark",
        "bom.jsonl",
        codecs.BOM_UTF8 + lines(*map(line, g)),
        g,
    )
    g = [quote(name="Société Générale"), quote()]
    accepted(
        "utf16-bom",
        "UTF-16 with a byte-order mark, non-ASCII name",
        "utf16.jsonl",
        "\n".join(map(line, g)).encode("utf-16"),
        g,
    )
    g = [quote("TMUS", name='T-Mobile US, Inc.\n"Un-carrier"'), quote("TMUS", name="T, M")]
    accepted(
        "csv-quotes-commas-newlines",
        "CSV names holding quotes, commas and a newline",
        "quoted.csv",
        lines(
            "symbol,price,ts,volume,name",
            *(
                csv_row(q, "symbol", "price", "ts", "volume")
                + ',"'
                + str(q["name"]).replace('"', '""')
                + '"'
                for q in g
            ),
            end="\r\n",
        ),
        g,
    )
    g = [quote(), quote()]
    accepted(
        "extra-fields",
        "records with fields the contract does not know",
        "extra.jsonl",
        lines(line(g[0], exchange="NASDAQ", bid=1.5), line(g[1], nested={"a": [1]})),
        g,
    )
    g = [quote("BRK-B")]
    accepted(
        "lower-case-symbol",
        "symbol in lower case with spaces (' brk-b ')",
        "lower.jsonl",
        lines(line(g[0], symbol=" brk-b ")),
        g,
    )
    g = [quote(), quote()]
    accepted(
        "unknown-extension",
        "JSON Lines under a .txt name (format sniffed)",
        "quotes.txt",
        lines(*map(line, g)),
        g,
    )
    g = [quote("NVDA")]
    cases.append(
        LandingCase(
            "duplicate-objects",
            "the same quotes delivered again in a second object",
            {"dup-1.jsonl": lines(line(g[0])), "dup-2.json": f"[{line(g[0])}]".encode()},
            g,
        )
    )
    return cases


LANDING_CASES = landing_cases()


@dataclass(frozen=True)
class LandingRun:
    lake: LocalLake
    home: Path
    history: pd.DataFrame
    tables: set[str]


@pytest.fixture(scope="module")
def landing_run(tmp_path_factory: pytest.TempPathFactory) -> LandingRun:
    """Every landing case's objects, through the sensor and the runs it requests, once."""
    home = tmp_path_factory.mktemp("landing-catalogue")
    lake = LocalLake(root=str(home / "lake"))
    for case in LANDING_CASES:
        for key, body in zip(case.keys, case.files.values(), strict=True):
            lake.put(key, body)
    harness = Harness(home, lake)
    assert harness.tick()
    assert harness.tick() == []  # everything was taken in the first evaluation
    return LandingRun(lake, home, harness.table("silver.stream_history"), _tables(home))


def _tables(home: Path) -> set[str]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    return {f"{schema}.{table}" for schema, table in rows}


def _landed(rows: pd.DataFrame) -> list[tuple[object, ...]]:
    return sorted(
        (r.symbol, r.ts, r.price, None if pd.isna(r.volume) else int(r.volume), r["name"])
        for _, r in rows.iterrows()
    )


def _expected(good: list[dict[str, object]]) -> list[tuple[object, ...]]:
    unique = {(str(q["symbol"]), pd.Timestamp(str(q["ts"])).tz_localize(None)): q for q in good}
    return sorted((*key, q["price"], q["volume"], q["name"]) for key, q in unique.items())


def _stable(reason: str) -> str:
    """The reason without the moment of the run (the future limit is now + tolerance)."""
    return re.sub(r"\(limit [^)]*\)", "(limit: now + 5 min)", reason)


@pytest.mark.parametrize("case", LANDING_CASES, ids=lambda c: c.id)
def test_landing_bad_input(case: LandingCase, landing_run: LandingRun, reliability_record):
    lake = landing_run.lake
    rows = landing_run.history[landing_run.history.object_key.isin(case.keys)]
    assert _landed(rows) == _expected(case.good)
    landed = f"{len(rows)} good quote(s) beside it landed once" if len(rows) else "none landed"

    quarantine = {o.key for o in lake.list_objects("quarantine/") if o.key.count(PREFIX)}
    ours = {k for k in quarantine if any(key in k for key in case.keys)}
    if case.quarantined:
        (key,) = case.keys
        assert ours == {f"quarantine/{key}", f"quarantine/{key}.report.json"}
        assert lake.get(f"quarantine/{key}") == case.files[key.removeprefix(PREFIX)]
        assert key not in {o.key for o in lake.list_objects(PREFIX)}
        report = json.loads(lake.get(f"quarantine/{key}.report.json"))
        assert report["key"] == key and case.quarantined in report["reason"]
        outcome = f"object moved whole to quarantine/ with a report: {report['reason']}; {landed}"
    elif case.rejected:
        (key,) = case.keys
        assert ours == {f"quarantine/rejected_records/{key}.json"}
        report = json.loads(lake.get(f"quarantine/rejected_records/{key}.json"))
        assert report["object_key"] == key
        reasons = {item["record"]: item["reason"] for item in report["rejected"]}
        assert sorted(reasons) == sorted(case.rejected)
        for record_no, fragment in case.rejected.items():
            assert fragment in reasons[record_no]
        named = "; ".join(f"record {n}: {_stable(reasons[n])}" for n in sorted(reasons))
        outcome = f"rejected with file and record named ({named}); {landed}"
    else:
        assert ours == set()
        outcome = f"accepted: {landed}, nothing rejected"
    reliability_record(LANDING_AREA, case.kind, outcome)


def test_landing_catalogue_leaves_nothing_half_written(landing_run: LandingRun):
    lake = landing_run.lake
    expected_rows = sum(len(_expected(c.good)) for c in LANDING_CASES)
    assert len(landing_run.history) == expected_rows  # no bad record landed anywhere
    assert landing_run.history.duplicated(["symbol", "ts"]).sum() == 0
    quarantined = {k for c in LANDING_CASES if c.quarantined for k in c.keys}
    remaining = {o.key for o in lake.list_objects(PREFIX)}
    assert remaining == {k for c in LANDING_CASES for k in c.keys} - quarantined
    leftovers = [p for p in (landing_run.home / "lake").rglob("*") if p.name.startswith(".tmp")]
    assert leftovers == []
    assert landing_run.tables == {"silver.stream_history", "gold.latest_snapshot"}
    assert not (landing_run.home / "warehouse.duckdb.wal").exists()


# -- source records: CSV exports and the simulator's injected faults ---------------------------

SOURCE_RANGE = (dt.date(2024, 7, 1), dt.date(2024, 7, 8))
SESSIONS = calendar.sessions_between(*SOURCE_RANGE)  # 1, 2, 3, 5 and 8 July
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def bar(day: dt.date, close: float = 100.5) -> str:
    return f"{day},{close - 0.5},{close + 1},{close - 1},{close},{close},1500"


def export(*rows: str, header: str = HEADER, end: str = "\n") -> bytes:
    return lines(header, *rows, end=end)


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
    return SourceRun(silver, rejects, bronze.metadata["symbol_errors"].value, home, _tables(home))


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
