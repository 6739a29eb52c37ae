"""The latest snapshot: each symbol's newest quote, the fields it omits carried forward, the
newest signal, and the stored table left alone where no newer quote arrived."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from stock_assets.market.schemas import LATEST_SNAPSHOT, LIVE_SIGNALS, STREAM_HISTORY, conform
from stock_assets.market.stream import newest_per_symbol, snapshot_table, stream_batch
from stock_assets_tests.market.test_stream import INGESTED, parse

# (symbol, ts, price, volume, change, change_pct, name), with trade_date the ts's NY day.
Quote = tuple[str, str, float, int | None, float | None, float | None, str | None]


def history(*quotes: Quote) -> pd.DataFrame:
    """STREAM_HISTORY rows in the order given (duplicates allowed, as newest_per_symbol's
    input may hold them); every ts here is a New York afternoon, so its date is the day."""
    frame = pd.DataFrame(
        quotes, columns=["symbol", "ts", "price", "volume", "change", "change_pct", "name"]
    )
    ts = pd.to_datetime(frame["ts"])
    frame = frame.assign(
        ts=ts,
        volume=pd.array([quote[3] for quote in quotes], dtype="Int64"),  # not via floats
        source="test",
        object_key="k",
        ingested_at=INGESTED.replace(tzinfo=None),
        trade_date=ts.dt.date,
    )
    return conform(frame, STREAM_HISTORY)


def carried(snapshot: pd.DataFrame) -> dict[str, tuple]:
    """symbol -> (price, volume, change, change_pct, name), missing values as None."""
    fields = ["price", "volume", "change", "change_pct", "name"]
    values = snapshot[fields].astype(object).where(snapshot[fields].notna(), None)
    return dict(zip(snapshot["symbol"], map(tuple, values.to_numpy().tolist()), strict=True))


def test_omitted_fields_carry_name_from_any_quote_and_session_figures_from_the_session():
    rows = history(
        ("AAPL", "2024-07-03 15:00", 1.0, 500, 1.0, 0.5, "Apple Inc."),  # the day before
        ("AAPL", "2024-07-05 14:05", 3.0, None, None, None, None),  # newest
        ("AAPL", "2024-07-02 15:00", 0.5, 400, 2.0, 0.4, "APPLE (old)"),  # older, listed later
        ("AAPL", "2024-07-05 14:00", 2.0, 700, None, 0.7, None),  # same session
        ("MSFT", "2024-07-05 14:01", 9.0, 100, 0.2, None, None),  # nothing to carry
    )
    assert carried(newest_per_symbol(rows, INGESTED)) == {
        # change: only the previous session had one, and yesterday's change is wrong today
        "AAPL": (3.0, 700, None, 0.7, "Apple Inc."),
        "MSFT": (9.0, 100, 0.2, None, None),
    }
    # Every newest row named: the session figures are still carried.
    named = rows.assign(name="Named")
    assert carried(newest_per_symbol(named, INGESTED))["AAPL"] == (3.0, 700, None, 0.7, "Named")


def test_ties_go_to_the_later_row_among_many_quotes():
    """17 rows: enough for numpy's default (unstable) sort to reorder equal times."""
    older = [("AAPL", "2024-07-05 14:00", 0.5, 1, 0.1, 0.1, "older")] * 15
    tied = [
        ("AAPL", "2024-07-05 14:01", 1.0, 1, 0.1, 0.1, "first"),
        ("AAPL", "2024-07-05 14:01", 2.0, 1, 0.1, 0.1, "second"),
    ]
    assert carried(newest_per_symbol(history(*tied, *older), INGESTED))["AAPL"][0] == 2.0
    unnamed = ("AAPL", "2024-07-05 14:02", 3.0, 1, 0.1, 0.1, None)
    rows = history(*tied, *older, unnamed)
    assert carried(newest_per_symbol(rows, INGESTED))["AAPL"] == (3.0, 1, 0.1, 0.1, "second")


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
        assert (row.last_signal, row.last_signal_reason, str(row.last_signal_at)) == (
            "VOLUME_SURGE",
            "surge",
            "2024-07-05 14:52:00",
        )
    # Only older signals in the run: the stored row's newer one stays.
    (row,) = snapshot_table(stored, batch, signals.iloc[:1]).itertuples()
    assert (row.last_signal_reason, str(row.last_signal_at)) == ("stored", "2024-07-05 14:45:00")
    # A batch that does not move the row leaves it exactly as stored.
    older = newest_per_symbol(
        stream_batch([parse("k", [("AAPL", "2024-07-05 14:30", 3.0)])], INGESTED).rows, INGESTED
    )
    pd.testing.assert_frame_equal(snapshot_table(stored, older, signals), stored)


def test_a_batch_that_moves_no_row_returns_the_stored_table_sorted():
    stored = snapshot_rows(
        ("MSFT", "2024-07-05 14:50", None), ("AAPL", "2024-07-05 14:50", "2024-07-05 14:45")
    )
    expected = snapshot_rows(
        ("AAPL", "2024-07-05 14:50", "2024-07-05 14:45"), ("MSFT", "2024-07-05 14:50", None)
    )
    # A quote at the stored time is a tie: the stored row stays.
    same_time = newest_per_symbol(
        stream_batch([parse("k", [("AAPL", "2024-07-05 14:50", 7.0)])], INGESTED).rows, INGESTED
    )
    for newest in (same_time, same_time.iloc[:0]):
        pd.testing.assert_frame_equal(snapshot_table(stored, newest, live()), expected)


def test_a_new_symbol_joins_the_table_and_the_others_stay():
    stored = snapshot_rows(("MSFT", "2024-07-05 14:50", None), ("AAPL", "2024-07-05 14:50", None))
    newest = newest_per_symbol(
        stream_batch([parse("k", [("TSLA", "2024-07-05 14:55", 7.0)])], INGESTED).rows, INGESTED
    )
    table = snapshot_table(stored, newest, live())
    assert table["symbol"].tolist() == ["AAPL", "MSFT", "TSLA"]
    assert table["price"].tolist() == [1.0, 1.0, 7.0]
    assert table.index.tolist() == [0, 1, 2]
    # No signal anywhere: the moved row has none.
    assert table.loc[2, ["last_signal", "last_signal_at", "last_signal_reason"]].isna().all()


def test_volumes_beyond_a_float_s_precision_are_kept_exactly():
    big = 2**53 + 1  # a valid BIGINT that a float64 would round to 2**53
    rows = history(
        ("AAPL", "2024-07-05 14:00", 1.0, big, 0.1, 0.1, "Apple"),
        ("MSFT", "2024-07-05 14:00", 2.0, big + 2, 0.1, 0.1, "Microsoft"),
        ("MSFT", "2024-07-05 14:01", 2.5, None, 0.1, 0.1, "Microsoft"),  # a gap to fill
    )
    snapshot = newest_per_symbol(rows, INGESTED)
    assert snapshot["volume"].tolist() == [big, big + 2]
