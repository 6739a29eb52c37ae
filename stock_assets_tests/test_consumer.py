"""The stream consumer: arrivals ingested in one warm process, each object version once."""

import threading

import dagster as dg
import pytest

from stock_assets.consumer import CONSUMER_TAG, CURSOR_KEY, StreamConsumer
from stock_assets.definitions import build_definitions
from stock_assets.market.arrivals import ArrivalCursor, new_arrivals
from stock_assets.market.landing import encode_micro_batch
from stock_assets.sensors import ARRIVALS_SENSOR_NAME, arrival_run_requests
from stock_assets.settings import Settings

QUOTE = {"symbol": "AAPL", "volume": 100, "name": "Apple Inc.", "source": "test"}


@pytest.fixture
def defs(tmp_path) -> dg.Definitions:
    return build_definitions(Settings.from_env({"STOCK_ASSETS_DATA_DIR": str(tmp_path)}))


def _land(defs: dg.Definitions, name: str, prices: list[float]) -> str:
    key = f"landing/quotes/2024/07/05/{name}.jsonl"
    quotes = [
        {**QUOTE, "price": p, "ts": f"2024-07-05T15:{n:02d}:00+00:00"} for n, p in enumerate(prices)
    ]
    defs.resources["lake"].put(key, encode_micro_batch(quotes))
    return key


def _history(defs: dg.Definitions):
    return defs.resources["io_manager"].read("silver.stream_history").sort_values("ts")


def test_a_poll_ingests_new_objects_in_a_recorded_run_and_the_next_poll_none(defs):
    instance = dg.DagsterInstance.ephemeral()
    key = _land(defs, "a", [200.0, 201.5])
    consumer = StreamConsumer(defs, instance, log=lambda _: None)
    (outcome,) = consumer.poll()
    assert outcome.success and outcome.run_id is not None
    history = _history(defs)
    assert history.price.tolist() == [200.0, 201.5]
    assert set(history.object_key) == {key}
    run = instance.get_run_by_id(outcome.run_id)
    assert run.job_name == "stream_ingest_job"
    assert run.tags["dagster/sensor_name"] == ARRIVALS_SENSOR_NAME
    assert run.tags["dagster/run_key"] == outcome.run_key
    assert run.tags[CONSUMER_TAG] == "true"
    assert run.tags["dagster/partition"] == "2024-07-05"
    # Materializations land in the instance as from a daemon-launched run.
    snapshot = instance.fetch_materializations(dg.AssetKey(["gold", "latest_snapshot"]), limit=1)
    assert snapshot.records[0].run_id == outcome.run_id
    assert consumer.poll() == []
    assert instance.get_runs_count() == 1


def test_a_lost_cursor_or_a_crash_before_saving_it_reruns_nothing(defs, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    lake = defs.resources["lake"]
    _land(defs, "a", [200.0])
    first = StreamConsumer(defs, instance, log=lambda _: None)
    saved = type(lake).put

    def crash_on_cursor(self, key, data):
        if key == CURSOR_KEY:
            raise OSError("killed before the cursor was saved")
        return saved(self, key, data)

    monkeypatch.setattr(type(lake), "put", crash_on_cursor)
    with pytest.raises(OSError, match="killed"):
        first.poll()
    monkeypatch.setattr(type(lake), "put", saved)
    assert instance.get_runs_count() == 1
    (outcome,) = StreamConsumer(defs, instance, log=lambda _: None).poll()
    assert outcome.run_id is None  # the batch's run succeeded: skipped
    lake.delete(CURSOR_KEY)
    assert StreamConsumer(defs, instance, log=lambda _: None).poll()[0].run_id is None
    assert instance.get_runs_count() == 1
    assert _history(defs).price.tolist() == [200.0]


def _started_run(defs, instance, run_key: str, tags: dict[str, str]) -> None:
    job = defs.resolve_job_def("stream_ingest_job")
    instance.create_run_for_job(
        job_def=job,
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/run_key": run_key, **tags},
    )


def _run_key_of_next_batch(defs) -> str:
    """The run key the sensor (and so the consumer) gives the landed objects."""
    lake = defs.resources["lake"]
    fresh, _ = new_arrivals(lake.list_objects("landing/quotes/"), ArrivalCursor())
    (request,) = arrival_run_requests(fresh)
    return str(request.run_key)


def test_a_run_left_started_by_a_stopped_consumer_runs_again(defs):
    instance = dg.DagsterInstance.ephemeral()
    _land(defs, "a", [200.0])
    _started_run(defs, instance, _run_key_of_next_batch(defs), {CONSUMER_TAG: "true"})
    (outcome,) = StreamConsumer(defs, instance, log=lambda _: None).poll()
    assert outcome.run_id is not None and outcome.success
    assert _history(defs).price.tolist() == [200.0]


def test_a_batch_a_daemon_launched_run_is_executing_is_left_to_it(defs):
    instance = dg.DagsterInstance.ephemeral()
    _land(defs, "a", [200.0])
    _started_run(defs, instance, _run_key_of_next_batch(defs), {})
    (outcome,) = StreamConsumer(defs, instance, log=lambda _: None).poll()
    assert outcome.run_id is None
    assert _history(defs).empty


def test_a_failing_poll_is_logged_and_the_next_one_ingests(defs, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    _land(defs, "a", [200.0])
    lines: list[str] = []
    consumer = StreamConsumer(defs, instance, log=lines.append)
    listing = type(consumer.lake).list_objects
    stop = threading.Event()
    calls = []

    def flaky(self, prefix, start_after=None):
        calls.append(prefix)
        if len(calls) == 1:
            raise ConnectionError("lake unreachable")
        if len(calls) == 3:
            stop.set()
        return listing(self, prefix, start_after)

    monkeypatch.setattr(type(consumer.lake), "list_objects", flaky)
    consumer.run_forever(0.01, stop)
    assert "lake unreachable" in lines[0]
    assert _history(defs).price.tolist() == [200.0]
    assert instance.get_runs_count() == 1


@pytest.mark.parametrize(("value", "status"), [("on", "STOPPED"), ("off", "RUNNING")])
def test_with_the_consumer_on_the_arrivals_sensor_starts_stopped(value, status):
    defs = build_definitions(Settings.from_env({"STOCK_ASSETS_STREAM_CONSUMER": value}))
    sensor = defs.resolve_sensor_def(ARRIVALS_SENSOR_NAME)
    assert sensor.default_status == getattr(dg.DefaultSensorStatus, status)


def test_a_consumer_setting_other_than_on_or_off_is_refused():
    with pytest.raises(ValueError, match="STOCK_ASSETS_STREAM_CONSUMER='yes'"):
        Settings.from_env({"STOCK_ASSETS_STREAM_CONSUMER": "yes"})
