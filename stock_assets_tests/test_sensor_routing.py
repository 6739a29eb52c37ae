"""Landing objects routed to trading-day partitions by the arrivals sensor."""

import datetime as dt
import os

import dagster as dg

from stock_assets.definitions import build_definitions
from stock_assets.market import routing
from stock_assets.market.arrivals import ArrivalCursor, ObjectInfo
from stock_assets.market.landing import encode_micro_batch
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.lake import LocalLake
from stock_assets.sensors import (
    MAX_BYTES_PER_RUN,
    MAX_HOLD,
    LandingCursor,
    arrival_run_requests,
    waiting_stream_run,
)
from stock_assets.settings import Settings
from stock_assets_tests.conftest import sense

QUOTE = {
    "symbol": "AAPL",
    "price": 200.0,
    "volume": 100,
    "change": 1.0,
    "change_pct": 0.5,
    "name": "Apple Inc.",
    "source": "test",
}


class UnreadableLake(LocalLake):
    """A lake whose objects cannot be read: routing must come from the listing alone."""

    def get(self, key: str) -> bytes:
        raise AssertionError(f"the sensor read {key}")


def _routed(key: str, arrived: dt.datetime, size: int = 100) -> list[str | None]:
    requests = arrival_run_requests([ObjectInfo(key, arrived, "v1", size)])
    return [r.partition_key for r in requests]


ARRIVED = dt.datetime(2024, 7, 9, 15, 0, tzinfo=dt.UTC)  # a Tuesday


def test_objects_are_routed_from_their_listing_without_reading_them(tmp_path):
    lake = UnreadableLake(root=str(tmp_path))
    keys = ["landing/quotes/2024/07/05/a.jsonl", "landing/quotes/2024/07/08/b.jsonl"]
    for key in keys:
        lake.put(key, encode_micro_batch([{**QUOTE, "ts": "2024-07-01T15:00:00+00:00"}]))
    result = sense(lake)
    assert sorted(r.partition_key for r in result.run_requests) == ["2024-07-05", "2024-07-08"]


def test_a_key_names_its_day_by_producer_instant_firehose_hour_or_date_folder():
    # 00:30 UTC on 9 July is 20:30 on 8 July in New York: the session of 8 July.
    assert _routed("landing/quotes/2024/07/09/quotes-20240709T003000Z-000001.jsonl", ARRIVED) == [
        "2024-07-08"
    ]
    assert _routed("landing/quotes/fh/2024/07/09/00/quotes-1-2024-07-09-00-30-00-x", ARRIVED) == [
        "2024-07-08"
    ]
    assert _routed("landing/quotes/drops/2024/07/03/file.csv", ARRIVED) == ["2024-07-03"]
    # A rule whose digits are no instant gives way to the next one.
    assert _routed("landing/quotes/2024/07/03/quotes-20241399T250000Z-1.jsonl", ARRIVED) == [
        "2024-07-03"
    ]
    late = routing.late_quotes_key(ARRIVED, dt.date(2024, 7, 1), "0123456789abcdef")
    assert _routed(late, ARRIVED) == ["2024-07-01"]


def test_an_undated_key_runs_in_the_session_it_arrived_in_new_york():
    assert _routed("landing/quotes/manual.csv", ARRIVED) == ["2024-07-09"]
    # 01:00 UTC on Saturday is Friday evening in New York.
    assert _routed("landing/quotes/manual.csv", dt.datetime(2024, 7, 6, 1, tzinfo=dt.UTC)) == [
        "2024-07-05"
    ]


def test_a_closed_day_is_routed_to_the_session_before_it():
    # 4 July 2024: NYSE closed. The run of 3 July rejects its quotes, with that reason.
    assert _routed("landing/quotes/2024/07/04/holiday.jsonl", ARRIVED) == ["2024-07-03"]
    assert _routed("landing/quotes/2024/07/07/sunday.jsonl", ARRIVED) == ["2024-07-05"]
    assert "2024-07-03" in TRADING_DAYS.get_partition_keys()


def test_a_day_beyond_the_partitions_is_routed_to_the_nearest_one():
    first = TRADING_DAYS.get_first_partition_key()
    assert _routed("landing/quotes/1999/01/04/old.jsonl", ARRIVED) == [first]


def test_a_days_objects_are_split_into_runs_of_bounded_size():
    objects = [
        ObjectInfo(f"landing/quotes/2024/07/05/{n}.jsonl", ARRIVED, "v1", MAX_BYTES_PER_RUN // 2)
        for n in range(5)
    ]
    requests = arrival_run_requests(objects)
    assert [r.tags["stock_assets/objects"] for r in requests] == ["2", "2", "1"]
    covered = [key for r in requests for key in _keys(r)]
    assert covered == [o.key for o in objects]
    assert len({r.run_key for r in requests}) == 3


def _stream_run(instance, status):
    """A stream ingestion run in `status`, as the daemon leaves one between request and end."""
    job = build_definitions(Settings()).resolve_job_def("stream_ingest_job")
    return instance.create_run_for_job(job_def=job, status=status)


def _put(lake, name: str, minute: int) -> str:
    key = f"landing/quotes/2024/07/05/{name}.jsonl"
    lake.put(key, encode_micro_batch([{**QUOTE, "ts": f"2024-07-05T15:{minute:02d}:00+00:00"}]))
    return key


def _keys(request) -> list[str]:
    return request.run_config["ops"]["stream_assets"]["config"]["object_keys"]


def test_objects_wait_for_a_run_not_started_yet_and_then_go_in_one_run(tmp_path):
    lake, instance = LocalLake(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    _put(lake, "a", 0)
    first = sense(lake, instance=instance)
    (request,) = first.run_requests
    queued = _stream_run(instance, dg.DagsterRunStatus.NOT_STARTED)

    later = [_put(lake, "b", 1), _put(lake, "c", 2)]
    held = sense(lake, first.cursor, instance)
    assert isinstance(held, dg.SkipReason)
    assert queued.run_id in held.skip_message and "2 new objects" in held.skip_message

    instance.report_run_canceled(queued)  # it ended: the held objects go, in one run
    (joined,) = sense(lake, first.cursor, instance).run_requests
    assert sorted(_keys(joined)) == sorted(later)
    assert joined.run_key != request.run_key


def test_a_run_already_executing_does_not_hold_new_objects(tmp_path):
    lake, instance = LocalLake(root=str(tmp_path)), dg.DagsterInstance.ephemeral()
    _stream_run(instance, dg.DagsterRunStatus.STARTED)
    key = _put(lake, "a", 0)
    (request,) = sense(lake, instance=instance).run_requests
    assert _keys(request) == [key]


def test_a_run_waiting_longer_than_the_hold_limit_no_longer_holds():
    instance = dg.DagsterInstance.ephemeral()
    run = _stream_run(instance, dg.DagsterRunStatus.STARTING)
    now = dt.datetime.now(dt.UTC)
    assert waiting_stream_run(instance, now) == run.run_id
    assert waiting_stream_run(instance, now + MAX_HOLD + dt.timedelta(seconds=1)) is None


def test_a_cursor_written_before_the_late_prefix_keeps_its_floor_for_landing_quotes():
    old = ArrivalCursor(watermark=ARRIVED, start_after="landing/quotes/2024/07/05/z.jsonl")
    cursor = LandingCursor.from_json(old.to_json())
    assert cursor.by_prefix == (old, ArrivalCursor())
    assert LandingCursor.from_json(cursor.to_json()) == cursor


def test_late_quotes_are_listed_with_a_key_floor_of_their_own(tmp_path):
    # Arrivals under a sub-prefix sort after every date-named key: had late objects shared
    # their listing, the floor (past the settled first arrival) would hide them.
    lake = LocalLake(root=str(tmp_path))
    now = dt.datetime.now(dt.UTC)
    for n, written in enumerate((now - dt.timedelta(minutes=10), now)):
        key = f"landing/quotes/fh/2024/07/09/14/batch-{n}"
        lake.put(key, encode_micro_batch([{**QUOTE, "ts": f"2024-07-09T14:0{n}:00+00:00"}]))
        os.utime(lake.uri(key), (written.timestamp(), written.timestamp()))
    first = sense(lake)
    assert len(first.run_requests) == 1
    floor = LandingCursor.from_json(first.cursor).by_prefix[0].start_after
    assert floor == "landing/quotes/fh/2024/07/09/14/batch-0"
    late = routing.late_quotes_key(now, dt.date(2024, 7, 3), "a" * 16)
    lake.put(late, encode_micro_batch([{**QUOTE, "ts": "2024-07-03T15:00:00+00:00"}]))
    (again,) = sense(lake, first.cursor).run_requests
    assert (_keys(again), again.partition_key) == ([late], "2024-07-03")
