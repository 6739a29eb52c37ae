"""Merge semantics shared by the IO managers, on the pure function and on DuckDB."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets.io_managers import WarehouseIOManager
from stock_assets.io_managers.merge import MergeSpec, merge_frames, merge_spec
from stock_assets.market.schemas import INTRADAY_BARS, LATEST_SNAPSHOT, conform

SNAPSHOT = MergeSpec(keys=("symbol",), newest_by="ts")
HISTORY = MergeSpec(keys=("symbol", "ts"))


def snap(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["symbol", "ts", "price"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame.assign(
        change=0.0,
        change_pct=0.0,
        name=None,
        updated_at=pd.Timestamp("2024-07-05"),
        volume=None,
        last_signal=None,
        last_signal_at=pd.NaT,
        last_signal_reason=None,
    )


def test_newest_wins_and_older_never_replaces():
    stored = snap([("AAPL", "2024-07-05 15:00", 10.0), ("MSFT", "2024-07-05 15:00", 20.0)])
    new = snap(
        [
            ("AAPL", "2024-07-05 14:00", 9.0),
            ("MSFT", "2024-07-05 15:01", 21.0),
            ("TMUS", "2024-07-05 15:00", 5.0),
        ]
    )
    merged = merge_frames(stored, new, SNAPSHOT).set_index("symbol").price.to_dict()
    assert merged == {"AAPL": 10.0, "MSFT": 21.0, "TMUS": 5.0}


def test_without_order_the_stored_row_stays():
    stored = snap([("AAPL", "2024-07-05 15:00", 10.0)])
    new = snap([("AAPL", "2024-07-05 15:00", 99.0), ("AAPL", "2024-07-05 15:01", 11.0)])
    merged = merge_frames(stored, new, HISTORY).sort_values("ts").price.tolist()
    assert merged == [10.0, 11.0]


def test_spec_round_trips_through_metadata():
    assert merge_spec(SNAPSHOT.metadata()) == SNAPSHOT
    assert merge_spec({"partition_expr": "trade_date"}) is None


def test_duckdb_merge_matches_the_reference(tmp_path):
    database = str(tmp_path / "w.duckdb")
    batches = [
        snap([("AAPL", "2024-07-05 15:00", 10.0), ("MSFT", "2024-07-05 15:00", 20.0)]),
        snap([("AAPL", "2024-07-05 14:00", 9.0), ("MSFT", "2024-07-05 15:01", 21.0)]),
        snap([("TMUS", "2024-07-05 15:00", 5.0), ("AAPL", "2024-07-05 15:00", 12.0)]),
    ]
    expected = conform(batches[0], LATEST_SNAPSHOT)
    for batch in batches:
        frame = conform(batch, LATEST_SNAPSHOT)

        @dg.asset(key=["gold", "latest_snapshot"], metadata=SNAPSHOT.metadata())
        def latest_snapshot() -> pd.DataFrame:
            return frame  # noqa: B023 - materialized immediately

        assert dg.materialize(
            [latest_snapshot], resources={"io_manager": WarehouseIOManager(database=database)}
        ).success
        expected = merge_frames(expected, frame, SNAPSHOT)
    with duckdb.connect(database, read_only=True) as conn:
        stored = conn.execute("SELECT * FROM gold.latest_snapshot ORDER BY symbol").fetchdf()
    pd.testing.assert_frame_equal(
        stored[["symbol", "ts", "price"]],
        expected.sort_values("symbol")[["symbol", "ts", "price"]].reset_index(drop=True),
        check_dtype=False,
    )
    assert stored.price.tolist() == [10.0, 21.0, 5.0]  # AAPL at 15:00 again: the stored row stays


BARS = MergeSpec(
    keys=("symbol", "bar_start"),
    newest_by="ingested_at",
    scope=("symbol", "trade_date"),
    fallback=("source", "stream"),
)


def bars(rows: list[tuple[str, int, str, float, int]]) -> pd.DataFrame:
    """(symbol, minute, source, price, ingested second) rows of one day's bars."""
    frame = pd.DataFrame(rows, columns=["symbol", "minute", "source", "price", "second"])
    start = pd.Timestamp("2024-07-05 13:30")
    return conform(
        frame.assign(
            trade_date=start.date(),
            bar_start=start + pd.to_timedelta(frame["minute"], unit="min"),
            open=frame["price"],
            high=frame["price"],
            low=frame["price"],
            close=frame["price"],
            volume=1,
            vwap=frame["price"],
            quotes=1,
            ingested_at=start + pd.to_timedelta(frame["second"], unit="s"),
        ),
        INTRADAY_BARS,
    ).assign(minute=frame["minute"], price=frame["price"])


BAR_BATCHES = [
    bars([("A", 1, "stream", 1.0, 1), ("A", 2, "stream", 2.0, 1), ("B", 1, "stream", 3.0, 1)]),
    bars([("A", 1, "yahoo", 1.5, 2)]),  # the vendor's bars replace A's whole day
    bars([("A", 2, "stream", 2.5, 3), ("B", 1, "stream", 3.5, 3)]),  # A stays the vendor's
]


def test_fallback_rows_yield_to_any_other_source_in_their_scope():
    merged = BAR_BATCHES[0]
    for batch in BAR_BATCHES[1:]:
        merged = merge_frames(merged, batch, BARS)
    rows = merged.sort_values(["symbol", "minute"])[["symbol", "minute", "source", "price"]]
    assert rows.values.tolist() == [["A", 1, "yahoo", 1.5], ["B", 1, "stream", 3.5]]
    assert merge_spec(BARS.metadata()) == BARS


def test_duckdb_fallback_merge_matches_the_reference(tmp_path):
    database = str(tmp_path / "w.duckdb")
    expected = BAR_BATCHES[0].iloc[:0]
    for batch in BAR_BATCHES:

        @dg.asset(key=["silver", "intraday_bars"], metadata=BARS.metadata())
        def intraday_bars() -> pd.DataFrame:
            return batch.drop(columns=["minute", "price"])  # noqa: B023 - materialized now

        assert dg.materialize(
            [intraday_bars], resources={"io_manager": WarehouseIOManager(database=database)}
        ).success
        expected = merge_frames(expected, batch, BARS)
    with duckdb.connect(database, read_only=True) as conn:
        stored = conn.execute(
            "SELECT *, minute(bar_start) - 30 AS minute, close AS price "
            "FROM silver.intraday_bars ORDER BY symbol, bar_start"
        ).fetchdf()
    columns = ["symbol", "minute", "source", "price"]
    assert stored[columns].values.tolist() == [["A", 1, "yahoo", 1.5], ["B", 1, "stream", 3.5]]
    assert expected.sort_values(["symbol", "minute"])[columns].values.tolist() == (
        stored[columns].values.tolist()
    )


# One batch repeating keys, written to an empty table: AAPL three times (15:01 twice, the
# first of them is the newest row), MSFT twice at the same ts (the first wins).
REPEATS = [
    ("AAPL", "2024-07-05 15:00", 10.0),
    ("AAPL", "2024-07-05 15:01", 11.0),
    ("AAPL", "2024-07-05 15:01", 12.0),
    ("MSFT", "2024-07-05 15:00", 20.0),
    ("MSFT", "2024-07-05 15:00", 21.0),
]
FIRST_WRITE = {
    "newest": [("AAPL", "2024-07-05 15:01", 11.0), ("MSFT", "2024-07-05 15:00", 20.0)],
    "first": [
        ("AAPL", "2024-07-05 15:00", 10.0),
        ("AAPL", "2024-07-05 15:01", 11.0),
        ("MSFT", "2024-07-05 15:00", 20.0),
    ],
}


def written_by_duckdb(tmp_path, spec: MergeSpec, batch: pd.DataFrame) -> list[tuple]:
    database = str(tmp_path / "w.duckdb")

    @dg.asset(key=["gold", "latest_snapshot"], metadata=spec.metadata())
    def repeated() -> pd.DataFrame:
        return batch

    assert dg.materialize(
        [repeated], resources={"io_manager": WarehouseIOManager(database=database)}
    ).success
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute(
            "SELECT symbol, strftime(ts, '%Y-%m-%d %H:%M'), price FROM gold.latest_snapshot "
            "ORDER BY symbol, ts"
        ).fetchall()


def written_by_pandas(spec: MergeSpec, batch: pd.DataFrame) -> list[tuple]:
    merged = merge_frames(batch.iloc[:0], batch, spec).sort_values(["symbol", "ts"])
    return [(s, f"{t:%Y-%m-%d %H:%M}", p) for s, t, p in merged[["symbol", "ts", "price"]].values]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [(SNAPSHOT, FIRST_WRITE["newest"]), (HISTORY, FIRST_WRITE["first"])],
    ids=["newest-by-ts", "first-row"],
)
def test_a_first_write_repeating_keys_lands_one_row_per_key_in_both_writers(
    tmp_path, spec: MergeSpec, expected: list[tuple]
):
    batch = conform(snap(REPEATS), LATEST_SNAPSHOT)
    assert written_by_pandas(spec, batch) == expected
    assert written_by_duckdb(tmp_path, spec, batch) == expected


def test_a_batch_repeating_a_stored_key_changes_it_once():
    stored = snap([("AAPL", "2024-07-05 14:00", 9.0)])
    new = snap([("AAPL", "2024-07-05 15:00", 10.0), ("AAPL", "2024-07-05 15:00", 11.0)])
    assert merge_frames(stored, new, SNAPSHOT).price.tolist() == [10.0]


def test_a_merge_returns_the_table_s_columns_on_a_fresh_index():
    stored = snap([("AAPL", "2024-07-05 15:00", 10.0)]).set_axis([7])
    new = snap([("MSFT", "2024-07-05 15:00", 20.0)]).set_axis([9])
    for merged in (
        merge_frames(stored.iloc[:0], new, HISTORY),
        merge_frames(stored, new.iloc[:0], HISTORY),
    ):
        assert list(merged.columns) == list(new.columns) and list(merged.index) == [0]


def test_a_spec_reads_metadata_values_dagster_wraps():
    wrapped = {name: dg.MetadataValue.json(value) for name, value in BARS.metadata().items()}
    assert merge_spec(wrapped) == BARS


def test_a_fallback_without_a_scope_is_refused():
    with pytest.raises(
        ValueError, match=r"^a merge fallback needs a scope, and a scope a fallback$"
    ):
        MergeSpec(keys=("symbol",), fallback=("source", "stream"))


@pytest.mark.parametrize("spec", [SNAPSHOT, HISTORY])
def test_a_merge_keeps_unchanged_stored_rows_first_then_the_batch_in_its_order(spec):
    """Rewriting a file moves only what changed: the stored rows the batch leaves alone keep
    their order, and the batch's rows follow in the order they arrived."""
    stored = snap([("AAPL", "2024-07-05 15:00", 10.0), ("MSFT", "2024-07-05 15:00", 20.0)])
    new = snap(
        [
            ("TMUS", "2024-07-05 15:00", 5.0),
            ("AAPL", "2024-07-05 15:01", 11.0),
            ("IBM", "2024-07-05 15:00", 7.0),
        ]
    )
    merged = merge_frames(stored, new, spec)
    expected = {
        SNAPSHOT: ["MSFT", "TMUS", "AAPL", "IBM"],  # the newer AAPL replaces the stored one
        HISTORY: ["AAPL", "MSFT", "TMUS", "AAPL", "IBM"],  # a new minute: both kept
    }[spec]
    assert merged.symbol.tolist() == expected


def test_among_rows_of_a_key_equally_new_the_first_in_the_batch_wins():
    """A long batch with ties on the newest time: the choice must not depend on the sort
    algorithm's whims (an unstable sort picks another row of the same minute)."""
    minutes = [(i * 7) % 3 for i in range(50)]
    batch = snap([("AAPL", f"2024-07-05 15:0{m}", float(i)) for i, m in enumerate(minutes)])
    first_of_newest = minutes.index(max(minutes))
    merged = merge_frames(snap([]), batch, SNAPSHOT)
    assert merged.price.tolist() == [float(first_of_newest)]
