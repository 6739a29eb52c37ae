"""The fast tiers give exactly the spec's result: they only take what it accepts.

Records in the producers' shape are checked column-wise, everything else one by one by the
spec. The generators (shapes.py) mix such records, records with a value on either side of
each rule or a shape just off the producers' one, and junk; every result is compared with
the spec alone (no fast tier), which is the reference, and with the regex tier alone, which
JSON Lines reach when the Arrow tier declines them.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stock_assets.market.landing import (
    FORMATS,
    encode_micro_batch,
    micro_batch_key,
    parse_landing_object,
)
from stock_assets.market.sources.base import TICK_FIELDS
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets_tests.market.landing.helpers import (
    CSV_KEY,
    FAST_SETTINGS,
    GOOD,
    KEY,
    NOW,
    arrow_answers,
    line,
    only_tiers,
    parse_every_tier,
)
from stock_assets_tests.market.landing.shapes import (
    CANONICAL,
    EDGES,
    GOOD_LINES,
    csv_text,
    csv_texts,
    json_array_texts,
    json_lines_texts,
)
from stock_assets_tests.market.landing.strategies import (
    hostile_bodies,
)


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
    tiers = ("arrow", "regex") if arrow else ("regex",)
    with arrow_answers() as answers, only_tiers(*tiers):
        result = parse_landing_object(KEY, bench_batch(150_000), now=NOW)
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
