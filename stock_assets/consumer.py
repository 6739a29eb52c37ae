"""The stream consumer: landing arrivals ingested within seconds by one long-lived process.

The arrivals sensor starts a run per batch, and every run is a fresh Python process that
imports the code location before it reads a quote: 5-6 s of each arrival's ~11 s to an
alert on an idle machine (docs/ARCHITECTURE.md). The consumer (`stock-assets consume`, an
ECS service in AWS) keeps that process warm: every `poll_seconds` it lists the landing
zone with the sensor's own cursor logic (market/arrivals.py), groups the new objects into
the runs the sensor would request, and executes each with ``execute_in_process`` against
the Dagster instance, so every run, materialization, check and alert is recorded and shown
in the UI as a daemon-launched one would be.

Guarantees, the sensor's:
- each object version is ingested once: the cursor is saved in the lake
  (`CURSOR_KEY`) after its runs; a run key that already succeeded, or that a
  daemon-launched run is executing, is never run again, so a lost cursor or a crash
  between a run and the save never reprocesses finished work, and a run killed with the
  consumer runs again at restart (its writes are merges: nothing is stored twice);
- runs carry the sensor's name and run key, so the sensor, if it is also running, skips
  every batch the consumer took with the same objects.
With STOCK_ASSETS_STREAM_CONSUMER=on the sensor starts stopped (the consumer is the
ingest path); turning it on in the UI is the fallback while the consumer is down.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from stock_assets.cli import QUIET
from stock_assets.sensors import (
    ARRIVALS_SENSOR_NAME,
    MAX_OBJECTS_PER_TICK,
    LandingCursor,
    arrival_run_requests,
    landing_arrivals,
    stream_ingest_job,
)

CURSOR_KEY = "state/stream_consumer/cursor.json"
CONSUMER_TAG = "stock_assets/consumer"
# Statuses of a run that makes another run of its batch unnecessary.
_DONE_OR_OWNED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class BatchOutcome:
    run_key: str
    run_id: str | None  # None: skipped, an earlier run took the batch
    success: bool


class StreamConsumer:
    """Polls the landing zone and runs stream_ingest_job in this process."""

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        log: Callable[[str], None] = print,
    ) -> None:
        self.job = defs.resolve_job_def(stream_ingest_job.name)
        self.lake = defs.resources["lake"]
        self.instance = instance
        self.log = log
        self.cursor = self._load_cursor()

    def _load_cursor(self) -> LandingCursor:
        try:
            return LandingCursor.from_json(self.lake.get(CURSOR_KEY).decode())
        except FileNotFoundError:
            return LandingCursor()

    def poll(self) -> list[BatchOutcome]:
        """Ingest what arrived since the last poll; the cursor is saved after the runs."""
        fresh, cursor = landing_arrivals(self.lake, self.cursor, limit=MAX_OBJECTS_PER_TICK)
        outcomes = [self._run(request) for request in arrival_run_requests(fresh)]
        if cursor != self.cursor:
            self.lake.put(CURSOR_KEY, cursor.to_json().encode())
            self.cursor = cursor
        return outcomes

    def _run(self, request: dg.RunRequest) -> BatchOutcome:
        run_key = str(request.run_key)
        tags = {"dagster/sensor_name": ARRIVALS_SENSOR_NAME, "dagster/run_key": run_key}
        taken = self.instance.get_run_records(
            dg.RunsFilter(tags={"dagster/run_key": run_key}, statuses=_DONE_OR_OWNED)
        )
        if taken and not all(_orphaned(record.dagster_run) for record in taken):
            return BatchOutcome(run_key, None, True)
        result = self.job.execute_in_process(
            run_config={**QUIET, **request.run_config},  # the run's events go to the UI
            partition_key=request.partition_key,
            tags={**request.tags, **tags, CONSUMER_TAG: "true"},
            instance=self.instance,
            raise_on_error=False,
        )
        state = "succeeded" if result.success else "FAILED (see the run in the Dagster UI)"
        objects = request.tags.get("stock_assets/objects")
        self.log(f"run {result.run_id} ({objects} objects) {state}")
        return BatchOutcome(run_key, result.run_id, result.success)

    def run_forever(self, poll_seconds: float, stop: threading.Event) -> None:
        """Poll every `poll_seconds` until `stop` is set; a failing poll (the lake briefly
        unreachable) is logged and retried at the next one."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception as exc:  # keep consuming: the next poll retries
                self.log(f"poll failed at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC: {exc!r}")
            stop.wait(max(0.0, poll_seconds - (time.monotonic() - started)))


def _orphaned(run: dg.DagsterRun) -> bool:
    """An unfinished run of a consumer: left behind by one that stopped during it (one
    consumer runs per deployment, one batch at a time, so no live consumer is running it)."""
    return run.status != dg.DagsterRunStatus.SUCCESS and run.tags.get(CONSUMER_TAG) == "true"


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (ECS stopping the task) or SIGINT: the current batch ends
    before the consumer stops."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop
