"""Hypothesis strategies for valid quotes, junk records and hostile bytes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from stock_assets.market.landing import (
    FORMATS,
    STREAM_COLUMNS,
    LandingParse,
    encode_micro_batch,
)
from stock_assets.market.sources.base import TICK_FIELDS

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
