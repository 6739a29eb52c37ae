"""What one arrivals-sensor tick costs over a landing zone that already holds N consumed
objects: list requests (S3) or folders read (local), and seconds. Shared by the sensor's
scale test and benchmarks/bench_arrivals.py, so both measure the same ticks."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

import boto3
import dagster as dg

from stock_assets.market.arrivals import ArrivalCursor
from stock_assets.market.landing import encode_micro_batch, micro_batch_key
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.resources.lake import LakeResource, LocalLake, S3Lake, s3_client
from stock_assets.sensors import arrivals_sensor
from stock_assets.settings import Settings
from stock_assets_tests.aws_server import bulk_put_objects, in_process_moto_server

BUCKET = "arrivals-scale"
HISTORY_START = dt.datetime(2026, 1, 5, 14, 30, tzinfo=dt.UTC)  # one object a minute from here
HISTORY_WRITTEN = HISTORY_START + dt.timedelta(days=300)  # when the history was consumed
QUOTED = dt.datetime(2024, 7, 5, 15, tzinfo=dt.UTC)  # the new objects' quotes: a closed session


WARM = 1_000  # history objects present at the warm-up tick (one S3 page)


@dataclass
class TickCosts:
    """The measured ticks (after one warm-up tick) of one zone."""

    history: int
    warmup_calls: int = 0  # the first tick, from a cursor written before the key floor
    calls: int = 0  # list requests (S3) or folders read (local), measured ticks only
    seconds: list[float] = field(default_factory=list)
    landed: list[str] = field(default_factory=list)  # the new objects, one a round
    requested: list[str] = field(default_factory=list)  # object keys runs were requested for


def history_keys(count: int) -> list[str]:
    """The producer's keys for `count` objects, one a minute (date folders, time order)."""
    return [
        micro_batch_key(HISTORY_START + dt.timedelta(minutes=n), 0, "jsonl") for n in range(count)
    ]


class Zone:
    """A lake whose landing zone gets consumed history objects (dated HISTORY_WRITTEN)."""

    lake: LakeResource

    def add_history(self, keys: list[str]) -> None:
        raise NotImplementedError


class S3Zone(Zone):
    def __init__(self) -> None:
        self.lake = S3Lake(bucket=BUCKET, prefix="stock-assets")

    def add_history(self, keys: list[str]) -> None:
        if keys:
            bulk_put_objects(BUCKET, [self.lake.s3_key(k) for k in keys], HISTORY_WRITTEN)


class LocalZone(Zone):
    def __init__(self, root: str) -> None:
        self.lake = LocalLake(root=root)

    def add_history(self, keys: list[str]) -> None:
        stamp = HISTORY_WRITTEN.timestamp()
        for key in keys:
            path = self.lake.uri(key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(b"{}\n")
            os.utime(path, (stamp, stamp))


@contextmanager
def s3_zone() -> Iterator[S3Zone]:
    """A lake in a fresh bucket of an in-process moto server."""
    with in_process_moto_server() as url:
        aws = {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        with mock.patch.dict(os.environ, aws):
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            yield S3Zone()


@contextmanager
def counting_calls(lake: LakeResource) -> Iterator[Callable[[], int]]:
    """Counts ListObjectsV2 requests (S3) or folders read (local) while open."""
    count = 0

    def one_more(*_args: object, **_kwargs: object) -> None:
        nonlocal count
        count += 1

    if isinstance(lake, S3Lake):
        events = s3_client().meta.events
        events.register("before-call.s3.ListObjectsV2", one_more)
        try:
            yield lambda: count
        finally:
            events.unregister("before-call.s3.ListObjectsV2", one_more)
    else:
        real = os.scandir

        def scandir(path):
            one_more()
            return real(path)

        with mock.patch("stock_assets.resources.lake.os.scandir", scandir):
            yield lambda: count


def measure_ticks(zone: Zone, history: int, rounds: int = 3) -> TickCosts:
    """Warm up once, then `rounds` times: land one new object, tick, tick again (nothing new).

    The warm-up starts from the cursor of a sensor that took the history before the key
    floor existed (a watermark past it): its tick lists the zone once and sets the floor.
    Only the newest WARM history objects are there at that tick, the older ones are added
    after it (below the floor, as a year of ticks would have left them): the one full
    listing of 100,000 keys costs 100 requests once, and minutes on moto.
    """
    keys, lake = history_keys(history), zone.lake
    instance = dg.DagsterInstance.ephemeral()  # the daemon's: not built again on each tick
    zone.add_history(keys[-WARM:])
    costs = TickCosts(history=history)
    cursor = ArrivalCursor(watermark=HISTORY_WRITTEN + dt.timedelta(hours=1)).to_json()
    with counting_calls(lake) as calls:
        cursor = _tick(lake, instance, cursor, costs.requested)
        costs.warmup_calls = calls()
    zone.add_history(keys[:-WARM])
    with counting_calls(lake) as calls:
        for n in range(rounds):
            key = micro_batch_key(dt.datetime.now(dt.UTC), n, "jsonl")
            lake.put(key, encode_micro_batch(SimulatedSource().latest_quotes(["AAPL"], QUOTED)))
            costs.landed.append(key)
            for _ in range(2):
                started = time.perf_counter()
                cursor = _tick(lake, instance, cursor, costs.requested)
                costs.seconds.append(time.perf_counter() - started)
        costs.calls = calls()
    return costs


def _tick(
    lake: LakeResource, instance: dg.DagsterInstance, cursor: str | None, requested: list[str]
) -> str | None:
    """One evaluation as the daemon does it: the next cursor; requested keys go to `requested`."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"lake": lake})
    result = arrivals_sensor(Settings())(context)
    if isinstance(result, dg.SkipReason):
        return cursor
    for request in result.run_requests:
        requested.extend(request.run_config["ops"]["stream_assets"]["config"]["object_keys"])
    return result.cursor or cursor
