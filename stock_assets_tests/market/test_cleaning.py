import datetime as dt
import json
import re
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stock_assets.market import calendar, cleaning
from stock_assets.market.bronze import assign_partitions, raw_quote_frame
from stock_assets.market.cleaning import PRICE_FIELDS, CleanResult, clean_prices
from stock_assets.market.schemas import PRICES
from stock_assets.market.sources.base import BAR_FIELDS, dumps_record
from stock_assets.market.sources.simulated import PAYLOAD_LAYOUT, SimulatedSource

DAY = dt.date(2024, 7, 3)
FETCHED = pd.Timestamp("2024-07-03 22:00:00")
GOOD = {
    "symbol": "AAPL",
    "date": "2024-07-03",
    "open": 10.0,
    "high": 11.0,
    "low": 9.5,
    "close": 10.5,
    "adj_close": 10.4,
    "volume": 1000,
}


def bronze(*payloads: str | dict, symbol: str = "AAPL", day: dt.date = DAY, fetched=FETCHED):
    rows = [
        {
            "symbol": symbol,
            "trade_date": day,
            "record_no": i,
            "payload": p if isinstance(p, str) else json.dumps(p),
            "source": "simulated",
            "fetched_at": fetched,
            "object_key": "bronze/raw_quotes/trade_date=2024-07-03/x.jsonl",
        }
        for i, p in enumerate(payloads)
    ]
    return pd.DataFrame(rows)


def clean(frame):
    return clean_prices(frame, ingested_at=dt.datetime(2024, 7, 3, 23, tzinfo=dt.UTC))


def test_good_record_becomes_a_typed_price_row():
    result = clean(bronze(GOOD))
    assert result.rejects.empty
    row = result.prices.iloc[0]
    assert list(result.prices.columns) == PRICES.column_names
    assert (row.symbol, row.trade_date, row.close, row.adj_close, row.volume) == (
        "AAPL",
        DAY,
        10.5,
        10.4,
        1000,
    )
    assert str(result.prices.volume.dtype) == "Int64"


def test_bad_records_are_rejected_with_reasons_and_good_ones_kept():
    bad = {
        "close is missing": {k: v for k, v in GOOD.items() if k != "close"},
        "not a number": {**GOOD, "close": "N/A"},
        "must be positive": {**GOOD, "open": 0},
        "high 9.0 is below low 9.5": {**GOOD, "high": 9.0},
        "low 10.6 is above open/close": {**GOOD, "low": 10.6, "high": 11.0},
        "high is NaN": {**GOOD, "high": float("nan")},
        "adj_close is NaN": {**GOOD, "adj_close": float("nan")},  # NaN is not "no value"
        "low is infinite": {**GOOD, "low": float("inf")},
        "volume must not be negative": {**GOOD, "volume": -5},
        "volume must be a whole number": {**GOOD, "volume": 10.5},
        "not valid JSON": '{"symbol": "AAPL", "date": "2024-07',
        "does not match": {**GOOD, "symbol": "MSFT"},
        "not a YYYY-MM-DD date": {**GOOD, "date": "July 3rd"},
        "pulled for 2024-07-03": {**GOOD, "date": "2024-07-02"},
    }
    result = clean(bronze(GOOD, *bad.values()))
    assert len(result.prices) == 1 and result.prices.close.iloc[0] == 10.5
    assert len(result.rejects) == len(bad)
    for (expected, _), (_, reject) in zip(bad.items(), result.rejects.iterrows(), strict=True):
        assert expected in reject.reason, (expected, reject.reason)
        assert reject.object_key.endswith("x.jsonl") and reject.record_no >= 1


def test_holiday_records_are_rejected_with_the_holiday_name():
    holiday = dt.date(2024, 7, 4)
    result = clean(bronze({**GOOD, "date": "2024-07-04"}, day=holiday))
    assert result.prices.empty
    assert "July 4th" in result.rejects.reason.iloc[0]


def test_latest_record_for_a_day_wins():
    first = bronze(GOOD, fetched=FETCHED)
    correction = bronze({**GOOD, "close": 10.9}, fetched=FETCHED + pd.Timedelta(hours=1))
    result = clean(pd.concat([correction, first]))
    assert len(result.prices) == 1 and result.prices.close.iloc[0] == 10.9
    assert result.superseded == 1


def test_adj_close_defaults_to_close_when_the_source_has_none():
    result = clean(bronze({k: v for k, v in GOOD.items() if k != "adj_close"}))
    assert result.prices.adj_close.iloc[0] == 10.5


def test_empty_input_gives_empty_typed_frames():
    result = clean(bronze())
    assert result.prices.empty and list(result.prices.columns) == PRICES.column_names


# -- the column-wise paths give exactly the record-by-record result ---------------------------
#
# Payloads in the simulator's PAYLOAD_LAYOUT are read column-wise and the rules are worked
# out once per distinct value. Every result here is compared with parsing each payload by
# SimulatedSource.parse_record (the layout switched off) and with cleaning each record on
# its own (where no value can be shared), which stay the reference.

FAST_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SESSIONS = [dt.date(2024, 7, 2), DAY, dt.date(2024, 7, 5)]


def clean_every_way(raw: pd.DataFrame) -> CleanResult:
    """clean_prices, after checking that it is exactly the result with every payload
    parsed one by one."""
    fast = clean(raw)
    with mock.patch.object(SimulatedSource, "payload_layout", None):
        assert_same(fast, clean(raw))
    return fast


def assert_same(fast: CleanResult, slow: CleanResult) -> None:
    pd.testing.assert_frame_equal(fast.prices, slow.prices, check_exact=True)
    pd.testing.assert_frame_equal(fast.rejects, slow.rejects, check_exact=True)
    assert fast.superseded == slow.superseded


def simulated_bronze(fault_rate: float, symbols=("AAPL", "BRK.B", "^GSPC")) -> pd.DataFrame:
    source = SimulatedSource(fault_rate=fault_rate, seed=3)
    extraction = source.fetch(symbols, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    days = calendar.sessions_between(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    grouped = assign_partitions(extraction.records, days)
    keys = {day: f"bronze/raw_quotes/trade_date={day}/x.jsonl" for day in grouped}
    return raw_quote_frame(grouped, keys, extraction, FETCHED.to_pydatetime())


@pytest.mark.parametrize("fault_rate", [0.0, 0.05, 0.3, 1.0])
def test_a_simulated_year_cleans_the_same_column_wise(fault_rate):
    raw = simulated_bronze(fault_rate)
    taken = []
    read = cleaning._read_layout
    with mock.patch.object(
        cleaning, "_read_layout", lambda *a: taken.append(read(*a)) or taken[-1]
    ):
        result = clean_every_way(raw)
    # The layout took exactly the payloads in it (Python's re, not Arrow's RE2, says which).
    in_layout = [re.fullmatch(PAYLOAD_LAYOUT.pattern, p) is not None for p in raw.payload]
    assert [rows.tolist() for rows, _ in taken] == [np.flatnonzero(in_layout).tolist()]
    assert sum(in_layout) >= len(raw) * (1 - fault_rate) * 0.9
    assert len(result.prices) + len(result.rejects) + result.superseded == len(raw)
    assert (len(result.rejects) > 0) == (fault_rate > 0)


def test_payloads_read_in_chunks_clean_as_read_at_once(monkeypatch):
    raw = simulated_bronze(0.05)
    at_once = clean(raw)
    calls = []
    read = cleaning._read_layout
    monkeypatch.setattr(cleaning, "LAYOUT_CHUNK", 100)
    monkeypatch.setattr(cleaning, "_read_layout", lambda *a: calls.append(1) or read(*a))
    assert_same(clean(raw), at_once)
    assert len(calls) == -(-len(raw) // 100) > 1


def test_only_payloads_off_the_layout_are_parsed_one_by_one(monkeypatch):
    raw = simulated_bronze(0.0)
    raw.loc[3, "payload"] = None  # not text at all: the others still go column-wise
    parsed = []
    parse = SimulatedSource.parse_record
    monkeypatch.setattr(
        SimulatedSource, "parse_record", staticmethod(lambda p: parsed.append(p) or parse(p))
    )
    result = clean(raw)
    assert parsed == [None]
    assert result.rejects.record_no.tolist() == [raw.record_no[3]]
    assert len(result.prices) == len(raw) - 1


# Equal values that read differently (1, 1.0 and True; 0.0 and -0.0): the per-value checks
# must not take one for another.
TWINS = [0, 0.0, -0.0, False, 1, 1.0, True]
# JSON values of every type, and floats that stress the float reader.
json_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0.01, 5000).map(lambda x: round(x, 2)),
    st.sampled_from([*TWINS, -1, None, 10**19, 2**63, 5e-324]),
    st.integers(-(10**20), 10**20),
    st.text(max_size=12),
    st.sampled_from(["AAPL", "aapl", " AAPL", "MSFT", "A,B", 'A"B', "A\\B", "2024-07-03", ""]),
    st.sampled_from([[], {}, [1.5], {"a": 1}]),
)


@st.composite
def payloads(draw) -> str:
    """A payload in the layout or just off it: other values, keys missing, repeated, out of
    order or extra, other spacing, NaN tokens, truncation."""
    close = draw(st.floats(1, 1000).map(lambda x: round(x, 2)))
    record = {
        "symbol": draw(st.sampled_from(["AAPL", "aapl", "MSFT", None])),
        "date": draw(st.sampled_from([str(day) for day in SESSIONS] + ["2024-07-04", "July"])),
        "open": close,
        "high": round(close * 1.01, 2),
        "low": round(close * 0.99, 2),
        "close": close,
        "adj_close": close,
        "volume": draw(st.integers(0, 10**9)),
    }
    for name in draw(st.lists(st.sampled_from(list(record)), max_size=3)):
        record[name] = draw(json_values)
    if draw(st.booleans()):
        record[draw(st.sampled_from(["symbol", "date"]))] = draw(st.sampled_from(TWINS))
    shape = draw(st.integers(0, 9))
    if shape == 1:
        record.pop(draw(st.sampled_from(list(record))))
    elif shape == 2:
        record = dict(reversed(record.items()))
    elif shape == 3:
        record["extra"] = draw(json_values)
    text = dumps_record(record)
    if shape == 4:
        return json.dumps(record)  # spaced
    if shape == 5:
        name = draw(st.sampled_from(list(record)))
        return text[:-1] + f',"{name}":{json.dumps(draw(json_values), default=str)}}}'
    if shape == 6:
        return text[: draw(st.integers(0, len(text)))]
    if shape == 7:
        return draw(st.sampled_from([" ", "\n", "\t"])).join(["", text, ""])
    return text


@st.composite
def bronze_rows(draw) -> list[dict[str, object]]:
    rows = []
    for payload in draw(st.lists(payloads(), min_size=1, max_size=15)):
        rows.append(
            {
                "symbol": draw(st.sampled_from(["AAPL", "AAPL", "MSFT", "aapl"])),
                "trade_date": draw(st.sampled_from(SESSIONS)),
                "record_no": len(rows),
                "payload": payload,
                "source": "simulated",
                "fetched_at": FETCHED + pd.Timedelta(minutes=draw(st.integers(0, 2))),
                "object_key": "bronze/raw_quotes/x.jsonl",
            }
        )
    return rows


@settings(FAST_SETTINGS, max_examples=50)  # each record is also cleaned on its own
@given(bronze_rows())
def test_any_payloads_clean_the_same_column_wise_and_one_by_one(rows):
    raw = pd.DataFrame(rows)
    result = clean_every_way(raw)
    # Per distinct value is per record: each record alone gets the same verdict.
    verdicts = dict(zip(result.rejects.record_no, result.rejects.reason, strict=True))
    for row in rows:
        alone = clean(pd.DataFrame([row]))
        assert verdicts.get(row["record_no"]) == (
            alone.rejects.reason.iloc[0] if len(alone.rejects) else None
        )


@FAST_SETTINGS
@given(st.lists(payloads(), min_size=1, max_size=40))
def test_the_layout_reads_each_field_as_the_parser_does(texts):
    read, values = cleaning._read_layout(PAYLOAD_LAYOUT, np.array(texts, dtype=object))
    assert read.tolist() == [
        i for i, text in enumerate(texts) if re.fullmatch(PAYLOAD_LAYOUT.pattern, text)
    ]
    for j, i in enumerate(read.tolist()):
        parsed = SimulatedSource.parse_record(texts[i])
        for name in BAR_FIELDS:
            # The same type and the same value, down to the sign of a zero.
            assert type(values[name][j]) is type(parsed[name])
            assert repr(values[name][j]) == repr(parsed[name]), (texts[i], name)


# Decimal texts as the layout's float token allows them: up to 30 digits before the point,
# 40 after it, and a two-digit exponent.
float_tokens = st.builds(
    lambda sign, whole, fraction, exponent: f"{sign}{whole}{fraction}{exponent}",
    st.sampled_from(["", "-"]),
    st.one_of(st.just("0"), st.from_regex(r"[1-9][0-9]{0,29}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,40}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"[eE][-+]?[0-9]{1,2}", fullmatch=True)),
).filter(lambda token: re.search(r"[.eE]", token) is not None)


def with_prices(token: str) -> str:
    """A payload in the layout whose prices are all the given token."""
    prices = ",".join(f'"{name}":{token}' for name in PRICE_FIELDS)
    return f'{{"symbol":"AAPL","date":"2024-07-03",{prices},"volume":1}}'


@FAST_SETTINGS
@given(st.lists(st.one_of(float_tokens, st.floats(allow_nan=False).map(repr)), min_size=1))
def test_float_tokens_read_as_json_reads_them(tokens):
    texts = [with_prices(token) for token in tokens]
    read, values = cleaning._read_layout(PAYLOAD_LAYOUT, np.array(texts, dtype=object))
    assert len(read) == sum(re.fullmatch(PAYLOAD_LAYOUT.pattern, t) is not None for t in texts)
    for j, i in enumerate(read.tolist()):
        assert repr(values["open"][j]) == repr(json.loads(texts[i])["open"]), tokens[i]


def test_hard_float_tokens_read_as_json_reads_them():
    hard = [
        "0.1", "0.30000000000000004", "9007199254740993.0", "-0.0", "0.0", "1e-99", "-1E+99",
        "123456789012345678901234567890.5", "2.4703282292062328e-99",
        "0.1000000000000000055511151231257827021181",
        # Either side of 1 + 2**-53, halfway between 1.0 and the next double.
        "1.0000000000000001110223024625156540423631", "1.0000000000000001110223024625156540423632",
    ]  # fmt: skip
    texts = [with_prices(token) for token in hard]
    read, values = cleaning._read_layout(PAYLOAD_LAYOUT, np.array(texts, dtype=object))
    assert len(read) == len(hard)
    assert [repr(v) for v in values["open"]] == [repr(json.loads(t)["open"]) for t in texts]
