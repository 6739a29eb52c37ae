"""The landing catalogue's cases (test_bad_landing): each kind of broken landing object, with
the good quotes beside it that must land and the reason its bad record or object must be
refused with."""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import itertools
import json
from dataclasses import dataclass, field

PREFIX = "landing/quotes/2024/07/05/catalogue/"  # dated: the sensor routes by key

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
