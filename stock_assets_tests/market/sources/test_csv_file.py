"""CsvFileSource on Yahoo-style exports: per-symbol files, multi-symbol files, bad lines."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from stock_assets.market.sources import parser_for, source_class
from stock_assets.market.sources.base import BAR_FIELDS, RecordError, SourceError
from stock_assets.market.sources.csv_file import CsvFileSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "csv"
PER_SYMBOL = FIXTURES / "per_symbol"
MULTI = FIXTURES / "multi" / "prices 2024.csv"
JAN2, JAN5 = dt.date(2024, 1, 2), dt.date(2024, 1, 5)


def parsed(extraction, symbol=None):
    return [
        CsvFileSource.parse_record(r.payload)
        for r in extraction.records
        if symbol is None or r.symbol == symbol
    ]


def test_bom_file_in_range_with_yahoo_header():
    raw = (PER_SYMBOL / "AAPL.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the fixture really carries a BOM
    extraction = CsvFileSource(PER_SYMBOL).fetch(["AAPL"], JAN2, JAN5)

    assert extraction.source == "csv"
    assert [r.trade_date for r in extraction.records] == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
    ]  # 2023-12-29 is outside the query
    payload = json.loads(extraction.records[0].payload)
    # Without utf-8-sig the first key would be "\ufeffDate" and the date unreadable.
    assert payload == {
        "Date": "2024-01-02", "Open": "187.149994", "High": "188.440002", "Low": "183.889999",
        "Close": "185.639999", "Adj Close": "184.734970", "Volume": "82488700",
        "symbol": "AAPL", "file": "AAPL.csv", "line": 3,
    }  # fmt: skip
    assert parsed(extraction)[0] == {
        "symbol": "AAPL", "trade_date": "2024-01-02", "open": "187.149994",
        "high": "188.440002", "low": "183.889999", "close": "185.639999",
        "adj_close": "184.734970", "volume": "82488700",
    }  # fmt: skip
    assert extraction.raw_body == raw  # only the file that was used, byte for byte


def test_invalid_file_name_is_reported_and_never_read_as_a_symbol():
    extraction = CsvFileSource(PER_SYMBOL).fetch(["AAPL"], JAN2, JAN5)
    assert list(extraction.symbol_errors) == ["not a symbol.csv"]
    assert "is not a valid symbol" in extraction.symbol_errors["not a symbol.csv"]
    assert {r.symbol for r in extraction.records} == {"AAPL"}


def test_bad_line_becomes_a_record_whose_parse_names_the_line():
    extraction = CsvFileSource(PER_SYMBOL).fetch(["IBM"], JAN2, JAN5)
    assert [r.trade_date for r in extraction.records] == [
        "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"
    ]  # fmt: skip
    bad = extraction.records[2]
    with pytest.raises(RecordError, match=r"^IBM\.csv line 4: expected 7 fields .* found 9$"):
        parser_for("csv")(bad.payload)
    # The good lines around it still parse.
    for record in (extraction.records[1], extraction.records[3]):
        assert CsvFileSource.parse_record(record.payload)["symbol"] == "IBM"


def test_missing_adj_close_column_and_null_values():
    extraction = CsvFileSource(PER_SYMBOL).fetch(["MSFT"], JAN2, JAN5)
    rows = parsed(extraction)
    assert rows[0]["adj_close"] == rows[0]["close"] == "370.869995"  # no Adj Close column
    assert rows[2] == {  # Yahoo's "null" is a missing value, left for cleaning to reject
        "symbol": "MSFT", "trade_date": "2024-01-04", "open": None, "high": None,
        "low": None, "close": None, "adj_close": None, "volume": None,
    }  # fmt: skip


def test_multi_symbol_file_with_quoted_commas_and_multiline_field():
    extraction = CsvFileSource(MULTI).fetch(["TMUS", "BRK-B", "MSFT"], JAN2, JAN5)

    assert [(r.symbol, r.trade_date) for r in extraction.records] == [
        ("TMUS", "2024-01-02"),
        ("TMUS", "2024-01-03"),
        ("BRK-B", "2024-01-02"),
        ("BRK-B", "2024-01-03"),
    ]  # AAPL rows are not requested
    first = json.loads(extraction.records[0].payload)
    assert first["Name"] == "T-Mobile US, Inc."  # the comma stayed inside the field
    assert first["Volume"] == "3,574,800"  # verbatim in bronze...
    assert CsvFileSource.parse_record(extraction.records[0].payload)["volume"] == "3574800"
    # The multi-line quoted name: line numbers count physical lines.
    lines = [json.loads(r.payload)["line"] for r in extraction.records]
    assert lines == [2, 3, 4, 6]
    assert json.loads(extraction.records[2].payload)["Name"] == ("Berkshire Hathaway Inc.\nClass B")
    assert list(extraction.symbol_errors) == ["MSFT"]
    assert "no CSV data for MSFT" in extraction.symbol_errors["MSFT"]
    assert extraction.raw_body == MULTI.read_bytes()


def test_folder_mixing_layouts(tmp_path):
    shutil.copy(PER_SYMBOL / "AAPL.csv", tmp_path / "aapl.csv")  # stem is case-insensitive
    shutil.copy(MULTI, tmp_path / "all prices.csv")  # a multi file may have any name
    (tmp_path / "notes.txt").write_text("not a csv")
    extraction = CsvFileSource(tmp_path).fetch(["AAPL", "TMUS"], dt.date(2024, 1, 3), JAN5)

    assert sorted((r.symbol, r.trade_date) for r in extraction.records) == [
        ("AAPL", "2024-01-03"),
        ("AAPL", "2024-01-03"),
        ("AAPL", "2024-01-04"),
        ("AAPL", "2024-01-05"),
        ("TMUS", "2024-01-03"),
    ]  # AAPL 2024-01-03 is in both files; silver deduplicates
    assert extraction.symbol_errors == {}
    assert extraction.raw_body == (tmp_path / "aapl.csv").read_bytes() + MULTI.read_bytes()


def test_symbol_with_a_file_but_no_rows_in_range_is_not_an_error():
    extraction = CsvFileSource(PER_SYMBOL).fetch(["AAPL"], dt.date(2023, 6, 1), dt.date(2023, 6, 2))
    assert extraction.records == []
    assert "AAPL" not in extraction.symbol_errors
    assert extraction.raw_body == b""


def test_unreadable_files(tmp_path):
    (tmp_path / "AAPL.csv").write_bytes(b"Date,Close\n2024-01-02,\xff\xfe\n")
    (tmp_path / "MSFT.csv").write_text("Open,Close\n1,2\n")
    (tmp_path / "IBM.csv").write_text("")
    extraction = CsvFileSource(tmp_path).fetch(["AAPL", "MSFT", "IBM"], JAN2, JAN5)
    assert extraction.records == []
    assert "not UTF-8" in extraction.symbol_errors["AAPL"]
    assert "no Date column" in extraction.symbol_errors["MSFT"]
    assert "empty file" in extraction.symbol_errors["IBM"]


def test_missing_path_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="neither a CSV file nor a folder"):
        CsvFileSource(tmp_path / "nowhere").fetch(["AAPL"], JAN2, JAN5)


def test_parse_record_contract():
    assert source_class("csv") is CsvFileSource
    payload = json.dumps({"Date": "2024-01-02", "Close": "1", "symbol": "A", "line": 2})
    assert tuple(CsvFileSource.parse_record(payload)) == BAR_FIELDS


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("nope", "not valid JSON"),
        ('{"Date": "2024-01-02", "file": "X.csv", "line": 7}', r"X\.csv line 7: no symbol"),
        ('{"Date": "01/02/2024", "symbol": "X", "line": 3}', "line 3: date '01/02/2024' is not"),
        ('{"Close": "1", "symbol": "X", "file": "X.csv", "line": 9}', "X.csv line 9: date None"),
    ],
)
def test_parse_record_rejects_unusable_payloads(payload, reason):
    with pytest.raises(RecordError, match=reason):
        CsvFileSource.parse_record(payload)


# -- corporate actions -----------------------------------------------------------------------


def test_actions_file_next_to_the_prices_is_read_and_never_taken_for_prices(tmp_path):
    folder = tmp_path / "imports"
    shutil.copytree(PER_SYMBOL, folder)
    (folder / "corporate_actions.csv").write_text(
        "symbol,ex_date,action,value\r\nAAPL,2024-01-03,split,4\r\n"
        "msft,2024-01-04,DIVIDEND,0.75\r\nIBM,2023-12-01,dividend,1.66\r\n",
        encoding="utf-8-sig",
    )
    source = CsvFileSource(folder)
    actions = source.corporate_actions(["AAPL", "MSFT", "IBM"], JAN2, JAN5)
    assert actions[["symbol", "ex_date", "action", "ratio", "amount"]].fillna(
        0
    ).values.tolist() == [
        ["AAPL", dt.date(2024, 1, 3), "SPLIT", 4.0, 0.0],
        ["MSFT", dt.date(2024, 1, 4), "DIVIDEND", 0.0, 0.75],
    ]
    # The same file is found beside a single price file too.
    assert len(CsvFileSource(folder / "AAPL.csv").corporate_actions(["AAPL"], JAN2, JAN5)) == 1
    extraction = source.fetch(["AAPL"], JAN2, JAN5)
    assert "corporate_actions.csv" not in json.dumps(extraction.symbol_errors)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("AAPL,2024-01-03,merger,4", "action 'merger' is not split or dividend"),
        ("AAPL,2024-13-03,split,4", "is not a YYYY-MM-DD date"),
        ("AAPL,2024-01-03,split,-2", "must be positive"),
        ("AAPL,2024-01-03,dividend,abc", "is not a number"),
    ],
)
def test_a_bad_action_line_is_refused_naming_file_and_line(tmp_path, line, reason):
    from stock_assets.market.actions import ActionError

    (tmp_path / "corporate_actions.csv").write_text(f"symbol,ex_date,action,value\n{line}\n")
    with pytest.raises(ActionError, match=r"corporate_actions\.csv line 2") as error:
        CsvFileSource(tmp_path).corporate_actions(["AAPL"], JAN2, JAN5)
    assert reason in str(error.value)
