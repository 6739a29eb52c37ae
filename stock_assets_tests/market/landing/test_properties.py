"""Properties for all input: encode -> parse round-trips exactly, arbitrary bytes never
raise, every record is accounted for, and junk never costs a good record."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from stock_assets.market.landing import (
    FORMATS,
    encode_micro_batch,
    micro_batch_key,
    parse_landing_object,
)
from stock_assets_tests.market.landing.helpers import (
    KEY,
    NOW,
)
from stock_assets_tests.market.landing.strategies import (
    FAR_NOW,
    PROPERTY_SETTINGS,
    assert_well_formed,
    encode_mixed,
    hostile_bodies,
    junk_lines,
    junk_objects,
    junk_rows,
    landed_rows,
    quotes,
)


@PROPERTY_SETTINGS
@given(st.lists(quotes(), min_size=1, max_size=12), st.sampled_from(FORMATS))
def test_property_encoded_batches_parse_back_to_the_same_values(batch, fmt):
    body = encode_micro_batch([quote for quote, _ in batch], fmt)
    result = parse_landing_object(micro_batch_key(FAR_NOW, 0, fmt), body, now=FAR_NOW)
    assert result.fatal is None and result.rejects == ()
    assert landed_rows(result) == [expected for _, expected in batch]
    assert result.quotes["record_no"].tolist() == list(range(1, len(batch) + 1))


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
