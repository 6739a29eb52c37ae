import datetime as dt
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from stock_assets.market.bronze import assign_partitions
from stock_assets.market.sources.base import RawRecord

DAYS = [dt.date(2024, 7, 1), dt.date(2024, 7, 2), dt.date(2024, 7, 3), dt.date(2024, 7, 5)]
CLAIMS = [None, "", "junk", "2024-07-04", "2023-01-02", "2024-07-03T16:00:00", *map(str, DAYS)]


def one_by_one(records: list[RawRecord], days: list[dt.date]) -> dict:
    """The rule record by record: the claimed day if the pull has it, else its last day."""
    grouped = defaultdict(list)
    for record in records:
        try:
            claimed = dt.date.fromisoformat((record.trade_date or "")[:10])
        except ValueError:
            claimed = None
        grouped[claimed if claimed in days else days[-1]].append(record)
    return grouped


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(CLAIMS)), max_size=30),
    st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True),
)
def test_records_are_filed_under_the_day_they_claim_in_order(claims, days):
    records = [RawRecord(symbol, day, f"payload {i}") for i, (symbol, day) in enumerate(claims)]
    grouped = assign_partitions(records, days)
    # The same groups, each in pull order, and days in the order they first appear.
    assert list(grouped.items()) == list(one_by_one(records, days).items())
