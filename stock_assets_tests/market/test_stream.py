"""stream_batch on hand-built parses: duplicates within one file and across files, closed days."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from stock_assets.market.landing import LandingParse
from stock_assets.market.schemas import LATEST_SNAPSHOT, LIVE_SIGNALS, conform
from stock_assets.market.stream import newest_per_symbol, snapshot_table, stream_batch

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


def test_the_snapshot_keeps_each_symbol_s_newest_quote_ties_to_the_later_row():
    history = stream_batch(
        [
            parse(
                "a.jsonl",
                [
                    ("MSFT", "2024-07-05 14:00:02", 5.0),
                    ("AAPL", "2024-07-05 14:00:01", 1.0),
                    ("AAPL", "2024-07-05 14:00:03", 3.0),
                    ("AAPL", "2024-07-05 14:00:02", 2.0),
                ],
            )
        ],
        INGESTED,
    ).rows
    snapshot = newest_per_symbol(history, INGESTED)
    assert list(zip(snapshot["symbol"], snapshot["price"], strict=True)) == [
        ("AAPL", 3.0),
        ("MSFT", 5.0),
    ]
    assert (snapshot["updated_at"] == pd.Timestamp("2024-07-05 16:00")).all()
    tie = pd.concat([history.iloc[[1]], history.iloc[[1]].assign(price=9.0)], ignore_index=True)
    assert newest_per_symbol(tie, INGESTED)["price"].tolist() == [9.0]
    assert newest_per_symbol(history.iloc[:0], INGESTED).empty


def snapshot_rows(*rows: tuple[str, str, str | None]) -> pd.DataFrame:
    """Stored snapshot rows: (symbol, ts, last_signal_at or None), all with signal MOVE."""
    frame = pd.DataFrame(rows, columns=["symbol", "ts", "last_signal_at"])
    frame = frame.assign(
        price=1.0,
        change=0.1,
        change_pct=0.1,
        name="Name",
        updated_at=pd.Timestamp("2024-07-05 15:00"),
        volume=10,
        last_signal=frame.last_signal_at.map(lambda t: None if t is None else "MOVE"),
        last_signal_reason=frame.last_signal_at.map(lambda t: None if t is None else "stored"),
    )
    return conform(frame, LATEST_SNAPSHOT)


def live(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    """LIVE_SIGNALS rows: (symbol, ts, signal, reason)."""
    frame = pd.DataFrame(rows, columns=["symbol", "ts", "signal", "reason"])
    frame = frame.assign(trade_date=dt.date(2024, 7, 5), rule=None, value=1.0, detected_at=None)
    return conform(frame, LIVE_SIGNALS)


def test_snapshot_takes_the_newest_signal_by_trigger_time_whatever_the_order():
    stored = snapshot_rows(("AAPL", "2024-07-05 14:50", "2024-07-05 14:45"))
    batch = newest_per_symbol(
        stream_batch([parse("k", [("AAPL", "2024-07-05 14:55", 2.0)])], INGESTED).rows, INGESTED
    )
    # The run's day holds an older signal and two of one newer quote: the newest wins, and
    # of one quote's signals the same one every time, whatever order they are listed in.
    signals = live(
        ("AAPL", "2024-07-05 14:40", "MOVE", "old"),
        ("AAPL", "2024-07-05 14:52", "VOLUME_SURGE", "surge"),
        ("AAPL", "2024-07-05 14:52", "CROSS_UP", "cross"),
    )
    for ordered in (signals, signals.iloc[::-1]):
        (row,) = snapshot_table(stored, batch, ordered).itertuples()
        assert (row.last_signal, str(row.last_signal_at)) == ("VOLUME_SURGE", "2024-07-05 14:52:00")
    # Only older signals in the run: the stored row's newer one stays.
    (row,) = snapshot_table(stored, batch, signals.iloc[:1]).itertuples()
    assert (row.last_signal_reason, str(row.last_signal_at)) == ("stored", "2024-07-05 14:45:00")
    # A batch that does not move the row leaves it exactly as stored.
    older = newest_per_symbol(
        stream_batch([parse("k", [("AAPL", "2024-07-05 14:30", 3.0)])], INGESTED).rows, INGESTED
    )
    pd.testing.assert_frame_equal(snapshot_table(stored, older, signals), stored)
