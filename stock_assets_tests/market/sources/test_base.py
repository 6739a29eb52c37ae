import re

import pytest

from stock_assets.market.sources.base import BAR_FIELDS, PayloadLayout, dumps_record

MEMBERS = tuple((name, name, "float") for name in BAR_FIELDS)


def test_a_layout_names_every_bar_field_once_under_plain_keys():
    with pytest.raises(ValueError, match="every bar field"):
        PayloadLayout(MEMBERS[:-1])
    with pytest.raises(ValueError, match="every bar field"):
        PayloadLayout((*MEMBERS[:-1], MEMBERS[0]))
    with pytest.raises(ValueError, match="plain words"):
        PayloadLayout((("a,b", "symbol", "text"), *MEMBERS[1:]))


def test_the_pattern_matches_exactly_compact_objects_of_the_members_in_order():
    layout = PayloadLayout((("s", "symbol", "text"), ("n", "volume", "count"), *MEMBERS[1:-1]))
    record = {"s": "AAPL", "n": -12, **{name: 1.5 for name, _, _ in MEMBERS[1:-1]}}
    assert re.fullmatch(layout.pattern, dumps_record(record))
    assert layout.prefixes[:2] == ('{"s":', ',"n":')
    for other in (
        {**record, "s": "A,B"},  # a comma inside text
        {**record, "s": 'A"B'},  # an escape
        {**record, "n": 1.0},  # a float for a count
        {**record, "n": 10**18},  # a count beyond 18 digits
        {**record, "open": 2},  # an integer for a float
        {**record, "open": float("nan")},
        {**record, "open": 1e-300},  # a three-digit exponent
        {**record, "open": None},
        dict(reversed(record.items())),
        {k: v for k, v in record.items() if k != "n"},
        {**record, "extra": 1},
    ):
        assert not re.fullmatch(layout.pattern, dumps_record(other)), other
    assert not re.fullmatch(layout.pattern, dumps_record(record).replace(",", ", "))
