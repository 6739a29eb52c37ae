"""The Arrow tier: whole JSON Lines objects, or nothing.

Arrow reads a JSON Lines object whole only when every line is one clearly valid record;
then its frame must be the other tiers' frame to the bit. Every case below is parsed by
all three tiers (parse_every_tier), and pins whether the Arrow tier took the object.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stock_assets.market.landing import (
    encode_micro_batch,
)
from stock_assets_tests.market.landing.helpers import (
    FAST_SETTINGS,
    arrow_answers,
    parse_every_tier,
)
from stock_assets_tests.market.landing.shapes import (
    CANONICAL,
)
from stock_assets_tests.market.landing.strategies import (
    FAR_NOW,
    landed_rows,
    quotes,
    texts,
)

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
