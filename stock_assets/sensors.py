"""Sensors: landing-zone arrivals (S3 or the local folder) start stream ingestion runs."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass

import dagster as dg

from stock_assets.assets.intraday import INTRADAY_BARS_KEY
from stock_assets.assets.live import LIVE_SIGNALS_KEY
from stock_assets.assets.snapshot import SNAPSHOT_KEY
from stock_assets.assets.stream import ARRIVAL_PREFIXES, HISTORY_KEY, LandingBatchConfig
from stock_assets.market.arrivals import ArrivalCursor, ObjectInfo, new_arrivals, run_key
from stock_assets.market.routing import route_day
from stock_assets.partitions import partition_span
from stock_assets.resources.lake import LakeResource
from stock_assets.run_policy import OP_RETRY_POLICY, STREAM_TASK
from stock_assets.settings import Settings

ARRIVALS_SENSOR_NAME = "landing_arrivals_sensor"
MAX_OBJECTS_PER_TICK = 500
# A stream run holds its objects and their parse in memory (STREAM_TASK: 2 GiB on ECS).
MAX_BYTES_PER_RUN = 128 * 1024 * 1024
# Runs of the stream job that exist but are not executing yet: queued, or their process is
# starting. While one waits, new objects wait for the next tick and join a single run.
_WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]
# A run waiting longer than this is stuck (run monitoring fails it eventually): stop holding.
MAX_HOLD = dt.timedelta(minutes=3)


def daemon_minimum_interval(cadence_seconds: int) -> int:
    """The ``minimum_interval_seconds`` that makes the daemon evaluate every `cadence_seconds`.

    The daemon skips a sensor whose last tick started less than minimum_interval_seconds ago,
    and a tick starts a few milliseconds after its loop wakes. At the wake-up exactly one
    cadence later the elapsed time is therefore just under it, and the tick waits a whole
    extra loop: a 5 s interval ticks every 10 s and 10 s every 15 s. A second less keeps the
    configured cadence (for multiples of the daemon's 5 s loop, which nothing can beat).
    """
    if cadence_seconds < 1:
        raise ValueError(f"a sensor interval must be at least 1 s, got {cadence_seconds}")
    return max(1, cadence_seconds - 1)


stream_ingest_job = dg.define_asset_job(
    name="stream_ingest_job",
    selection=dg.AssetSelection.assets(
        HISTORY_KEY, SNAPSHOT_KEY, INTRADAY_BARS_KEY, LIVE_SIGNALS_KEY
    ),
    description=(
        "Append landing objects to silver.stream_history, rewrite the one-minute bars their "
        "quotes touch, detect live signals, then move the latest snapshot (with those signals)."
    ),
    # One step: running it in the run's own process saves a Python start-up per arrival.
    executor_def=dg.in_process_executor,
    tags=STREAM_TASK,
    op_retry_policy=OP_RETRY_POLICY,
)


def arrival_run_requests(objects: list[ObjectInfo]) -> list[dg.RunRequest]:
    """Runs for new objects, routed from their listing alone (market/routing.py): one per
    trading day, split so that no run carries more than MAX_BYTES_PER_RUN of objects; each
    keyed by its objects' keys and versions."""
    first, last = partition_span()
    by_day: dict[dt.date, list[ObjectInfo]] = defaultdict(list)
    for obj in objects:
        by_day[route_day(obj.key, obj.last_modified, first, last)].append(obj)
    requests = []
    for day, members in sorted(by_day.items()):
        for batch in _by_size(members):
            config = LandingBatchConfig(object_keys=[o.key for o in batch])
            requests.append(
                dg.RunRequest(
                    run_key=run_key(batch),
                    run_config=dg.RunConfig(ops={"stream_assets": config}),
                    partition_key=day.isoformat(),
                    tags={"stock_assets/objects": str(len(batch))},
                )
            )
    return requests


def _by_size(objects: list[ObjectInfo]) -> list[list[ObjectInfo]]:
    """Consecutive batches of at most MAX_BYTES_PER_RUN (an object larger alone)."""
    batches: list[list[ObjectInfo]] = [[]]
    size = 0
    for obj in objects:
        if batches[-1] and size + obj.size > MAX_BYTES_PER_RUN:
            batches.append([])
            size = 0
        batches[-1].append(obj)
        size += obj.size
    return batches


@dataclass(frozen=True)
class LandingCursor:
    """One arrivals cursor per prefix of ARRIVAL_PREFIXES: each prefix's keys sort by
    arrival among themselves only, so each keeps its own key floor."""

    by_prefix: tuple[ArrivalCursor, ...] = tuple(ArrivalCursor() for _ in ARRIVAL_PREFIXES)

    def to_json(self) -> str:
        cursors = zip(ARRIVAL_PREFIXES, self.by_prefix, strict=True)
        return json.dumps({prefix: json.loads(cursor.to_json()) for prefix, cursor in cursors})

    @classmethod
    def from_json(cls, text: str | None) -> LandingCursor:
        if not text:
            return cls()
        data = json.loads(text)
        if "watermark" in data:  # written before late quotes had a prefix: landing/quotes/'s
            data = {ARRIVAL_PREFIXES[0]: data}
        return cls(
            tuple(
                ArrivalCursor.from_json(json.dumps(data[p])) if p in data else ArrivalCursor()
                for p in ARRIVAL_PREFIXES
            )
        )


def landing_arrivals(
    lake: LakeResource, cursor: LandingCursor, limit: int
) -> tuple[list[ObjectInfo], LandingCursor]:
    """New objects under every arrival prefix (at most `limit` in all), listed after each
    prefix's key floor, and the cursor that records them."""
    fresh: list[ObjectInfo] = []
    moved = []
    for prefix, before in zip(ARRIVAL_PREFIXES, cursor.by_prefix, strict=True):
        listed = lake.list_objects(prefix, start_after=before.start_after)
        found, after = new_arrivals(listed, before, limit=limit - len(fresh))
        fresh += found
        moved.append(after)
    return fresh, LandingCursor(tuple(moved))


def waiting_stream_run(instance: dg.DagsterInstance, now: dt.datetime) -> str | None:
    """The id of a stream ingestion run requested but not executing yet (at most `MAX_HOLD`
    old), or None."""
    records = instance.get_run_records(
        dg.RunsFilter(
            job_name=stream_ingest_job.name, statuses=_WAITING, created_after=now - MAX_HOLD
        ),
        limit=1,
    )
    return records[0].dagster_run.run_id if records else None


def arrivals_sensor(settings: Settings) -> dg.SensorDefinition:
    """The landing arrivals sensor, evaluated every STOCK_ASSETS_SENSOR_INTERVAL_SECONDS
    (`settings.sensor_interval_seconds`); stopped by default where the stream consumer
    (stock_assets/consumer.py) is the ingest path."""
    description = "New or re-written objects under landing/quotes/ (S3 or the local lake)."
    if settings.stream_consumer:
        description += " Off by default: the stream consumer ingests them; on while it is down."

    @dg.sensor(
        name=ARRIVALS_SENSOR_NAME,
        job=stream_ingest_job,
        minimum_interval_seconds=daemon_minimum_interval(settings.sensor_interval_seconds),
        default_status=dg.DefaultSensorStatus.STOPPED
        if settings.stream_consumer
        else dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def landing_arrivals_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
        return sense_arrivals(context, lake)

    return landing_arrivals_sensor


def sense_arrivals(
    context: dg.SensorEvaluationContext, lake: LakeResource
) -> dg.SensorResult | dg.SkipReason:
    """Request a stream ingestion run for each batch of new landing objects, once each;
    while an earlier run still waits to start, let the objects accumulate instead."""
    cursor = LandingCursor.from_json(context.cursor)
    fresh, next_cursor = landing_arrivals(lake, cursor, limit=MAX_OBJECTS_PER_TICK)
    if not fresh:
        skip = f"no new objects under {' or '.join(ARRIVAL_PREFIXES)}"
        if next_cursor == cursor:
            return dg.SkipReason(skip)
        # The key floor moved past settled objects: keep it, or the next tick lists them again.
        return dg.SensorResult(skip_reason=skip, cursor=next_cursor.to_json())
    waiting = waiting_stream_run(context.instance, dt.datetime.now(dt.UTC))
    if waiting is not None:
        # Each run costs a process start and the warehouse writer whatever it carries: one
        # run per tick would queue faster than the writer drains it. The cursor stays, so
        # these objects and any that follow go to the next run, once this one executes.
        return dg.SkipReason(
            f"{len(fresh)} new objects wait for run {waiting} of {stream_ingest_job.name} "
            "to start; they join the next run"
        )
    requests = arrival_run_requests(fresh)
    context.log.info(f"{len(fresh)} new objects in {len(requests)} runs")
    return dg.SensorResult(run_requests=requests, cursor=next_cursor.to_json())
