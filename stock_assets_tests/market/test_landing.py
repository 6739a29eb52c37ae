"""The landing-zone contract: every rule has an example, and three properties hold for all input.

Examples pin the exact outcome of each kind of bad input (which record is rejected, with
which reason, and that its good neighbours are kept). Properties: encode -> parse round-trips
exactly; arbitrary bytes never raise and every record is accounted for; junk never costs a
good record.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import functools
import io
import json
import random
import string
import tracemalloc
from collections.abc import Iterator
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stock_assets.market import landing
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


SPELLINGS = ("datetime", "iso", "s", "ms", "s-text")


@st.composite
def timestamps(draw, spellings: tuple[str, ...] = SPELLINGS) -> tuple[object, int]:
    """A ts in one of the contract's spellings, and its expected epoch microseconds."""
    moment = draw(instants)
    micros = (moment - EPOCH) // dt.timedelta(microseconds=1)
    spelling = draw(st.sampled_from(spellings))
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
def quotes(
    draw, spellings: tuple[str, ...] = SPELLINGS, names: st.SearchStrategy = labels
) -> tuple[dict[str, object], dict[str, object]]:
    """A valid producer quote and the row the parser must turn it into."""
    ts, micros = draw(timestamps(spellings))
    quote = {
        "symbol": draw(symbols),
        "ts": ts,
        "price": draw(st.floats(min_value=0, exclude_min=True, allow_infinity=False)),
        "volume": draw(st.none() | st.integers(0, 2**63 - 1)),
        "change": draw(st.none() | finite),
        "change_pct": draw(st.none() | finite),
        "name": draw(names),
        "source": draw(names),
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


# -- the vectorized fast path gives exactly the record-by-record result ----------------------
#
# Records in the producers' shape are checked column-wise, everything else one by one. The
# generators mix such records, records with a value on either side of each rule or a shape
# just off the producers' one, and junk; every result is compared with the record-by-record
# path (`_fast=False`), which stays the reference, and with the regex tier alone
# (`_arrow=False`), which JSON Lines reach when the Arrow tier declines them.

FAST_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
LATEST = dt.datetime(2024, 7, 5, 20, 5, tzinfo=dt.UTC)  # NOW + the default tolerance


def parse_every_tier(body: bytes, key: str = KEY, now: dt.datetime = NOW) -> LandingParse:
    """The fast path's result, after checking that it is exactly the record-by-record one
    and the one without the Arrow tier."""
    fast = parse_landing_object(key, body, now=now)
    assert_same(fast, parse_landing_object(key, body, now=now, _arrow=False))
    assert_same(fast, parse_landing_object(key, body, now=now, _fast=False))
    return fast


def assert_same(fast: LandingParse, slow: LandingParse) -> None:
    """The same parse exactly: reasons, record numbers, values, dtypes, signs of zero."""
    assert fast.fatal == slow.fatal
    assert fast.rejects == slow.rejects
    assert all(type(r.record_no) is int for r in fast.rejects)
    pd.testing.assert_frame_equal(fast.quotes, slow.quotes, check_exact=True, check_index_type=True)
    for column in ("price", "change", "change_pct"):  # -0.0 == 0.0: compare the signs too
        assert (np.signbit(fast.quotes[column]) == np.signbit(slow.quotes[column])).all()
    for column in ("symbol", "name", "source"):
        assert {type(v) for v in fast.quotes[column]} <= {str, type(None)}


@contextlib.contextmanager
def arrow_answers() -> Iterator[list[bool]]:
    """Whether the Arrow tier read each object it was offered, while in the block."""
    answers: list[bool] = []
    read = landing._arrow_json_lines

    def spy(*args):
        frame = read(*args)
        answers.append(frame is not None)
        return frame

    with mock.patch.object(landing, "_arrow_json_lines", spy):
        yield answers


@pytest.fixture
def checked(monkeypatch) -> list[object]:
    """Records that reach the record-by-record checker."""
    seen: list[object] = []
    check = landing._RecordChecker.check
    monkeypatch.setattr(
        landing._RecordChecker,
        "check",
        lambda self, record: seen.append(record) or check(self, record),
    )
    return seen


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


ISO_MOMENTS = st.datetimes(
    min_value=dt.datetime(1989, 12, 31), max_value=dt.datetime(2024, 7, 6), timezones=offsets
) | st.sampled_from(
    [
        dt.datetime(1990, 1, 1, tzinfo=dt.UTC),  # the earliest instant accepted
        dt.datetime(1989, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        LATEST,  # the latest instant accepted
        LATEST + dt.timedelta(microseconds=1),
        dt.datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=dt.UTC),
    ]
)
digits = st.text("0123456789", max_size=10)


@st.composite
def iso_texts(draw) -> str:
    """isoformat() of a moment, with Z for UTC and the fraction cut or extended at times."""
    text = draw(ISO_MOMENTS).isoformat(sep=draw(st.sampled_from("T ")))
    if draw(st.booleans()):
        text = text.replace("+00:00", "Z")
    if "." in text and draw(st.booleans()):
        head, tail = text.split(".", 1)  # tail: six digits, then the zone
        fraction = (tail[:6] + draw(digits))[: draw(st.integers(1, 9))]
        text = f"{head}.{fraction}{tail[6:]}"
    return text


@st.composite
def iso_fields(draw) -> str:
    """ISO-8601-like text with every field around its limits."""
    year = draw(st.sampled_from(["0000", "1989", "1990", "2023", "2024", "9999"]))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = (draw(st.integers(0, n)) for n in (24, 60, 60))
    separator = draw(st.sampled_from(["T", " ", "t", "_"]))
    fraction = draw(st.sampled_from(["", ".", ","])) + draw(digits)
    sign, zone_hour, zone_minute = (
        draw(st.sampled_from("+-")),
        *draw(st.tuples(st.integers(0, 25), st.integers(0, 61))),
    )
    zone = draw(
        st.sampled_from(["Z", "z", "", "+0530", "+05", f"{sign}{zone_hour:02d}:{zone_minute:02d}"])
    )
    return (
        f"{year}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
        f"{fraction}{zone}"
    )


PLAUSIBLE_SECONDS = (631_152_000, 1_720_209_900)  # 1990-01-01 .. LATEST
epochs = st.one_of(
    st.integers(*PLAUSIBLE_SECONDS),
    st.integers(*PLAUSIBLE_SECONDS).map(lambda s: s * 1000 + 999),
    st.integers(99_999_999_990, 100_000_000_010),  # where seconds turn into milliseconds
    st.sampled_from([0, 1, -1_720_189_800, 1_720_209_901, 1_720_209_900_001, 10**15, 10**20]),
).map(str)
# Number spellings a file may hold: limits of the fast forms, and what JSON refuses.
NUMBER_TEXTS = [
    "187.5", "-0", "0", "0.0", "-0.0", "1E5", "1e-5", "2.5E+2", "1e99", "1e100", "1e400",
    "1e-400", "1" * 30, "1" * 31, "0." + "0" * 39 + "1", "0." + "0" * 40 + "1",
    "9007199254740993", "0.30000000000000004",
    "1.00000000000000011102230246251565404236316680908203125",  # halfway: rounds to even
    "01.5", "1.", ".5", "+1", "NaN", "Infinity", "-Infinity", "-1", "3",
]  # fmt: skip


def prices(*, signed: bool = False) -> st.SearchStrategy[str]:
    """Numbers as producers write them (repr of a float, or an int), up to a million."""
    magnitude = st.floats(1e-3, 1e6) | st.integers(1, 10**10).map(lambda n: n / 10_000)
    sign = st.sampled_from([1, -1] if signed else [1])
    return st.builds(lambda m, s: json.dumps(m * s), magnitude, sign) | st.integers(
        -(10**6) if signed else 1, 10**6
    ).map(str)


numbers = st.one_of(  # every spelling, including NaN, Infinity and 1e+308
    st.floats().map(json.dumps),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(NUMBER_TEXTS),
)


def quoted(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(json_text)


odd_values = st.sampled_from(
    ["null", "true", "false", '""', '"  "', "[1]", '{"a": 1}', '"\\u00e9"', '"a\\"b"', '"\\n"']
)
plain_names = st.text(string.ascii_letters + string.digits + " .&-", min_size=1, max_size=12)
TOKENS = {  # JSON text of each field: (clean values, everything around them)
    "symbol": (
        quoted(symbols),
        quoted(st.sampled_from(["aapl", " AAPL", "A..B", "TOO-LONG-SYMBOL-X", "^^A", "A/B", ""]))
        | st.sampled_from(["42", "null"]),
    ),
    "ts": (
        quoted(iso_texts()) | epochs,
        quoted(iso_fields() | epochs)
        | st.sampled_from(["1720189800.5", "1.7201898e9", "-0", "1e11"])
        | odd_values,
    ),
    "price": (prices(), quoted(numbers) | numbers | odd_values),
    "volume": (
        st.integers(0, 10**6).map(str) | st.just("null"),
        st.sampled_from(["-1", "1.0", "1.5", "3e3", str(2**63 - 1), str(2**63), str(10**18)])
        | quoted(st.integers(0, 100).map(str))
        | odd_values,
    ),
    "change": (prices(signed=True) | st.just("null"), numbers | quoted(numbers) | odd_values),
    "change_pct": (prices(signed=True) | st.just("null"), numbers | quoted(numbers) | odd_values),
    "name": (
        quoted(plain_names) | st.just("null"),
        quoted(st.text(st.characters(exclude_categories=["Cs"]), max_size=12))
        | st.sampled_from(['"T-Mobile US, Inc."', '"a}, {b"', '"x\\u0000"', "7"])
        | odd_values,
    ),
    "source": (
        quoted(st.sampled_from(["yahoo", "fmp", "bench"])) | st.just("null"),
        quoted(st.text(st.characters(exclude_categories=["Cs"]), max_size=12)) | odd_values,
    ),
}
TOKENS["timestamp"], TOKENS["changesPercentage"] = TOKENS["ts"], TOKENS["change_pct"]


SHAPES = ["producer"] * 6 + ["drop", "extra", "shuffle"]


@st.composite
def json_records(
    draw,
    whitespace: str = " \t\r",
    shapes: tuple[str, ...] = (*SHAPES, "comma"),
    edits: tuple[int, ...] = (0, 0, 1, 1, 3),
) -> str:
    """A JSON object: mostly TICK_FIELDS in order with clean values, sometimes not."""
    members = [[name, draw(TOKENS[name][0])] for name in TICK_FIELDS]
    for _ in range(draw(st.sampled_from(edits))):  # values around the rules
        member = members[draw(st.integers(0, len(members) - 1))]
        member[1] = draw(TOKENS[member[0]][1])
    shape = draw(st.sampled_from(shapes))
    if shape == "drop":
        del members[draw(st.integers(0, len(members) - 1))]
    elif shape == "extra":  # another key, or one key twice (the last one counts)
        name = draw(st.sampled_from([*TICK_FIELDS, "timestamp", "changesPercentage", "exchange"]))
        value = draw(TOKENS.get(name, TOKENS["name"])[0])
        members.insert(draw(st.integers(0, len(members))), [name, value])
    elif shape == "shuffle":
        members = draw(st.permutations(members))
    space = st.text(whitespace, max_size=2)
    text = ",".join(
        f'{draw(space)}"{name}"{draw(space)}:{draw(space)}{value}{draw(space)}'
        for name, value in members
    )
    return "{" + text + ("," if shape == "comma" else "") + "}"  # a trailing comma: not JSON


rarely = st.sampled_from([False] * 15 + [True])  # st.integers would favour its bounds


def kinds(*weighted: str) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(weighted), min_size=1, max_size=12)


@st.composite
def json_lines_texts(draw) -> str:
    lines = []
    for kind in draw(kinds(*["record"] * 6, "junk", "blank")):
        if kind == "record":
            lines.append(draw(json_records()))
        else:
            lines.append(draw(junk_lines if kind == "junk" else st.sampled_from(["", " ", "\t"])))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@st.composite
def json_array_texts(draw) -> str:
    elements = []
    for kind in draw(kinds(*["record"] * 12, "junk")):
        if kind == "record":  # a broken element makes the whole array fatal: rarely
            elements.append(draw(json_records(" \t\r\n", (*SHAPES * 5, "comma"), (0, 0, 1))))
        else:
            elements.append(json.dumps(draw(junk_objects)))
    space = st.text(" \t\r\n", max_size=3)
    text = "[" + ",".join(draw(space) + element + draw(space) for element in elements) + "]"
    text = draw(space) + text + draw(space)
    if draw(rarely):  # truncated, or something after the array
        text = text[: draw(st.integers(0, len(text)))] + draw(st.sampled_from(["", " []", "x"]))
    return text


def csv_text(token: str) -> str:
    """What a CSV holds for a JSON token: strings unquoted, null empty, numbers as written
    (NUL dropped: it makes the whole object unreadable, which other tests cover)."""
    if token == "null":
        return ""
    try:
        value = json.loads(token)
    except ValueError:
        value = token
    return (value if isinstance(value, str) else token).replace("\x00", "")


@st.composite
def csv_texts(draw) -> str:
    optional = ["volume", "change", "change_pct", "name", "source", "timestamp", "exchange"]
    columns = ["symbol", "price", "ts", *draw(st.lists(st.sampled_from(optional), unique=True))]
    if draw(rarely):  # other header problems
        columns = draw(st.permutations(columns))[: draw(st.integers(1, len(columns)))]
        columns += draw(st.lists(st.sampled_from(["changesPercentage", "symbol", "timestamp"])))
    columns = draw(st.permutations(columns))
    space = st.sampled_from(["", "", " "])
    rows = [[draw(space) + column + draw(space) for column in columns]]
    for kind in draw(kinds(*["record"] * 6, "junk", "blank", "short")):
        if kind in ("record", "short"):
            row = []
            for column in columns:
                clean, other = TOKENS.get(column, TOKENS["source"])
                if column in ("timestamp", "changesPercentage"):  # mostly empty, as usual
                    clean, other = st.just("null"), clean | other
                row.append(csv_text(draw(other if draw(rarely) else clean)))
            rows.append(row[: draw(st.integers(0, len(row) - 1))] if kind == "short" else row)
        else:
            rows.append(draw(junk_rows) if kind == "junk" else [])
    out = io.StringIO()
    newline = draw(st.sampled_from(["\n", "\r\n", "\r\n", "\r"]))
    csv.writer(out, lineterminator=newline).writerows(rows)  # quotes only where needed
    return out.getvalue()


# One producer-shaped record, and its fields at and just past every limit of the fast path.
CANONICAL = {
    "symbol": '"AAPL"', "ts": '"2024-07-05T14:30:00+00:00"', "price": "187.5",
    "volume": "1000", "change": "-1.25", "change_pct": "-0.66", "name": '"Apple Inc."',
    "source": '"yahoo"',
}  # fmt: skip
EDGES = [
    *(("ts", json_text(ts)) for ts in [
        "2024-07-05T20:05:00Z", "2024-07-05T20:05:00.000001Z", "1990-01-01T00:00:00Z",
        "1989-12-31T23:59:59.999999Z", "1990-01-01T05:29:59+05:30", "2024-02-29T12:00:00Z",
        "2023-02-29T12:00:00Z", "2024-04-31T12:00:00Z", "2024-13-05T14:30:00Z",
        "2024-07-05T24:00:00Z", "2024-07-05T23:59:60Z", "2024-07-05 14:30:00+05:30",
        "2024-07-05T14:30:00-00:00", "2024-07-05T14:30:00+23:59", "2024-07-05T14:30:00+24:00",
        "2024-07-05T14:30:00+05:60", "2024-07-05T14:30:00.5Z", "2024-07-05T14:30:00.123456789Z",
        "2024-07-05T14:30:00.1234567891Z", "2024-07-05t14:30:00Z", "0000-01-01T00:00:00Z",
    ]),
    *(("ts", str(epoch)) for epoch in [
        631_152_000, 631_151_999, 1_720_209_900, 1_720_209_901, 99_999_999_999,
        100_000_000_000, 631_152_000_000, 1_720_209_900_000, 1_720_209_900_001,
        999_999_999_999_999, 1_000_000_000_000_000,
    ]),
    *(("price", price) for price in [
        "0", "-0", "0.0", "1e-5", "1E+2", "0.1e1", "1" + "0" * 29, "1" + "0" * 30, "1e99",
        "1e100", "0." + "0" * 39 + "1", "0." + "0" * 40 + "1", '"187.5"',
    ]),
    *(("change", change) for change in ["-0.0", "-0", "null", "1e-99", '"-1.25"']),
    *(("volume", volume) for volume in ["0", "9" * 18, "1" + "0" * 18, "null", "1.0"]),
    *(("symbol", json_text(symbol)) for symbol in ["A..B", "^GSPC", "BRK.B", "EURUSD=X", "aapl"]),
    *(("name", name) for name in ['" x"', '"null"', '"\\u00e9"', '"é"', '" "', '""', "null"]),
    ("source", "null"),
]  # fmt: skip


GOOD_LINES = [  # json.dumps' own spelling of producer records
    json.dumps({**{k: json.loads(v) for k, v in CANONICAL.items()}, "symbol": symbol})
    for symbol in ["AAPL", "MSFT"]
]


def test_fast_path_edges_match_record_by_record():
    records = [CANONICAL, *({**CANONICAL, field: token} for field, token in EDGES)]
    texts = ["{" + ", ".join(f'"{k}": {r[k]}' for k in TICK_FIELDS) + "}" for r in records]
    parse_every_tier("\n".join(texts).encode())
    parse_every_tier(("[" + ",\n".join(texts) + "]").encode(), "landing/quotes/a.json")
    out = io.StringIO()
    csv.writer(out).writerows(
        [TICK_FIELDS, *([csv_text(r[k]) for k in TICK_FIELDS] for r in records)]
    )
    parse_every_tier(out.getvalue().encode(), CSV_KEY)


@pytest.mark.parametrize(
    "key,text",
    [
        ("a.json", json.dumps([json.loads(record) for record in GOOD_LINES], indent=2)),
        ("a.jsonl", "\ufeff" + "\r\n".join(GOOD_LINES) + "\r\n"),
        ("a.jsonl", "\n".join(line.replace(": ", ":\t") for line in GOOD_LINES)),
        ("a", "\n\n".join(GOOD_LINES)),
    ],
    ids=["pretty-array", "bom-crlf", "tabs", "sniffed-blank-lines"],
)
def test_other_spellings_of_the_producers_shape_are_checked_column_wise(key, text, checked):
    result = parse_landing_object(f"landing/quotes/{key}", text.encode(), now=NOW)
    assert checked == [] and len(result.quotes) == len(GOOD_LINES)
    parse_every_tier(text.encode(), f"landing/quotes/{key}")


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])


@FAST_SETTINGS
@given(json_lines_texts(), st.sampled_from(["a.jsonl", "a.ndjson", "a.json", "a"]), ENCODINGS)
def test_property_fast_path_equals_record_by_record_for_json_lines(text, name, encoding):
    parse_every_tier(text.encode(encoding), f"landing/quotes/{name}")


@FAST_SETTINGS
@given(json_array_texts(), st.sampled_from(["a.json", "a"]), ENCODINGS)
def test_property_fast_path_equals_record_by_record_for_json_arrays(text, name, encoding):
    parse_every_tier(text.encode(encoding), f"landing/quotes/{name}")


@FAST_SETTINGS
@given(csv_texts(), st.sampled_from(["a.csv", "a.txt"]), ENCODINGS)
def test_property_fast_path_equals_record_by_record_for_csv(text, name, encoding):
    parse_every_tier(text.encode(encoding), f"landing/quotes/{name}")


@FAST_SETTINGS
@given(hostile_bodies(), st.sampled_from(["a.jsonl", "a.json", "a.csv", "a"]))
def test_property_fast_path_equals_record_by_record_for_arbitrary_bytes(body, name):
    parse_every_tier(body, f"landing/quotes/{name}")


@functools.cache
def bench_batch(records: int) -> bytes:
    """JSON Lines in benchmarks/bench_stream.py's shape: distinct (symbol, ts), one session."""
    rng = np.random.default_rng(7)
    opening = dt.datetime(2024, 7, 5, 13, 30, tzinfo=dt.UTC)
    lines = []
    for n in range(records):
        symbol = f"S{n % 500:03d}"
        quote = {
            "symbol": symbol,
            "ts": (opening + dt.timedelta(milliseconds=n // 500 * 100)).isoformat(),
            "price": round(float(50 + rng.random() * 100), 4),
            "volume": int(rng.integers(1, 10_000)),
            "change": 0.1,
            "change_pct": 0.2,
            "name": f"{symbol} Corp",
            "source": "bench",
        }
        lines.append(json.dumps(quote))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("arrow", [True, False], ids=["arrow-tier", "regex-tier"])
def test_a_150k_batch_in_the_producers_shape_is_checked_column_wise_only(arrow, checked):
    with arrow_answers() as answers:
        result = parse_landing_object(KEY, bench_batch(150_000), now=NOW, _arrow=arrow)
    assert answers == ([True] if arrow else []) and checked == []
    assert (result.fatal, result.rejects, len(result.quotes)) == (None, (), 150_000)
    assert result.quotes["record_no"].tolist() == list(range(1, 150_001))
    last = result.quotes.iloc[-1]
    assert (last["symbol"], last["ts"], last["name"], last["source"]) == (
        "S499", pd.Timestamp("2024-07-05 13:30:29.900"), "S499 Corp", "bench"
    )  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_producer_batches_are_checked_column_wise(fmt, checked):
    quotes = SimulatedSource().latest_quotes(["AAPL", "TMUS", "BRK-B", "^GSPC"], NOW) * 50
    body = encode_micro_batch(quotes, fmt)
    with arrow_answers() as answers:
        result = parse_landing_object(micro_batch_key(NOW, 1, fmt), body, now=NOW)
    assert (result.fatal, result.rejects, len(result.quotes)) == (None, (), 200)
    assert answers == ([True] if fmt == "jsonl" else [])  # Arrow reads JSON Lines whole
    # Only CSV rows with a quoted field ("T-Mobile US, Inc.") are left to the csv module.
    assert [record["symbol"] for record in checked] == (["TMUS"] * 50 if fmt == "csv" else [])
    parse_every_tier(body, micro_batch_key(NOW, 1, fmt))


def producer_line(**fields) -> str:
    return json.dumps({name: {**GOOD, **fields}.get(name) for name in TICK_FIELDS})


def test_only_records_off_the_producers_shape_reach_the_record_checker(checked):
    # A price as text, a negative one, broken JSON, and GOOD's keys (not all of TICK_FIELDS).
    odd = [producer_line(price="187.5"), producer_line(price=-1), "{broken", line()]
    body = "\n".join([producer_line()] * 10 + odd)
    result = parse_landing_object(KEY, body.encode(), now=NOW)
    assert [r.line for r in checked] == odd
    assert result.quotes["record_no"].tolist() == [*range(1, 11), 11, 14]
    assert [r.record_no for r in result.rejects] == [12, 13]
    parse_every_tier(body.encode())  # which is the reference result


# -- the Arrow tier: whole JSON Lines objects, or nothing ------------------------------------
#
# Arrow reads a JSON Lines object whole only when every line is one clearly valid record;
# then its frame must be the other tiers' frame to the bit. Every case below is parsed by
# all three tiers (parse_every_tier), and pins whether the Arrow tier took the object.

# Names and sources Arrow's tier takes: missing, or holding a visible ASCII character.
ascii_labels = st.none() | texts.filter(lambda text: any("!" <= c <= "~" for c in text))


@FAST_SETTINGS
@given(st.sampled_from([("iso", "datetime"), ("s",), ("ms",)]), st.data())
def test_property_clean_json_lines_are_read_whole_by_arrow_and_match_every_tier(spellings, data):
    batch = data.draw(st.lists(quotes(spellings, ascii_labels), min_size=1, max_size=12))
    body = encode_micro_batch([quote for quote, _ in batch], "jsonl")
    with arrow_answers() as answers:
        result = parse_every_tier(body, now=FAR_NOW)
    assert answers == [True]
    assert landed_rows(result) == [expected for _, expected in batch]


def record_text(**tokens: str | None) -> str:
    """A producer-shaped record: CANONICAL's tokens, some replaced or added (None drops)."""
    record = {**CANONICAL, **tokens}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in record.items() if v is not None) + "}"


def batch_with(odd: str, ts: str = CANONICAL["ts"]) -> str:
    """Three JSON Lines: `odd` between two producer records with the given ts."""
    return "\n".join([record_text(ts=ts), odd, record_text(symbol='"MSFT"', ts=ts)]) + "\n"


def odd_field(**tokens: str | None) -> str:
    return batch_with(record_text(**tokens))


EPOCH_TS = "1720189800"  # 2024-07-05T14:30:00Z
HALFWAY = "1.00000000000000011102230246251565404236316680908203125"  # rounds to even: 1.0
ARROW_CASES = {  # object text -> whether the Arrow tier reads it (all tiers agree either way)
    # Numbers Arrow converts itself: both sides round correctly, keep the sign of zero.
    "long decimal": (odd_field(price="187.50000000000000000000000000001"), True),
    "halfway": (odd_field(price=HALFWAY), True),
    "37 digits": (odd_field(change="1234567890123456789012345678901234567"), True),
    "largest double": (odd_field(price="1.7976931348623157e308"), True),
    "rounds to inf": (odd_field(price="1.7976931348623159e308"), False),
    "1e309": (odd_field(change="1e309"), False),
    "subnormal": (odd_field(change="4.9406564584124654e-324"), True),
    "underflow to -0": (odd_field(change="-1e-400"), True),
    "-0.0 change": (odd_field(change="-0.0", change_pct="-0"), True),
    "-0.0 price": (odd_field(price="-0.0"), False),
    "NaN": (odd_field(change="NaN"), False),
    "Infinity": (odd_field(change_pct="-Infinity"), False),
    "price as text": (odd_field(price='"187.5"'), False),
    "volume 1.0": (odd_field(volume="1.0"), False),
    "volume -0": (odd_field(volume="-0"), True),
    "volume int64 max": (odd_field(volume=str(2**63 - 1)), True),
    "volume over int64": (odd_field(volume=str(2**63)), False),
    "volume negative": (odd_field(volume="-1"), False),
    # Text: escapes decode alike; blank or non-ASCII-only text is left to Python's strip().
    "unicode escapes": (odd_field(name='"\\u00c9cole \\ud83d\\ude00 SA"'), True),
    "escaped quote": (odd_field(name='"say \\"hi\\""'), True),
    "lone surrogate": (odd_field(name='"\\ud800 SA"'), False),
    "non-ASCII only": (odd_field(name='"\\u00e9"'), False),
    "blank name": (odd_field(name='" "'), False),
    "empty name": (odd_field(name='""', source='""'), True),
    "null vs missing": (odd_field(volume=None, change="null", name=None), True),
    "name true": (odd_field(name="true"), False),
    "name object": (odd_field(name='{"a": null}'), False),
    "symbol number": (odd_field(symbol="42"), False),
    "lower-case symbol": (odd_field(symbol='"aapl"'), False),
    "dotted symbol": (odd_field(symbol='"A..B"'), False),
    # Timestamps.
    "nanoseconds": (odd_field(ts='"2024-07-05T14:30:00.123456789Z"'), True),
    "ten fraction digits": (odd_field(ts='"2024-07-05T14:30:00.1234567891Z"'), False),
    "in the future": (odd_field(ts='"2024-07-05T20:05:00.000001Z"'), False),
    "epoch seconds": (batch_with(record_text(ts="1720189900"), EPOCH_TS), True),
    "epoch millis": (batch_with(record_text(ts="1720189800123"), EPOCH_TS), True),
    "epoch 1e15": (batch_with(record_text(ts=str(10**15)), EPOCH_TS), False),
    "epoch 1e20": (batch_with(record_text(ts=str(10**20)), EPOCH_TS), False),
    "epoch fraction": (batch_with(record_text(ts="1720189800.5"), EPOCH_TS), False),
    "epoch negative": (batch_with(record_text(ts="-1720189800"), EPOCH_TS), False),
    "epoch as text": (odd_field(ts=f'"{EPOCH_TS}"'), False),
    "ts text then number": (odd_field(ts=EPOCH_TS), False),
    "ts number then text": (batch_with(record_text(), EPOCH_TS), False),
    # Keys: anything but exactly the contract's fields, each once, is left to Python.
    "duplicate key": (batch_with(record_text()[:-1] + ', "price": -1}'), False),
    "timestamp alias": (odd_field(ts=None, timestamp='"2024-07-05T14:30:00Z"'), False),
    "extra key": (odd_field(exchange='"NMS"'), False),
    "missing price": (odd_field(price=None), False),
    "escaped key": (batch_with(record_text().replace('"name"', '"n\\u0061me"')), True),
    # Framing: a line is a record, record numbers are line numbers.
    "no final newline": (batch_with(record_text()).rstrip("\n"), True),
    "blank line": (batch_with(""), False),
    "trailing blank line": (batch_with(record_text()) + "\n", False),
    "indented": (batch_with(" " + record_text()), False),
    "two on one line": (batch_with(record_text() + record_text()), False),
    "crlf": (batch_with(record_text()).replace("\n", "\r\n"), False),
    "CR inside": (batch_with(record_text().replace(", ", ",\r")), True),
    "broken line": (batch_with('{"symbol": "AAPL"'), False),
}  # fmt: skip


@pytest.mark.parametrize("text,answered", ARROW_CASES.values(), ids=ARROW_CASES.keys())
def test_the_arrow_tier_takes_only_objects_every_tier_reads_alike(text, answered):
    with arrow_answers() as answers:
        parse_every_tier(text.encode())
    assert answers == [answered]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_the_arrow_tier_reads_text_after_a_byte_order_mark(encoding):
    with arrow_answers() as answers:
        parse_every_tier(batch_with(record_text()).encode(encoding))
    assert answers == [True]
