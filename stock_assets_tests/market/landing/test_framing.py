"""Framing: JSON Lines, JSON documents, CSV, encodings and format sniffing."""

from __future__ import annotations

import codecs
import gzip
import json
import tracemalloc

import pandas as pd
import pytest

from stock_assets.market.landing import (
    MAX_RECORD_CHARS,
    STREAM_COLUMNS,
)
from stock_assets_tests.market.landing.helpers import (
    CSV_KEY,
    GOOD,
    KEY,
    TS,
    line,
    parse,
    reasons,
)

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


# -- Kinesis Data Firehose: concatenated records, GZIP ----------------------------------------

FIREHOSE_KEY = "landing/quotes/2024/07/05/14/stream-1-2024-07-05-14-00-00-8c1f0e2a"


def test_concatenated_json_records_without_newlines_are_each_a_record():
    body = line() + line(symbol="MSFT") + " \n" + line(symbol="TMUS")
    result = parse(body, FIREHOSE_KEY)
    assert result.fatal is None and result.rejects == ()
    assert result.quotes["symbol"].tolist() == ["AAPL", "MSFT", "TMUS"]
    assert result.quotes["record_no"].tolist() == [1, 2, 3]


def test_a_broken_concatenated_record_is_rejected_and_the_stream_goes_on():
    body = line() + '{"symbol": "MSFT", "price": }' + line(symbol="TMUS") + "[1]"
    result = parse(body, FIREHOSE_KEY)
    assert result.quotes["symbol"].tolist() == ["AAPL", "TMUS"]
    assert [(no, reason.split(":")[0]) for no, reason in reasons(result)] == [
        (2, "record is not valid JSON"),
        (4, "record is an array, expected a JSON object"),
    ]
    assert result.rejects[0].raw == '{"symbol": "MSFT", "price": }'


def test_gzip_objects_are_read_by_their_magic_bytes_whatever_their_name():
    body = (line() + line(symbol="MSFT")).encode()
    for key in (FIREHOSE_KEY, FIREHOSE_KEY + ".gz", "landing/quotes/q.json.gz"):
        result = parse(gzip.compress(body), key)
        assert result.fatal is None and result.quotes["symbol"].tolist() == ["AAPL", "MSFT"]
    lines = parse(gzip.compress((line() + "\n" + line(price=-1) + "\n").encode()), "q.jsonl.gz")
    assert reasons(lines) == [(2, "price must be positive, got -1")]


def test_a_truncated_gzip_object_is_fatal_with_the_reason():
    result = parse(gzip.compress(line().encode())[:-6], FIREHOSE_KEY + ".gz")
    assert result.fatal.startswith("object is GZIP-compressed but cannot be decompressed")


def test_a_lone_broken_json_document_is_still_fatal():
    assert parse('{"symbol": "AAPL", "price": 1,', FIREHOSE_KEY).fatal.startswith("not valid JSON")
