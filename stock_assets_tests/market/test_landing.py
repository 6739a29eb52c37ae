"""The landing-zone contract: every rule has an example, and three properties hold for all input.

Examples pin the exact outcome of each kind of bad input (which record is rejected, with
which reason, and that its good neighbours are kept). Properties: encode -> parse round-trips
exactly; arbitrary bytes never raise and every record is accounted for; junk never costs a
good record.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import random
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stock_assets.market.landing import (
    FORMATS,
    MAX_RECORD_CHARS,
    STREAM_COLUMNS,
    LandingParse,
    RecordReject,
    encode_micro_batch,
    micro_batch_key,
    parse_landing_object,
    quarantine_report,
    reject_message,
)
from stock_assets.market.sources.base import TICK_FIELDS
from stock_assets.market.sources.simulated import SimulatedSource

NOW = dt.datetime(2024, 7, 5, 20, 0, tzinfo=dt.UTC)
LIMIT = "2024-07-05T20:05:00+00:00"  # NOW + the default 5-minute tolerance
TS = "2024-07-05T14:30:00Z"
GOOD = {"symbol": "AAPL", "ts": TS, "price": 187.5, "volume": 1000, "name": "Apple Inc."}
KEY = "landing/quotes/2024/07/05/batch.jsonl"
SYMBOL_RULE = "expected 1-16 of A-Z 0-9 . - = ^"


def parse(body: bytes | str, key: str = KEY, **kwargs) -> LandingParse:
    data = body.encode() if isinstance(body, str) else body
    return parse_landing_object(key, data, now=NOW, **kwargs)


def line(**fields) -> str:
    return json.dumps({**GOOD, **fields})


def without(*names: str) -> str:
    return json.dumps({k: v for k, v in GOOD.items() if k not in names})


def reasons(result: LandingParse) -> list[tuple[int, str]]:
    return [(r.record_no, r.reason) for r in result.rejects]


def assert_only_middle_rejected(body: str, key: str = KEY) -> str:
    """Parse good/bad/good and return the bad record's reason (the good ones must land)."""
    result = parse(body, key)
    assert result.fatal is None
    assert result.quotes["record_no"].tolist() == [1, 3]
    assert result.quotes["symbol"].tolist() == ["AAPL", "AAPL"]
    assert [r.record_no for r in result.rejects] == [2]
    return result.rejects[0].reason


# -- record rules: one bad JSON line between two good ones --------------------------------

BAD_RECORDS = [
    # price
    (line(price=-3.2), "price must be positive, got -3.2"),
    (line(price=0), "price must be positive, got 0"),
    (line(price=-0.0), "price must be positive, got -0.0"),
    (line(price=float("nan")), "price is NaN"),
    (line(price=float("inf")), "price is infinite, got Infinity"),
    (line(price="-Infinity"), "price is infinite, got '-Infinity'"),
    (line(price="nan"), "price is NaN"),
    (line(price="N/A"), "price is not a number: 'N/A'"),
    (line(price="1_000"), "price is not a number: '1_000'"),
    (line(price="0x1A"), "price is not a number: '0x1A'"),
    (line(price=True), "price must be a number, got true"),
    (line(price=[187.5]), "price must be a number, got an array"),
    (line(price={"amount": 1}), "price must be a number, got an object"),
    (line(price=None), "price is missing"),
    (line(price="  "), "price is missing"),
    (without("price"), "price is missing"),
    (line().replace("187.5", "1e999"), "price is too large for a float, got 1E+999"),
    (line().replace("187.5", "1e99999999999999999999"), "price is infinite, got Infinity"),
    (line(price=1e-320).replace("1e-320", "1e-400"), "price must be positive, got 1E-400"),
    # symbol
    (line(symbol="../etc"), f"invalid symbol '../etc': {SYMBOL_RULE}"),
    (
        line(symbol="AAPL'; DROP TABLE x;--"),
        f'invalid symbol "AAPL\'; DROP TABLE x;--": {SYMBOL_RULE}',
    ),
    (line(symbol="A B"), f"invalid symbol 'A B': {SYMBOL_RULE}"),
    (line(symbol="TOO-LONG-SYMBOL-XX"), f"invalid symbol 'TOO-LONG-SYMBOL-XX': {SYMBOL_RULE}"),
    (line(symbol=42), "symbol must be text, got 42"),
    (line(symbol=""), "symbol is missing"),
    (without("symbol"), "symbol is missing"),
    # ts / timestamp
    (
        line(ts="2024-07-05T14:30:00"),
        "ts '2024-07-05T14:30:00' has no UTC offset (add Z or +HH:MM)",
    ),
    (
        without("ts")[:-1] + ', "timestamp": "2024-07-05 14:30"}',
        "timestamp '2024-07-05 14:30' has no UTC offset (add Z or +HH:MM)",
    ),
    (line(ts="2024-07-05"), "ts '2024-07-05' has no UTC offset (add Z or +HH:MM)"),
    (
        line(ts="2030-01-01T00:00:00Z"),
        f"ts '2030-01-01T00:00:00Z' is in the future (limit {LIMIT})",
    ),
    (
        line(ts="2024-07-05T20:06:00Z"),
        f"ts '2024-07-05T20:06:00Z' is in the future (limit {LIMIT})",
    ),
    (
        line(ts=1893456000000),
        f"ts 1893456000000 (read as epoch milliseconds) is in the future (limit {LIMIT})",
    ),
    (
        line(ts=1720189800000000),  # epoch microseconds: not a unit the contract knows
        f"ts 1720189800000000 (read as epoch milliseconds) is in the future (limit {LIMIT})",
    ),
    (
        line(ts="1985-06-01T00:00:00+00:00"),
        "ts '1985-06-01T00:00:00+00:00' is before 1990-01-01: implausible for a quote",
    ),
    (
        line(ts=86400),
        "ts 86400 (read as epoch seconds) is before 1990-01-01: implausible for a quote",
    ),
    (
        line(ts="20240705"),  # a compact date is a number: read as epoch seconds, so 1970
        "ts '20240705' (read as epoch seconds) is before 1990-01-01: implausible for a quote",
    ),
    (
        line(ts=-1720189800),
        "ts -1720189800 (read as epoch seconds) is before 1990-01-01: implausible for a quote",
    ),
    (line(ts="yesterday"), "ts is not an ISO-8601 timestamp or epoch number: 'yesterday'"),
    (
        line(ts="07/05/2024 14:30 -04:00"),
        "ts is not an ISO-8601 timestamp or epoch number: '07/05/2024 14:30 -04:00'",
    ),
    (line(ts=True), "ts must be ISO-8601 text or epoch seconds, got true"),
    (line(ts=float("nan")), "ts is NaN"),
    (line(ts=None), "ts is missing (neither ts nor timestamp is given)"),
    (without("ts"), "ts is missing (neither ts nor timestamp is given)"),
    (
        line(timestamp="2024-07-05T14:31:00Z"),
        "ts '2024-07-05T14:30:00Z' and timestamp '2024-07-05T14:31:00Z' disagree",
    ),
    # volume
    (line(volume=-5), "volume must not be negative, got -5"),
    (line(volume=1.5), "volume must be a whole number, got 1.5"),
    (line(volume="1,234"), "volume '1,234' has a thousands separator; write plain digits"),
    (line(volume=2**63), f"volume is out of range (above {2**63 - 1}), got {2**63}"),
    (line(volume="lots"), "volume is not a number: 'lots'"),
    (line(volume=False), "volume must be a number, got false"),
    # change / change_pct / changesPercentage
    (line(change="abc"), "change is not a number: 'abc'"),
    (line(change=float("nan")), "change is NaN"),
    (line(change_pct=float("-inf")), "change_pct is infinite, got -Infinity"),
    (line(changesPercentage="n/a"), "changesPercentage is not a number: 'n/a'"),
    (
        line(change_pct=1.5, changesPercentage=1.6),
        "change_pct 1.5 and changesPercentage 1.6 disagree",
    ),
    # name / source
    (line(name=5), "name must be text, got 5"),
    (line(source={"id": 1}), "source must be text, got an object"),
    # the record itself
    ("[1, 2, 3]", "record is an array, expected a JSON object"),
    ('"AAPL,187.5"', "record is a string, expected a JSON object"),
    ("null", "record is null, expected a JSON object"),
    ("42", "record is a number, expected a JSON object"),
    (
        '{"symbol": "AAPL", "price": ',
        "line is not valid JSON: Expecting value: line 1 column 29 (char 28)",
    ),
    (
        "{'symbol': 'AAPL'}",
        "line is not valid JSON: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)",
    ),
    (line() + " trailing", "line is not valid JSON: Extra data: line 1 column 104 (char 103)"),
    ("[" * 100_000, "line is not usable JSON: nested too deeply"),
    # several problems are reported together
    (
        line(symbol="../x", price=-1, volume=-1),
        f"invalid symbol '../x': {SYMBOL_RULE}; price must be positive, got -1; "
        "volume must not be negative, got -1",
    ),
]


@pytest.mark.parametrize("bad,reason", BAD_RECORDS)
def test_a_bad_record_is_rejected_with_its_reason_and_neighbours_are_kept(bad, reason):
    assert assert_only_middle_rejected("\n".join([line(), bad, line()])) == reason


def test_reject_keeps_the_raw_text_and_message_names_file_record_and_reason():
    result = parse("\n".join([line(), line(price=-3.2)]))
    (reject,) = result.rejects
    assert reject == RecordReject(2, "price must be positive, got -3.2", line(price=-3.2))
    assert reject_message(KEY, reject) == f"{KEY} record 2: price must be positive, got -3.2"


# -- record rules: accepted spellings -----------------------------------------------------


@pytest.mark.parametrize(
    "fields,expected_ts",
    [
        ({"ts": "2024-07-05T14:30:00Z"}, "2024-07-05 14:30:00"),
        ({"ts": "2024-07-05T10:30:00-04:00"}, "2024-07-05 14:30:00"),
        ({"ts": "2024-07-05T20:00:00.123456+05:30"}, "2024-07-05 14:30:00.123456"),
        ({"ts": "2024-07-05T14:30:00.123456789Z"}, "2024-07-05 14:30:00.123456"),
        ({"ts": "20240705T143000Z"}, "2024-07-05 14:30:00"),
        ({"ts": 1720189800}, "2024-07-05 14:30:00"),
        ({"ts": 1720189800.25}, "2024-07-05 14:30:00.250000"),
        ({"ts": "1720189800.123456"}, "2024-07-05 14:30:00.123456"),
        ({"ts": 1720189800000}, "2024-07-05 14:30:00"),
        ({"ts": "1720189800123"}, "2024-07-05 14:30:00.123"),
        ({"ts": None, "timestamp": "2024-07-05T14:30:00Z"}, "2024-07-05 14:30:00"),
        ({"timestamp": 1720189800000}, "2024-07-05 14:30:00"),  # same instant as ts: fine
        ({"ts": "2024-07-05T20:04:59Z"}, "2024-07-05 20:04:59"),  # within the tolerance
    ],
)
def test_timestamps_are_read_in_every_contract_spelling_and_stored_naive_utc(fields, expected_ts):
    result = parse(line(**fields))
    assert reasons(result) == []
    assert result.quotes["ts"].tolist() == [pd.Timestamp(expected_ts)]


def test_epoch_unit_switches_to_milliseconds_at_1e11():
    below, at = parse(line(ts=99_999_999_999)), parse(line(ts=100_000_000_000))
    assert reasons(below) == [
        (1, f"ts 99999999999 (read as epoch seconds) is in the future (limit {LIMIT})")
    ]
    assert reasons(at) == [
        (
            1,
            "ts 100000000000 (read as epoch milliseconds) is before 1990-01-01: implausible "
            "for a quote",
        ),
    ]
    seconds, millis = parse(line(ts=1720189800)), parse(line(ts=1720189800000))
    assert seconds.quotes["ts"].equals(millis.quotes["ts"])


def test_future_tolerance_is_configurable():
    body = line(ts="2024-07-05T20:30:00Z")
    assert parse(body).quotes.empty
    assert len(parse(body, future_tolerance=dt.timedelta(hours=1)).quotes) == 1


def test_values_are_typed_and_optional_fields_default():
    body = "\n".join(
        [
            json.dumps({"symbol": " aapl ", "price": "187.50", "ts": TS, "volume": "1200"}),
            json.dumps(
                {
                    "symbol": "MSFT",
                    "price": 400,
                    "ts": TS,
                    "volume": 3e3,
                    "change": -1,
                    "changesPercentage": "-0.25",
                    "name": "  ",
                    "source": "yahoo",
                    "unknown": [1, 2],
                    "Symbol": "IGNORED",
                }
            ),
            json.dumps(
                {"symbol": "TMUS", "price": 1, "ts": TS, "change_pct": 2, "changesPercentage": 2.0}
            ),
        ]
    )
    quotes = parse(body, default_source="producer-7").quotes
    assert quotes.to_dict("list") == {
        "symbol": ["AAPL", "MSFT", "TMUS"],
        "ts": [pd.Timestamp("2024-07-05 14:30")] * 3,
        "price": [187.5, 400.0, 1.0],
        "volume": [1200, 3000, None],
        "change": [pytest.approx(np.nan, nan_ok=True), -1.0, pytest.approx(np.nan, nan_ok=True)],
        "change_pct": [pytest.approx(np.nan, nan_ok=True), -0.25, 2.0],
        "name": [None, None, None],
        "source": ["producer-7", "yahoo", "producer-7"],
        "record_no": [1, 2, 3],
    }
    assert tuple(quotes.columns) == STREAM_COLUMNS
    assert quotes.dtypes.astype(str).to_dict() == {
        "symbol": "object",
        "ts": "datetime64[us]",
        "price": "float64",
        "volume": "Int64",
        "change": "float64",
        "change_pct": "float64",
        "name": "object",
        "source": "object",
        "record_no": "int64",
    }


def test_duplicates_within_a_file_are_kept_for_downstream_dedup():
    result = parse("\n".join([line(), line(), line(price=188.0)]))
    assert result.quotes["price"].tolist() == [187.5, 187.5, 188.0]


# -- JSON Lines framing -------------------------------------------------------------------


def test_jsonl_record_numbers_are_line_numbers_and_blank_lines_and_crlf_are_fine():
    body = "\r\n".join([line(), "", "   ", line(price=-1), line(symbol="MSFT")]) + "\r\n"
    result = parse(body)
    assert result.quotes["record_no"].tolist() == [1, 5]
    assert reasons(result) == [(4, "price must be positive, got -1")]
    assert result.rejects[0].raw == line(price=-1)


def test_a_very_long_line_is_rejected_without_copying_it():
    huge = '{"symbol": "AAPL", "name": "' + "x" * (3 * MAX_RECORD_CHARS) + '"}'
    body = "\n".join([line(), huge, line()]).encode()
    tracemalloc.start()
    try:
        result = parse(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.quotes["record_no"].tolist() == [1, 3]
    (reject,) = result.rejects
    assert reject.reason == f"record is {len(huge):,} characters long; the limit is 1,000,000"
    assert reject.raw == huge[:500] + "..."
    assert peak < 1.5 * len(body)  # the decoded text, and no second copy of the long line


# -- JSON documents -----------------------------------------------------------------------


def test_json_array_numbers_records_by_element_and_rejects_non_objects():
    body = json.dumps([GOOD, 7, {**GOOD, "price": "x"}, {**GOOD, "symbol": "MSFT"}], indent=2)
    result = parse(body, "landing/quotes/a.json")
    assert result.fatal is None
    assert result.quotes["record_no"].tolist() == [1, 4]
    assert reasons(result) == [
        (2, "record is a number, expected a JSON object"),
        (3, "price is not a number: 'x'"),
    ]
    assert result.rejects[0].raw == "7"
    assert json.loads(result.rejects[1].raw)["price"] == "x"


def test_json_single_object_is_record_one_and_empty_array_is_an_empty_batch():
    single = parse(json.dumps(GOOD, indent=2), "landing/quotes/a.json")
    assert single.quotes["record_no"].tolist() == [1]
    empty = parse(" [ ] ", "landing/quotes/a.json")
    assert (empty.fatal, len(empty.quotes), empty.rejects) == (None, 0, ())


def test_json_file_holding_json_lines_is_read_line_by_line():
    body = "\n".join([line(), "{broken", line(symbol="MSFT")])
    result = parse(body, "landing/quotes/a.json")
    assert result.quotes["symbol"].tolist() == ["AAPL", "MSFT"]
    assert [r.record_no for r in result.rejects] == [2]


@pytest.mark.parametrize(
    "body,fatal",
    [
        (
            json.dumps([GOOD, GOOD])[:-20],
            "JSON array is truncated or malformed: Unterminated string starting at: "
            "line 1 column 187 (char 186)",
        ),
        (
            json.dumps([GOOD, GOOD])[:-1],
            "JSON array is truncated or malformed at line 1 column 208: expected ',' or ']' "
            "after element 2, the text ends",
        ),
        (
            json.dumps([GOOD]) + " []",
            "unexpected text after the JSON array at line 1 column 106",
        ),
        (
            "[" + json.dumps(GOOD) + ",]",
            "JSON array is truncated or malformed: Expecting value: line 1 column 105 (char 104)",
        ),
        (
            "[" + json.dumps(GOOD) + " " + json.dumps(GOOD) + "]",
            "JSON array is truncated or malformed at line 1 column 105: expected ',' or ']' "
            "after element 1, found '{'",
        ),
        ("[" * 100_000, "JSON array is not usable: nested too deeply"),
        (
            json.dumps(GOOD, indent=2)[:-10],
            "not valid JSON: Unterminated string starting at: line 6 column 11 (char 100)",
        ),
        ("42", "JSON document is a number, expected an array of records or one record"),
        ('"AAPL"', "JSON document is a string, expected an array of records or one record"),
        ("null", "JSON document is null, expected an array of records or one record"),
        ("true\n", "JSON document is a boolean, expected an array of records or one record"),
        ("symbol,price,ts\n", "not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_a_json_document_that_cannot_be_parsed_is_fatal(body, fatal):
    result = parse(body, "landing/quotes/a.json")
    assert result.fatal == fatal
    assert result.quotes.empty and result.rejects == ()
    assert tuple(result.quotes.columns) == STREAM_COLUMNS


# -- CSV ----------------------------------------------------------------------------------

CSV_KEY = "landing/quotes/a.csv"


def test_csv_quoted_fields_with_commas_quotes_and_newlines_land_with_columns_intact():
    body = (
        "symbol,ts,price,volume,name\r\n"
        'TMUS,2024-07-05T14:30:00Z,210.5,100,"T-Mobile US, Inc."\r\n'
        'BRK-B,2024-07-05T14:30:00Z,410,,"Berkshire ""B"" shares,\r\nclass B"\r\n'
        "AAPL,2024-07-05T14:30:00Z,187.5,5,Apple Inc.\r\n"
    )
    result = parse(body, CSV_KEY)
    assert result.fatal is None and result.rejects == ()
    quotes = result.quotes
    assert quotes["name"].tolist() == [
        "T-Mobile US, Inc.",
        'Berkshire "B" shares,\r\nclass B',
        "Apple Inc.",
    ]
    assert quotes["price"].tolist() == [210.5, 410.0, 187.5]
    assert quotes["volume"].tolist() == [100, pd.NA, 5]
    assert quotes["record_no"].tolist() == [1, 2, 3]  # data rows, not lines


def test_csv_rows_with_bad_values_or_field_counts_are_rejected_alone():
    body = "\n".join(
        [
            " symbol , price , timestamp , changesPercentage , exchange",  # spaces, extra col
            "AAPL,187.5,1720189800,0.5,NASDAQ",
            "AAPL,-1,1720189800,0.5,NASDAQ",
            "AAPL,187.5,1720189800,0.5",
            "",
            "MSFT,187.5,1720189800,0.5,NASDAQ,extra",
            'TMUS,"1,234.5",1720189800,,NYSE',
            "MSFT,400,2024-07-05T14:30:00+00:00,,NASDAQ",
        ]
    )
    result = parse(body, CSV_KEY)
    assert result.quotes["record_no"].tolist() == [1, 7]
    assert result.quotes["change_pct"].tolist()[0] == 0.5
    assert reasons(result) == [
        (2, "price must be positive, got '-1'"),
        (3, "row has 4 fields but the header has 5"),
        (5, "row has 6 fields but the header has 5"),
        (6, "price '1,234.5' has a thousands separator; write plain digits"),
    ]
    assert result.rejects[1].raw == "AAPL,187.5,1720189800,0.5"


def test_csv_field_over_the_csv_module_limit_is_rejected_and_reading_goes_on():
    body = "symbol,price,ts,name\n" + f"AAPL,1,{TS},{'x' * 200_000}\n" + f"MSFT,2,{TS},ok\n"
    result = parse(body, CSV_KEY)
    assert result.quotes["symbol"].tolist() == ["MSFT"]
    assert reasons(result) == [(1, "row is not valid CSV: field larger than field limit (131072)")]


@pytest.mark.parametrize(
    "body,fatal",
    [
        (
            f"AAPL,187.5,{TS}\nMSFT,400,{TS}\n",
            "CSV header lacks required column(s) symbol, price, ts|timestamp "
            "(first row: 'AAPL,187.5,2024-07-05T14:30:00Z'); is the header missing?",
        ),
        (
            "symbol,ts,volume\nAAPL,2024-07-05T14:30:00Z,5\n",
            "CSV header lacks required column(s) price (first row: 'symbol,ts,volume'); "
            "is the header missing?",
        ),
        (
            "symbol;price;ts\nAAPL;187.5;1720189800\n",  # semicolons: not the contract
            "CSV header lacks required column(s) symbol, price, ts|timestamp "
            "(first row: 'symbol;price;ts'); is the header missing?",
        ),
        ("symbol,price,ts,price\nAAPL,1,2,3\n", "CSV header repeats column(s) price"),
        (
            "symbol,price," + "x" * 200_000 + "\n",
            "CSV header cannot be read: field larger than field limit (131072)",
        ),
    ],
)
def test_a_csv_without_a_usable_header_is_fatal(body, fatal):
    result = parse(body, CSV_KEY)
    assert result.fatal == fatal
    assert result.quotes.empty and result.rejects == ()


def test_csv_with_header_only_is_an_empty_batch():
    result = parse("symbol,price,ts\r\n", CSV_KEY)
    assert (result.fatal, len(result.quotes), result.rejects) == (None, 0, ())


# -- encodings, empty objects, format sniffing --------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
    ],
    ids=["utf8-bom", "utf16le-bom", "utf16be-bom"],
)
@pytest.mark.parametrize("key", [KEY, CSV_KEY])
def test_byte_order_marks_are_honoured(encode, key):
    if key == CSV_KEY:
        text = f"symbol,price,ts,name\nAAPL,1.5,{TS},Société Générale ✓\n"
    else:
        text = line(price=1.5, name="Société Générale ✓") + "\n"
    result = parse(encode(text), key)
    assert result.fatal is None
    assert result.quotes[["symbol", "price", "name"]].values.tolist() == [
        ["AAPL", 1.5, "Société Générale ✓"]
    ]


@pytest.mark.parametrize(
    "body,fatal",
    [
        (b"", "empty object"),
        (b" \n\t\r\n", "empty object"),
        (codecs.BOM_UTF8, "empty object"),
        (codecs.BOM_UTF16_LE + " \n".encode("utf-16-le"), "empty object"),
        (
            (line()[:-1] + ', "exchange": "Société"}').encode("latin-1"),
            "object is not valid UTF-8 text (invalid continuation byte at byte 120); "
            "accepted: UTF-8 with or without BOM, UTF-16 with BOM",
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00",
            "object is not valid UTF-8 text (invalid start byte at byte 0); "
            "accepted: UTF-8 with or without BOM, UTF-16 with BOM",
        ),
        (
            codecs.BOM_UTF16_LE + line().encode("utf-16-le")[:-1],
            "object is not valid UTF-16 text (truncated data at byte 204); "
            "accepted: UTF-8 with or without BOM, UTF-16 with BOM",
        ),
        (
            line().encode("utf-16-le"),  # no BOM: valid UTF-8 full of NULs
            "object contains NUL characters: binary data or UTF-16 without a BOM?",
        ),
    ],
)
def test_empty_or_undecodable_objects_are_fatal(body, fatal):
    result = parse(body)
    assert result.fatal == fatal
    assert result.quotes.empty and result.rejects == ()


@pytest.mark.parametrize(
    "key,body",
    [
        ("landing/quotes/a.ndjson", line() + "\n" + line(price=-1)),
        ("landing/quotes/a.JSONL", line() + "\n" + line(price=-1)),
        ("landing/quotes/a", line() + "\n" + line(price=-1)),
        ("landing/quotes/a.txt", "  " + line() + "\n" + line(price=-1)),
        ("landing/quotes/a.dat", json.dumps([GOOD, {**GOOD, "price": -1}])),
        ("landing/quotes/a.gz.part", f"symbol,ts,price\nAAPL,{TS},187.5\nAAPL,{TS},-1\n"),
    ],
)
def test_format_comes_from_the_extension_or_is_sniffed(key, body):
    result = parse(body, key)
    assert result.quotes["record_no"].tolist() == [1]
    assert reasons(result) in (
        [(2, "price must be positive, got -1")],
        [(2, "price must be positive, got '-1'")],  # CSV values are text
    )


def test_unknown_extension_with_garbage_is_fatal():
    result = parse("hello world\n", "landing/quotes/notes.txt")
    assert result.fatal == (
        "CSV header lacks required column(s) symbol, price, ts|timestamp "
        "(first row: 'hello world'); is the header missing?"
    )


# -- quarantine report, producer side, keys -----------------------------------------------


def test_quarantine_report_says_what_where_and_when():
    fatal = parse(b"[{", "landing/quotes/x.json")
    report = json.loads(quarantine_report(fatal, detected_at=dt.datetime(2024, 7, 5, 20, 1)))
    assert report == {
        "key": "landing/quotes/x.json",
        "reason": "JSON array is truncated or malformed: Expecting property name enclosed in "
        "double quotes: line 1 column 3 (char 2)",
        "accepted": 0,
        "rejects": [],
        "detected_at": "2024-07-05T20:01:00+00:00",
    }
    partial = parse("\n".join([line(), line(price=0)]))
    report = json.loads(quarantine_report(partial, detected_at=NOW))
    assert (report["reason"], report["accepted"]) == ("1 record(s) rejected", 1)
    assert report["rejects"] == [
        {"record_no": 2, "reason": "price must be positive, got 0", "raw": line(price=0)}
    ]


def test_micro_batch_keys_follow_the_contract_and_sort_by_time():
    assert micro_batch_key(dt.datetime(2024, 7, 5, 14, 30, tzinfo=dt.UTC), 1, "jsonl") == (
        "landing/quotes/2024/07/05/quotes-20240705T143000Z-000001.jsonl"
    )
    new_york = dt.timezone(dt.timedelta(hours=-4))
    moments = [dt.datetime(2024, 7, 5, 21, 59, 59, tzinfo=new_york), dt.datetime(2024, 7, 6, 2)]
    keys = [micro_batch_key(m, s, "csv") for m in moments for s in (2, 10)]
    assert keys == sorted(keys)
    assert keys[0] == "landing/quotes/2024/07/06/quotes-20240706T015959Z-000002.csv"
    with pytest.raises(ValueError, match="sequence"):
        micro_batch_key(NOW, 1_000_000, "csv")
    with pytest.raises(ValueError, match="format"):
        micro_batch_key(NOW, 1, "parquet")


def test_encoder_refuses_what_the_contract_cannot_carry():
    with pytest.raises(ValueError, match="has no UTC offset"):
        encode_micro_batch([{**GOOD, "ts": dt.datetime(2024, 7, 5, 14, 30)}])
    with pytest.raises(ValueError, match="price is inf"):
        encode_micro_batch([{**GOOD, "price": float("inf")}], "json")
    with pytest.raises(ValueError, match="NUL"):
        encode_micro_batch([{**GOOD, "name": "a\x00b"}], "csv")
    with pytest.raises(ValueError, match="no quotes to write"):
        encode_micro_batch([], "json")
    with pytest.raises(ValueError, match="unknown micro-batch format"):
        encode_micro_batch([GOOD], "xml")


def test_encoder_writes_nan_as_missing_and_numpy_scalars_as_numbers():
    quote = {**GOOD, "price": np.float64(2.5), "volume": np.int64(7), "change": float("nan")}
    assert encode_micro_batch([quote]).decode() == (
        '{"symbol":"AAPL","ts":"2024-07-05T14:30:00Z","price":2.5,"volume":7,"change":null,'
        '"change_pct":null,"name":"Apple Inc.","source":null}\n'
    )
    assert encode_micro_batch([quote], "csv").decode() == (
        "symbol,ts,price,volume,change,change_pct,name,source\r\n"
        "AAPL,2024-07-05T14:30:00Z,2.5,7,,,Apple Inc.,\r\n"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_simulated_producer_quotes_round_trip(fmt):
    quotes = SimulatedSource().latest_quotes(["AAPL", "TMUS", "BRK-B"], NOW)
    result = parse(encode_micro_batch(quotes, fmt), micro_batch_key(NOW, 1, fmt))
    assert result.fatal is None and result.rejects == ()
    assert "T-Mobile US, Inc." in result.quotes["name"].tolist()
    landed = result.quotes.drop(columns=["record_no"]).astype(object)
    landed["ts"] = [ts.tz_localize("UTC").isoformat() for ts in landed["ts"]]
    assert landed.to_dict("records") == quotes


# -- properties ---------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FAR_NOW = dt.datetime(2032, 1, 1, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

symbols = st.from_regex(r"\^?[A-Z0-9][A-Z0-9.\-=]{0,14}", fullmatch=True).filter(
    lambda s: ".." not in s
)
# Any text but NULs (never in a landing file), surrogates (not encodable) and U+FEFF (a BOM
# when it opens the file); blank text is missing.
characters = st.characters(exclude_categories=["Cs"], exclude_characters="\x00\ufeff")
texts = st.text(characters, min_size=1)
labels = st.none() | texts.filter(str.strip)
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)
instants = st.datetimes(
    min_value=dt.datetime(1990, 1, 2), max_value=dt.datetime(2030, 12, 31), timezones=offsets
)
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def timestamps(draw) -> tuple[object, int]:
    """A ts in one of the contract's spellings, and its expected epoch microseconds."""
    moment = draw(instants)
    micros = (moment - EPOCH) // dt.timedelta(microseconds=1)
    spelling = draw(st.sampled_from(["datetime", "iso", "s", "ms", "s-text"]))
    if spelling == "datetime":
        return moment, micros
    if spelling == "iso":
        return moment.isoformat(), micros
    if spelling == "s":
        return micros // 10**6, micros // 10**6 * 10**6
    if spelling == "ms":
        return micros // 1000, micros // 1000 * 1000
    return f"{micros // 10**6}.{micros % 10**6:06d}", micros


@st.composite
def quotes(draw) -> tuple[dict[str, object], dict[str, object]]:
    """A valid producer quote and the row the parser must turn it into."""
    ts, micros = draw(timestamps())
    quote = {
        "symbol": draw(symbols),
        "ts": ts,
        "price": draw(st.floats(min_value=0, exclude_min=True, allow_infinity=False)),
        "volume": draw(st.none() | st.integers(0, 2**63 - 1)),
        "change": draw(st.none() | finite),
        "change_pct": draw(st.none() | finite),
        "name": draw(labels),
        "source": draw(labels),
    }
    expected = {
        **quote,
        "ts": pd.Timestamp(micros, unit="us"),
        "source": quote["source"] or "landing",
    }
    return quote, expected


def assert_well_formed(result: LandingParse) -> None:
    assert tuple(result.quotes.columns) == STREAM_COLUMNS
    assert str(result.quotes["ts"].dtype) == "datetime64[us]"
    if result.fatal is not None:
        assert result.fatal and result.quotes.empty and result.rejects == ()
        return
    numbers = [*result.quotes["record_no"], *(r.record_no for r in result.rejects)]
    assert len(numbers) == len(set(numbers)) and min(numbers, default=1) >= 1
    assert all(r.reason and len(r.raw) <= 503 for r in result.rejects)
    assert (result.quotes["price"] > 0).all()


def landed_rows(result: LandingParse) -> list[dict[str, object]]:
    frame = result.quotes.astype(object).drop(columns=["record_no"])
    frame = frame.where(frame.notna(), None)
    return frame.to_dict("records")


@PROPERTY_SETTINGS
@given(st.lists(quotes(), min_size=1, max_size=12), st.sampled_from(FORMATS))
def test_property_encoded_batches_parse_back_to_the_same_values(batch, fmt):
    body = encode_micro_batch([quote for quote, _ in batch], fmt)
    result = parse_landing_object(micro_batch_key(FAR_NOW, 0, fmt), body, now=FAR_NOW)
    assert result.fatal is None and result.rejects == ()
    assert landed_rows(result) == [expected for _, expected in batch]
    assert result.quotes["record_no"].tolist() == list(range(1, len(batch) + 1))


def mutate(body: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    for position, insert in cuts:
        at = position % (len(body) + 1)
        body = body[:at] + insert + body[at + len(insert) :]
    return body


@st.composite
def hostile_bodies(draw) -> bytes:
    """Arbitrary bytes, arbitrary text in several encodings, and corrupted valid batches."""
    kind = draw(st.sampled_from(["bytes", "text", "corrupted", "truncated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    if kind == "text":
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
        return draw(st.text(max_size=300)).encode(encoding, errors="replace")
    body = encode_micro_batch(
        [q for q, _ in draw(st.lists(quotes(), min_size=1, max_size=4))],
        draw(st.sampled_from(FORMATS)),
    )
    if kind == "truncated":
        return body[: draw(st.integers(0, len(body)))]
    return mutate(body, draw(st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=6)))))


@PROPERTY_SETTINGS
@given(hostile_bodies(), st.sampled_from(["a.jsonl", "a.json", "a.csv", "a.ndjson", "a", "a.bin"]))
def test_property_arbitrary_bytes_never_raise(body, name):
    assert_well_formed(parse_landing_object(f"landing/quotes/{name}", body, now=NOW))


@PROPERTY_SETTINGS
@given(st.lists(st.text(st.characters(exclude_characters="\n\ufeff"), max_size=40), max_size=12))
def test_property_every_json_line_is_accounted_for(lines):
    result = parse_landing_object(KEY, "\n".join(lines).encode("utf-8", "replace"), now=NOW)
    assert_well_formed(result)
    records = sum(1 for text in lines if text.strip())
    if result.fatal is None:
        assert len(result.quotes) + len(result.rejects) == records
    else:  # only an object with nothing in it, or with NULs, is unreadable
        assert records == 0 or any("\x00" in text for text in lines)


json_values = st.recursive(
    st.none() | st.booleans() | finite | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)
# Junk records that leave the framing intact: a JSON Lines line, a JSON value, a CSV row.
junk_lines = texts.filter(lambda t: "\n" not in t and t.strip())
junk_objects = json_values | st.dictionaries(
    st.sampled_from([*TICK_FIELDS, "timestamp", "changesPercentage"]), json_values
)
junk_rows = st.lists(st.text(characters, max_size=12), min_size=1)


@PROPERTY_SETTINGS
@given(
    st.lists(quotes(), min_size=1, max_size=6),
    st.sampled_from(FORMATS),
    st.data(),
)
def test_property_junk_records_never_cost_a_good_record(batch, fmt, data):
    junk = data.draw(
        st.lists({"jsonl": junk_lines, "json": junk_objects, "csv": junk_rows}[fmt], max_size=8)
    )
    records = [("good", quote, expected) for quote, expected in batch]
    records += [("junk", item, None) for item in junk]
    random.Random(data.draw(st.integers())).shuffle(records)
    body = encode_mixed(fmt, records)
    result = parse_landing_object(f"landing/quotes/mixed.{fmt}", body, now=FAR_NOW)
    assert_well_formed(result)
    assert result.fatal is None
    assert len(result.quotes) + len(result.rejects) == len(records)
    landed = dict(zip(result.quotes["record_no"], landed_rows(result), strict=True))
    for record_no, (kind, _, expected) in enumerate(records, start=1):
        if kind == "good":
            assert landed[record_no] == expected


def encode_mixed(fmt: str, records: list[tuple[str, object, object]]) -> bytes:
    """Good quotes through the real encoder, junk in the same framing, in the given order."""

    def encoded(kind: str, item: object) -> object:
        if kind == "junk":
            return item
        return json.loads(encode_micro_batch([item], "json"))[0]  # producer's spelling

    if fmt == "jsonl":
        return "\n".join(
            item if kind == "junk" else json.dumps(encoded(kind, item)) for kind, item, _ in records
        ).encode()
    if fmt == "json":
        return json.dumps([encoded(kind, item) for kind, item, _ in records]).encode()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TICK_FIELDS)
    for kind, item, _ in records:
        row = encoded(kind, item)
        writer.writerow(row if kind == "junk" else [row[name] for name in TICK_FIELDS])
    return out.getvalue().encode()
