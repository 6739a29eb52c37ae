"""Landing objects -> sensor -> run -> silver.stream_history / gold.latest_snapshot.

Every test runs twice: on the local lake folder and on S3 (moto's server on loopback).
"""

import datetime as dt
import gzip
import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from stock_assets.assets.snapshot import latest_snapshot
from stock_assets.assets.stream import stream_assets
from stock_assets.market import calendar, routing
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets_tests.conftest import local_resources, sense

DAY = dt.date(2024, 7, 5)
SYMBOLS = ["AAPL", "MSFT", "TMUS"]


def quotes_at(hour: int, minute: int) -> list[dict]:
    as_of = dt.datetime(2024, 7, 5, hour, minute, tzinfo=dt.UTC)
    return SimulatedSource().latest_quotes(SYMBOLS, as_of)


class Harness:
    """Evaluates the sensor like the daemon does and executes what it requests."""

    def __init__(self, home: Path, lake):
        self.home, self.lake, self.cursor = home, lake, None
        self.run_keys: set[str] = set()
        self.results: list[dg.ExecuteInProcessResult] = []
        self.instance = dg.DagsterInstance.ephemeral()  # one instance for every run, as deployed

    def tick(self) -> list[dg.RunRequest]:
        """Ticks until the runs' late-quotes objects (quotes of days other than their runs')
        have runs too; the requests of every tick."""
        requests = []
        while True:
            result = sense(self.lake, self.cursor, self.instance)
            if isinstance(result, dg.SkipReason):
                return requests
            self.cursor = result.cursor
            requests += result.run_requests
            # The daemon drops a request whose run key already ran for this sensor.
            fresh = [r for r in result.run_requests if r.run_key not in self.run_keys]
            for request in fresh:
                self.run_keys.add(request.run_key)
                self.execute(request)
            if not fresh:
                return requests

    def execute(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        resources = {**local_resources(self.home), "lake": self.lake}
        result = dg.materialize(
            [stream_assets, latest_snapshot],
            resources=resources,
            run_config=request.run_config,
            partition_key=request.partition_key,
            tags=request.tags,
            instance=self.instance,
        )
        assert result.success
        self.results.append(result)
        return result

    def check_results(self) -> list[dg.AssetCheckEvaluation]:
        """The stream runs' own check results (the rejects check), in run order."""
        return [e for result in self.results for e in result.get_asset_check_evaluations()]

    def table(self, name: str) -> pd.DataFrame:
        with duckdb.connect(str(self.home / "warehouse.duckdb"), read_only=True) as conn:
            return conn.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchdf()


def put(lake, key: str, quotes: list[dict], fmt: str = "jsonl") -> None:
    lake.put(key, encode_micro_batch(quotes, fmt))


def test_every_good_record_lands_exactly_once_and_snapshot_is_newest(data_home, lake):
    harness = Harness(data_home, lake)
    batches = {f"landing/quotes/2024/07/05/b{i}.jsonl": quotes_at(14, 30 + i) for i in range(4)}
    for key, quotes in batches.items():
        put(lake, key, quotes)
    requests = harness.tick()
    assert len(requests) == 1 and requests[0].partition_key == "2024-07-05"
    assert sorted(
        requests[0].run_config["ops"]["stream_assets"]["config"]["object_keys"]
    ) == sorted(batches)

    history = harness.table("silver.stream_history")
    expected = {
        (q["symbol"], pd.Timestamp(q["ts"]).tz_localize(None))
        for qs in batches.values()
        for q in qs
    }
    assert len(history) == len(expected) == 12
    assert {(r.symbol, r.ts) for r in history.itertuples()} == expected
    assert set(history.object_key) == set(batches)
    assert (history.trade_date.dt.date == DAY).all()
    (clean,) = harness.check_results()
    assert clean.passed and clean.metadata["rejected_records"].value == 0

    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    newest = {q["symbol"]: q for q in batches["landing/quotes/2024/07/05/b3.jsonl"]}
    assert sorted(snapshot.index) == SYMBOLS
    for symbol, quote in newest.items():
        assert snapshot.loc[symbol, "price"] == quote["price"]
        assert snapshot.loc[symbol, "ts"] == pd.Timestamp(quote["ts"]).tz_localize(None)

    # Listing again changes nothing: no request, no new rows.
    assert harness.tick() == []
    assert len(harness.table("silver.stream_history")) == 12


def test_redelivery_duplicates_and_lost_cursor_never_duplicate_rows(data_home, lake):
    harness = Harness(data_home, lake)
    quotes = quotes_at(15, 0)
    put(lake, "landing/quotes/2024/07/05/a.jsonl", quotes)
    harness.tick()
    # The same quotes delivered again under another key, and as a JSON array.
    put(lake, "landing/quotes/2024/07/05/copy-of-a.json", quotes, fmt="json")
    assert len(harness.tick()) == 1
    # The cursor is lost (e.g. reset): every object is listed as new again; run keys repeat...
    harness.cursor = None
    again = harness.tick()
    assert again and all(r.run_key in harness.run_keys for r in again)
    # ...and even executing those requests once more adds nothing.
    for request in again:
        harness.execute(request)
    assert len(harness.table("silver.stream_history")) == len(quotes)


def test_rewritten_key_with_new_content_is_processed_again(data_home, lake):
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/2024/07/05/rolling.jsonl", quotes_at(14, 0))
    first = harness.tick()
    put(lake, "landing/quotes/2024/07/05/rolling.jsonl", quotes_at(14, 1))
    second = harness.tick()
    assert len(second) == 1 and second[0].run_key != first[0].run_key
    assert len(harness.table("silver.stream_history")) == 2 * len(SYMBOLS)


def test_late_older_file_never_overwrites_a_newer_price(data_home, lake):
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/newer.jsonl", quotes_at(19, 55))
    harness.tick()
    put(lake, "landing/quotes/older.jsonl", quotes_at(14, 0))
    harness.tick()
    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    for quote in quotes_at(19, 55):
        assert snapshot.loc[quote["symbol"], "price"] == quote["price"]
    assert len(harness.table("silver.stream_history")) == 2 * len(SYMBOLS)


def test_late_file_for_an_earlier_day_lands_in_that_days_partition(data_home, lake):
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/2024/07/05/today.jsonl", quotes_at(15, 0))
    earlier = SimulatedSource().latest_quotes(SYMBOLS, dt.datetime(2024, 7, 3, 15, tzinfo=dt.UTC))
    late_source = "landing/quotes/2024/07/05/late.jsonl"  # filed under the day it arrived
    put(lake, late_source, earlier + quotes_at(15, 5))
    requests = harness.tick()

    # Routed by key: one run for 5 July; its quotes of 3 July went back to the landing zone
    # as a late-quotes object, which the next tick ran in 3 July's partition.
    assert [r.partition_key for r in requests] == ["2024-07-05", "2024-07-03"]
    (relanded,) = snapshot_metadata(harness.results[0], "stream_history")["late_quotes_objects"]
    assert routing.key_day(relanded) == dt.date(2024, 7, 3)
    assert relanded.startswith(routing.LATE_QUOTES_PREFIX)  # apart from the arrivals' keys
    assert requests[1].run_config["ops"]["stream_assets"]["config"]["object_keys"] == [relanded]
    history = harness.table("silver.stream_history")
    days = history.trade_date.dt.date.value_counts()
    assert days[dt.date(2024, 7, 3)] == 3 and days[DAY] == 6 and len(history) == 9
    by_day = history.groupby(history.trade_date.dt.date).object_key.unique()
    assert list(by_day[dt.date(2024, 7, 3)]) == [relanded]
    assert sorted(by_day[DAY]) == sorted([late_source, "landing/quotes/2024/07/05/today.jsonl"])
    stored = {(r.symbol, r.ts, r.price) for r in history.itertuples()}
    assert stored >= {
        (q["symbol"], pd.Timestamp(q["ts"]).tz_localize(None), q["price"]) for q in earlier
    }

    # Nothing runs twice: a lost cursor lists every object again under the same run keys.
    harness.cursor = None
    assert all(
        r.run_key in harness.run_keys for r in sense(lake, None, harness.instance).run_requests
    )


def test_bad_records_are_rejected_and_unparseable_files_quarantined(data_home, lake):
    harness = Harness(data_home, lake)
    good = quotes_at(15, 0)
    lines = [json.dumps(q) for q in good]
    lines.insert(1, '{"symbol": "../etc", "price": 1, "ts": "2024-07-05T15:00:00Z"}')
    lines.insert(2, '{"symbol": "AAPL", "price": -4, "ts": "2024-07-05T15:00:00Z"}')
    lines.insert(3, '{"symbol": "MSFT", "price": 10, "ts": "2024-07-05T15:00')
    lake.put("landing/quotes/2024/07/05/mixed.jsonl", ("\n".join(lines) + "\n").encode())
    lake.put("landing/quotes/2024/07/05/broken.json", b'[{"symbol": "AAPL", "price": 1,')
    csv_body = (
        b"symbol,price,ts,volume,name\n"
        b'TMUS,181.5,2024-07-05T15:10:00+00:00,100,"T-Mobile US, Inc."\n'
    )
    lake.put("landing/quotes/2024/07/05/tmus.csv", csv_body)
    harness.tick()

    history = harness.table("silver.stream_history")
    assert len(history) == len(good) + 1  # good records of mixed.jsonl + the CSV row
    tmus = history[history.object_key == "landing/quotes/2024/07/05/tmus.csv"].iloc[0]
    assert (tmus.symbol, tmus.price, tmus.volume, tmus["name"]) == (
        "TMUS",
        181.5,
        100,
        "T-Mobile US, Inc.",
    )

    meta = [r.asset_materializations_for_node("stream_assets") for r in harness.results]
    history_meta = [
        m.metadata for ms in meta for m in ms if m.asset_key.path[-1] == "stream_history"
    ]
    assert sum(m["rejected_records"].value for m in history_meta) == 3
    messages = [s for m in history_meta for s in m["rejected_sample"].value]
    assert any("mixed.jsonl record 2" in s and "symbol" in s for s in messages)
    assert any("mixed.jsonl record 3" in s and "price" in s for s in messages)
    report = json.loads(
        lake.get("quarantine/rejected_records/landing/quotes/2024/07/05/mixed.jsonl.json")
    )
    assert len(report["rejected"]) == 3

    assert [o.key for o in lake.list_objects("landing/quotes") if "broken" in o.key] == []
    assert (
        lake.get("quarantine/landing/quotes/2024/07/05/broken.json")
        == b'[{"symbol": "AAPL", "price": 1,'
    )
    quarantine_report = json.loads(
        lake.get("quarantine/landing/quotes/2024/07/05/broken.json.report.json")
    )
    assert (
        quarantine_report["key"] == "landing/quotes/2024/07/05/broken.json"
        and quarantine_report["reason"]
    )

    # The runs are visibly not clean: a failed WARN check with the counts and the reports.
    failed = [e for e in harness.check_results() if not e.passed]
    assert failed and {e.severity for e in failed} == {dg.AssetCheckSeverity.WARN}
    assert sum(e.metadata["rejected_records"].value for e in failed) == 3
    assert sum(e.metadata["quarantined_objects"].value for e in failed) == 1
    reports = {uri for e in failed for uri in e.metadata["reports"].value}
    assert reports == {
        lake.uri("quarantine/rejected_records/landing/quotes/2024/07/05/mixed.jsonl.json"),
        lake.uri("quarantine/landing/quotes/2024/07/05/broken.json.report.json"),
    }


def test_an_object_gone_before_its_run_is_reported_not_fatal(data_home, lake):
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/2024/07/05/kept.jsonl", quotes_at(15, 0))
    put(lake, "landing/quotes/2024/07/05/vanishing.jsonl", quotes_at(15, 1))
    (request,) = sense(lake).run_requests
    lake.move("landing/quotes/2024/07/05/vanishing.jsonl", "elsewhere/vanishing.jsonl")
    result = harness.execute(request)
    (history,) = [
        m
        for m in result.asset_materializations_for_node("stream_assets")
        if m.asset_key.path[-1] == "stream_history"
    ]
    assert history.metadata["missing_objects"].value == [
        "landing/quotes/2024/07/05/vanishing.jsonl"
    ]
    assert len(harness.table("silver.stream_history")) == len(SYMBOLS)


def snapshot_metadata(result: dg.ExecuteInProcessResult, table: str = "latest_snapshot") -> dict:
    node = "gold__latest_snapshot" if table == "latest_snapshot" else "stream_assets"
    (materialization,) = [
        m for m in result.asset_materializations_for_node(node) if m.asset_key.path[-1] == table
    ]
    return {name: value.value for name, value in materialization.metadata.items()}


def test_history_metadata_counts_the_partition_after_the_merge(data_home, lake):
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/first.jsonl", quotes_at(15, 0))
    harness.tick()
    put(lake, "landing/quotes/second.jsonl", quotes_at(15, 1))
    harness.tick()
    meta = snapshot_metadata(harness.results[-1], "stream_history")
    assert meta["batch_rows"] == len(SYMBOLS)  # what this run brought
    assert meta["dagster/partition_row_count"] == 2 * len(SYMBOLS)  # what the day now holds
    assert len(harness.table("silver.stream_history")) == 2 * len(SYMBOLS)


def test_snapshot_metadata_describes_the_table_after_the_merge(data_home, lake):
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/first.jsonl", quotes_at(15, 0))  # three symbols
    harness.tick()
    one = SimulatedSource().latest_quotes(["AAPL"], dt.datetime(2024, 7, 5, 16, tzinfo=dt.UTC))
    put(lake, "landing/quotes/second.jsonl", one)  # moves one of them
    harness.tick()
    meta = snapshot_metadata(harness.results[-1])
    table = harness.table("gold.latest_snapshot")
    assert meta["dagster/row_count"] == len(table) == len(SYMBOLS)
    assert meta["dagster/table_name"] == "gold.latest_snapshot"
    assert meta["symbols"] == ", ".join(SYMBOLS)
    # The preview is the table's content: every symbol at its stored price.
    preview = [row.split(" | ") for row in meta["preview"].splitlines()[2:]]
    shown = {cells[0].removeprefix("| "): float(cells[2]) for cells in preview}
    stored = dict(zip(table.symbol, table.price, strict=True))
    assert shown.keys() == stored.keys()
    assert all(abs(shown[s] - stored[s]) <= 5e-5 for s in stored)
    assert stored["AAPL"] == one[0]["price"]


def test_snapshot_is_merged_into_the_stored_table_whatever_the_instance_recorded(data_home, lake):
    """The stored snapshot comes from the warehouse (the IO manager's read), not from the
    Dagster instance's history: a run on a fresh instance still describes the whole table."""
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/first.jsonl", quotes_at(15, 0))  # three symbols
    harness.tick()
    harness.instance = dg.DagsterInstance.ephemeral()  # e.g. a new deployment's instance
    one = SimulatedSource().latest_quotes(["AAPL"], dt.datetime(2024, 7, 5, 16, tzinfo=dt.UTC))
    put(lake, "landing/quotes/second.jsonl", one)
    harness.tick()
    meta = snapshot_metadata(harness.results[-1])
    assert meta["dagster/row_count"] == len(SYMBOLS)
    assert meta["symbols"] == ", ".join(SYMBOLS)


def test_materialize_without_config_rescans_the_landing_zone(data_home, lake):
    batches = {f"landing/quotes/manual/b{i}.jsonl": quotes_at(14, 30 + i) for i in range(2)}
    for key, quotes in batches.items():
        put(lake, key, quotes)
    expected = {
        (q["symbol"], pd.Timestamp(q["ts"]).tz_localize(None))
        for quotes in batches.values()
        for q in quotes
    }
    resources = {**local_resources(data_home), "lake": lake}
    for _ in range(2):  # a second rescan adds nothing
        result = dg.materialize(
            [stream_assets, latest_snapshot], resources=resources, partition_key=DAY.isoformat()
        )
        assert result.success
        harness = Harness(data_home, lake)
        history = harness.table("silver.stream_history")
        assert {(r.symbol, r.ts) for r in history.itertuples()} == expected
        assert len(history) == len(expected)
        snapshot = harness.table("gold.latest_snapshot")
        assert dict(zip(snapshot.symbol, snapshot.ts, strict=True)) == {
            q["symbol"]: pd.Timestamp(q["ts"]).tz_localize(None) for q in batches[max(batches)]
        }


def test_the_snapshot_alone_catches_up_with_the_stored_quotes_of_the_latest_session(
    data_home, lake, monkeypatch
):
    """Materialized on its own (the UI, no partition), the snapshot moves to the newest
    stored quotes of the latest session, also those of a run whose snapshot step never ran."""
    monkeypatch.setattr(calendar, "utc_now", lambda: dt.datetime(2024, 7, 5, 21, tzinfo=dt.UTC))
    harness = Harness(data_home, lake)
    put(lake, "landing/quotes/first.jsonl", quotes_at(15, 0))
    harness.tick()
    later = quotes_at(15, 1)
    put(lake, "landing/quotes/second.jsonl", later)
    resources = {**local_resources(data_home), "lake": lake}
    config = {
        "ops": {"stream_assets": {"config": {"object_keys": ["landing/quotes/second.jsonl"]}}}
    }
    assert dg.materialize(
        [stream_assets], resources=resources, run_config=config, partition_key=DAY.isoformat()
    ).success
    assert dg.materialize([latest_snapshot], resources=resources).success
    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    assert snapshot.price.to_dict() == {q["symbol"]: q["price"] for q in later}


def test_firehose_objects_land_exactly_once(data_home, lake):
    # Firehose writes records back to back without newlines, optionally GZIP-compressed.
    harness = Harness(data_home, lake)
    plain, packed = quotes_at(15, 10), quotes_at(15, 11)
    records = [encode_micro_batch(q).replace(b"\n", b"") for q in (plain, packed)]
    prefix = "landing/quotes/2024/07/05/15/stream-1-2024-07-05-15-1"
    lake.put(f"{prefix}0-00-7f3a", records[0])
    lake.put(f"{prefix}1-00-91bc.gz", gzip.compress(records[1]))
    (request,) = harness.tick()
    assert request.partition_key == "2024-07-05"
    assert harness.tick() == []  # listed again: nothing new
    history = harness.table("silver.stream_history")
    assert len(history) == len(plain) + len(packed) == 2 * len(SYMBOLS)
    assert not history.duplicated(["symbol", "ts"]).any()
    assert [o.key for o in lake.list_objects("quarantine")] == []


def bare(quotes: list[dict], *omitted: str) -> list[dict]:
    """The quotes without the `omitted` fields (a source that sends only some of them)."""
    return [{k: v for k, v in q.items() if k not in omitted} for q in quotes]


def test_a_quote_without_name_or_change_keeps_the_last_known_values(data_home, lake):
    harness = Harness(data_home, lake)
    named = quotes_at(15, 0)
    put(lake, "landing/quotes/named.jsonl", named)
    harness.tick()
    later = quotes_at(15, 1)
    put(lake, "landing/quotes/bare.jsonl", bare(later, "name", "change", "change_pct", "volume"))
    harness.tick()
    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    for before, now in zip(named, later, strict=True):
        row = snapshot.loc[now["symbol"]]
        assert row.price == now["price"]  # the row moved to the bare quote...
        assert row.ts == pd.Timestamp(now["ts"]).tz_localize(None)
        # ...and kept what it omits: the name, and the session's change and volume so far.
        assert row["name"] == before["name"]
        assert (row.change, row.change_pct) == (before["change"], before["change_pct"])
        assert row.volume == before["volume"]
    # Within one file too: the newest quote omits the name an earlier quote gave.
    one = SimulatedSource().latest_quotes(["AAPL"], dt.datetime(2024, 7, 5, 15, 2, tzinfo=dt.UTC))
    newer = SimulatedSource().latest_quotes(["AAPL"], dt.datetime(2024, 7, 5, 15, 3, tzinfo=dt.UTC))
    put(
        lake,
        "landing/quotes/2024/07/05/mixed.jsonl",
        [*bare(newer, "name"), {**one[0], "name": "Apple X"}],
    )
    harness.tick()
    assert harness.table("gold.latest_snapshot").set_index("symbol").loc["AAPL", "name"] == (
        "Apple X"
    )


def test_snapshot_volume_is_the_sessions_and_resets_on_a_new_session(data_home, lake):
    harness = Harness(data_home, lake)
    friday = quotes_at(19, 55)
    put(lake, "landing/quotes/friday.jsonl", friday)
    harness.tick()
    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    assert [snapshot.loc[q["symbol"], "volume"] for q in friday] == [q["volume"] for q in friday]

    # Monday's first quotes omit volume and change: Friday's figures are not Monday's.
    monday = SimulatedSource().latest_quotes(
        SYMBOLS, dt.datetime(2024, 7, 8, 13, 31, tzinfo=dt.UTC)
    )
    put(lake, "landing/quotes/monday.jsonl", bare(monday, "volume", "change", "change_pct"))
    harness.tick()
    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    assert snapshot.volume.isna().all() and snapshot.change.isna().all()
    assert snapshot.change_pct.isna().all()
    assert list(snapshot.loc[SYMBOLS, "name"]) == [q["name"] for q in friday]  # names stay

    later = SimulatedSource().latest_quotes(SYMBOLS, dt.datetime(2024, 7, 8, 13, 40, tzinfo=dt.UTC))
    put(lake, "landing/quotes/monday-later.jsonl", later)
    harness.tick()
    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    assert [snapshot.loc[q["symbol"], "volume"] for q in later] == [q["volume"] for q in later]
    assert all(q["volume"] < f["volume"] for q, f in zip(later, friday, strict=True))


def test_a_snapshot_stored_before_the_new_columns_gets_them(data_home, lake):
    """A warehouse from before gold.latest_snapshot had volume and last_signal*: the next
    run adds them (NULL for the rows it does not move) and fills them for the rows it does."""
    with duckdb.connect(str(data_home / "warehouse.duckdb")) as conn:
        conn.execute("CREATE SCHEMA gold")
        conn.execute(
            "CREATE TABLE gold.latest_snapshot (symbol VARCHAR, ts TIMESTAMP, price DOUBLE, "
            "change DOUBLE, change_pct DOUBLE, name VARCHAR, updated_at TIMESTAMP)"
        )
        conn.execute(
            "INSERT INTO gold.latest_snapshot VALUES "
            "('IBM', '2024-07-05 14:00', 170, 1, 0.5, 'IBM', '2024-07-05 14:00')"
        )
    harness = Harness(data_home, lake)
    quotes = quotes_at(15, 0)
    put(lake, "landing/quotes/first.jsonl", quotes)
    harness.tick()
    snapshot = harness.table("gold.latest_snapshot").set_index("symbol")
    assert sorted(snapshot.index) == sorted([*SYMBOLS, "IBM"])
    assert pd.isna(snapshot.loc["IBM", "volume"]) and snapshot.loc["IBM", "price"] == 170
    assert [snapshot.loc[q["symbol"], "volume"] for q in quotes] == [q["volume"] for q in quotes]
