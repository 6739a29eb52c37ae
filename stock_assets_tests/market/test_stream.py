"""stream_batch on hand-built parses: duplicates within one file and across files, closed days."""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd

from stock_assets.market.landing import LandingParse, RecordReject
from stock_assets.market.schemas import STREAM_HISTORY
from stock_assets.market.stream import newest_per_symbol, quote_trading_days, stream_batch

INGESTED = dt.datetime(2024, 7, 5, 16, 0, tzinfo=dt.UTC)


def parse(key: str, quotes: list[tuple[str, str, float]]) -> LandingParse:
    """One object's quotes: (symbol, naive UTC ts, price)."""
    frame = pd.DataFrame(quotes, columns=["symbol", "ts", "price"])
    frame = frame.assign(
        ts=pd.to_datetime(frame["ts"]).astype("datetime64[us]"),
        volume=pd.array([100] * len(frame), dtype="Int64"),
        change=0.0,
        change_pct=0.0,
        name=None,
        source="test",
        record_no=range(len(frame)),
    )
    return LandingParse(key, frame, (), None)


def rows(batch) -> list[tuple]:
    frame = batch.rows
    return list(
        zip(
            frame["symbol"],
            frame["ts"].astype(str),
            frame["price"],
            frame["object_key"],
            strict=True,
        )
    )


def test_a_repeated_quote_within_one_file_is_written_once_first_wins():
    one = parse(
        "a.jsonl",
        [
            ("AAPL", "2024-07-05 14:00:00", 1.0),
            ("AAPL", "2024-07-05 14:00:00", 2.0),  # same (symbol, ts): dropped
            ("MSFT", "2024-07-05 14:00:00", 3.0),  # same ts, other symbol: kept
            ("AAPL", "2024-07-05 14:00:01", 4.0),
        ],
    )
    batch = stream_batch([one], INGESTED)
    assert batch.duplicates == 1
    assert rows(batch) == [
        ("AAPL", "2024-07-05 14:00:00", 1.0, "a.jsonl"),
        ("MSFT", "2024-07-05 14:00:00", 3.0, "a.jsonl"),
        ("AAPL", "2024-07-05 14:00:01", 4.0, "a.jsonl"),
    ]
    assert set(batch.rows["trade_date"]) == {dt.date(2024, 7, 5)}


def test_a_quote_repeated_in_a_later_file_keeps_the_earlier_file_s_row():
    first = parse("a.jsonl", [("AAPL", "2024-07-05 14:00:00", 1.0)])
    later = parse("b.jsonl", [("AAPL", "2024-07-05 14:00:00", 9.0)])
    batch = stream_batch([first, later], INGESTED)
    assert batch.duplicates == 1
    assert rows(batch) == [("AAPL", "2024-07-05 14:00:00", 1.0, "a.jsonl")]


def test_a_duplicate_on_a_closed_day_is_a_reject_not_a_duplicate():
    holiday = parse(
        "h.jsonl",
        [("AAPL", "2024-07-04 14:00:00", 1.0), ("AAPL", "2024-07-04 14:00:00", 1.0)],
    )
    batch = stream_batch([holiday], INGESTED)
    assert batch.duplicates == 0 and batch.rows.empty
    assert [(key, r.record_no) for key, r in batch.rejects] == [("h.jsonl", 0), ("h.jsonl", 1)]
    assert all("2024-07-04" in r.reason or "holiday" in r.reason.lower() for _, r in batch.rejects)


def test_a_quote_is_filed_under_its_new_york_day():
    # 01:00 UTC on 6 July is 21:00 on 5 July in New York; 02:00 UTC on 5 July is 4 July.
    late = parse(
        "n.jsonl", [("AAPL", "2024-07-06 01:00:00", 1.0), ("AAPL", "2024-07-05 02:00:00", 2.0)]
    )
    batch = stream_batch([late], INGESTED)
    assert list(batch.rows["trade_date"]) == [dt.date(2024, 7, 5)]
    assert [r.record_no for _, r in batch.rejects] == [1]
    assert batch.rows["ingested_at"].iloc[0] == pd.Timestamp("2024-07-05 16:00")  # naive UTC


def test_objects_without_quotes_give_an_empty_batch_with_their_rejects():
    bad = RecordReject(3, "price is missing", '{"symbol": "AAPL"}')
    empty = parse("e.jsonl", [])
    batch = stream_batch([LandingParse("r.jsonl", empty.quotes, (bad,), None), empty], INGESTED)
    assert batch.rejects == [("r.jsonl", bad)]
    assert batch.duplicates == 0
    pd.testing.assert_frame_equal(batch.rows, STREAM_HISTORY.empty_frame())


def test_closed_day_rejects_keep_the_quote_s_text_and_follow_the_object_order():
    # Keys in reverse alphabetical order: rejects are listed by object, not by key.
    later = parse("z.jsonl", [("AAPL", "2024-07-06 15:00:00", 2.5)])  # a Saturday
    own = RecordReject(7, "price is missing", "{}")
    earlier = parse("a.jsonl", [("MSFT", "2024-07-04 14:00:00", 1.25)])  # Independence Day
    batch = stream_batch([later, LandingParse("a.jsonl", earlier.quotes, (own,), None)], INGESTED)
    assert [(key, r.record_no, r.raw) for key, r in batch.rejects] == [
        ("z.jsonl", 0, "AAPL 2024-07-06T15:00:00 2.5"),
        ("a.jsonl", 7, "{}"),
        ("a.jsonl", 0, "MSFT 2024-07-04T14:00:00 1.25"),
    ]
    assert batch.rejects[0][1].reason == (
        "quote 2024-07-06 is a Saturday: the NYSE is closed on weekends"
    )


def test_quote_trading_days_is_a_series_aligned_with_the_quotes():
    quotes = parse(
        "a.jsonl",
        [("AAPL", "2024-07-05 03:59:59", 1.0), ("AAPL", "2024-07-05 04:00:00", 1.0)],
    ).quotes.set_axis([10, 20])
    expected = pd.Series(
        [dt.date(2024, 7, 4), dt.date(2024, 7, 5)], index=[10, 20], name="trade_date"
    )
    pd.testing.assert_series_equal(quote_trading_days(quotes), expected)


def test_stored_times_do_not_depend_on_the_machine_s_time_zone(machine_in_tokyo):
    quote = [parse("a.jsonl", [("AAPL", "2024-07-05 14:00:00", 1.0)])]
    aware = dt.datetime(2024, 7, 5, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns when handed a zone-aware datetime
        batch = stream_batch(quote, aware)
        snapshot = newest_per_symbol(batch.rows, aware)
    assert batch.rows["ingested_at"].tolist() == [pd.Timestamp("2024-07-05 16:00")]
    assert snapshot["updated_at"].tolist() == [pd.Timestamp("2024-07-05 16:00")]
    naive = stream_batch(quote, dt.datetime(2024, 7, 5, 9))
    assert naive.rows["ingested_at"].tolist() == [pd.Timestamp("2024-07-05 09:00")]


def test_an_aware_ingestion_time_is_stored_as_naive_utc():
    eastern = dt.timezone(dt.timedelta(hours=-4))
    batch = stream_batch(
        [parse("a.jsonl", [("AAPL", "2024-07-05 14:00:00", 1.0)])],
        dt.datetime(2024, 7, 5, 12, 0, tzinfo=eastern),
    )
    assert batch.rows["ingested_at"].iloc[0] == pd.Timestamp("2024-07-05 16:00")
    naive = stream_batch(
        [parse("a.jsonl", [("AAPL", "2024-07-05 14:00:00", 1.0)])], dt.datetime(2024, 7, 5, 9)
    )
    assert naive.rows["ingested_at"].iloc[0] == pd.Timestamp("2024-07-05 09:00")
