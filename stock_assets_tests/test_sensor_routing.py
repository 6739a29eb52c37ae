"""Landing objects routed to trading-day partitions by the arrivals sensor."""

import datetime as dt

import dagster as dg

from stock_assets.definitions import build_definitions
from stock_assets.market.arrivals import ObjectInfo
from stock_assets.market.landing import encode_micro_batch
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.lake import LocalLake
from stock_assets.sensors import MAX_HOLD, arrival_run_requests, waiting_stream_run
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


def test_a_holiday_only_object_runs_in_the_session_it_arrived_on(tmp_path):
    # Every quote is dated 4 July 2024 (NYSE closed); the object arrived on 5 July.
    lake = LocalLake(root=str(tmp_path))
    key = "landing/quotes/2024/07/04/holiday.jsonl"
    quotes = [{**QUOTE, "ts": f"2024-07-04T15:0{n}:00+00:00"} for n in range(3)]
    body = encode_micro_batch(quotes, "jsonl")
    lake.put(key, body)
    arrived = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    (request,) = arrival_run_requests(lake, [ObjectInfo(key, arrived, "v1", len(body))])
    assert request.partition_key == "2024-07-05"
    assert request.partition_key in TRADING_DAYS.get_partition_keys()


def test_an_object_of_one_session_runs_in_that_session(tmp_path):
    lake = LocalLake(root=str(tmp_path))
    key = "landing/quotes/2024/07/03/late.jsonl"
    body = encode_micro_batch([{**QUOTE, "ts": "2024-07-03T15:00:00+00:00"}], "jsonl")
    lake.put(key, body)
    arrived = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    (request,) = arrival_run_requests(lake, [ObjectInfo(key, arrived, "v1", len(body))])
    assert request.partition_key == "2024-07-03"


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
