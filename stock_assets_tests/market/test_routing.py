"""Late-quotes objects: what a run writes back for other days reads as the same quotes."""

import datetime as dt

import pandas as pd

from stock_assets.market import routing
from stock_assets.market.landing import parse_landing_object
from stock_assets.market.stream import stream_batch

NOW = dt.datetime(2024, 7, 9, 15, tzinfo=dt.UTC)


def history_rows() -> pd.DataFrame:
    """stream_history rows of two days, with the missing values a quote may have."""
    parse = parse_landing_object(
        "landing/quotes/2024/07/09/mixed.csv",
        b"symbol,price,ts,volume,change,name,source\n"
        b'AAPL,190.125,2024-07-03T15:00:00.123456+00:00,1200,0.5,"Apple, Inc.",feed\n'
        b"MSFT,410.5,2024-07-03T15:01:00+00:00,,,,\n"
        b"TMUS,181.0,2024-07-05T14:00:00+00:00,7,,,feed\n",
        now=NOW,
    )
    return stream_batch([parse], ingested_at=NOW).rows


def test_each_days_quotes_go_back_as_one_object_that_parses_to_the_same_quotes():
    rows = history_rows()
    objects = routing.late_quotes_objects(rows, NOW)
    assert [routing.key_day(key) for key in objects] == [dt.date(2024, 7, 3), dt.date(2024, 7, 5)]
    fields = ["symbol", "ts", "price", "volume", "change", "change_pct", "name", "source"]
    for key, (body, sources) in objects.items():
        assert sources == ["landing/quotes/2024/07/09/mixed.csv"]
        again = stream_batch([parse_landing_object(key, body, now=NOW)], ingested_at=NOW).rows
        day = rows[rows.trade_date == routing.key_day(key)]
        pd.testing.assert_frame_equal(
            again[fields].reset_index(drop=True), day[fields].reset_index(drop=True)
        )


def test_late_quotes_keys_sort_by_the_time_they_were_written():
    earlier = routing.late_quotes_key(NOW, dt.date(2024, 7, 3), "f" * 16)
    later = routing.late_quotes_key(NOW + dt.timedelta(seconds=1), dt.date(2024, 7, 1), "0" * 16)
    assert earlier < later and earlier.startswith(routing.LATE_QUOTES_PREFIX)
    assert routing.key_day(earlier) == dt.date(2024, 7, 3)


def test_the_same_quotes_from_the_same_objects_get_the_same_digest():
    rows = history_rows()
    first = routing.late_quotes_objects(rows, NOW)
    again = routing.late_quotes_objects(rows, NOW + dt.timedelta(minutes=1))
    assert [k[-25:] for k in first] == [k[-25:] for k in again]
    other = rows.assign(object_key="landing/quotes/other.csv")
    assert [k[-25:] for k in routing.late_quotes_objects(other, NOW)] != [k[-25:] for k in first]
