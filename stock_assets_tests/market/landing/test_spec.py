"""The record rules (the spec): every rule has an example, accepted spellings included."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from stock_assets.market.landing import (
    STREAM_COLUMNS,
    RecordReject,
    reject_message,
)
from stock_assets_tests.market.landing.helpers import (
    KEY,
    LIMIT,
    SYMBOL_RULE,
    TS,
    assert_only_middle_rejected,
    line,
    parse,
    reasons,
    without,
)

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
