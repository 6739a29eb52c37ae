"""Scale-out: a history backfill split into N concurrent runs on the production-shaped stack.

One stack (`deploy/local/stack.py up`: Postgres instance, gRPC code server, webserver,
daemon, moto's S3 + Glue; STOCK_ASSETS_ENV=aws, so every table is Iceberg) runs the history
of the daily batch tables for the default watchlist (or `symbols`) once per N, each time on
an emptied lake, launched over GraphQL as an operator would, queued by the daemon and run
as subprocesses like ECS tasks (every run executes in one process: one task per run). N = 1 is the
single-run backfill; N > 1 splits the sessions into N contiguous ranges, one run each, all
launched at once.

Splitting by date needs waves: `gold/indicators` reads 750 earlier sessions of prices and
`gold/signals` 60 earlier sessions of indicators (gold.py's partition mappings), so a range's
gold assets may start only when the earlier ranges' inputs are committed. Each wave is N
concurrent runs; the next wave starts when the last run of the previous one ended. Without
the waves the ranges after the first would compute indicators on a truncated history.

Every table is then read whole through pyiceberg (the Glue catalog on moto) and compared with
the single run's, row for row, after dropping the columns that name the run (fetch and
ingest times, bronze object keys). Intraday bars are not part of it: the daily job pulls
vendor minute bars for the last session of each run, which differs with the split.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
STACK_SCRIPT = ROOT / "deploy" / "local" / "stack.py"
WAVES = (
    (("bronze", "raw_quotes"), ("silver", "prices"), ("silver", "price_rejects")),
    (("gold", "indicators"),),
    (("gold", "signals"), ("gold", "market_summary")),
)
TABLES = tuple(".".join(key) for wave in WAVES for key in wave)
# Columns that name the run or its clock; everything else must be equal.
RUN_COLUMNS = ("fetched_at", "ingested_at", "object_key")
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
ACTIVE = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
RUN_TIMEOUT_SECONDS = float(os.environ.get("STOCK_ASSETS_BENCH_RUN_TIMEOUT", "3600"))

LAUNCH_RUN = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } }
} }
"""
RUN_STATUS = """
query($id: ID!) { runOrError(runId: $id) { ... on Run { status startTime endTime } } }
"""
RUN_ERRORS = """
query($id: ID!) { logsForRun(runId: $id, limit: 100000) { ... on EventConnection { events {
    __typename ... on ExecutionStepFailureEvent { stepKey error { message } }
    ... on RunFailureEvent { message } } } } }
"""
ACTIVE_RUNS = """
query($statuses: [RunStatus!]) { runsOrError(filter: {statuses: $statuses}) {
    ... on Runs { results { runId } } } }
"""
INSTIGATORS = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { id name sensorState { status } } schedules { id name scheduleState { status } }
} } } }
"""
STOP_SENSOR = "mutation($id: String) { stopSensor(id: $id) { __typename } }"
STOP_SCHEDULE = "mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }"


def _stack_module():
    """deploy/local/stack.py, imported for its GraphQL helper (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("local_stack", STACK_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stack = _stack_module()


def ranges(days: Sequence[dt.date], parts: int) -> list[tuple[dt.date, dt.date]]:
    """`days` cut into `parts` contiguous ranges of nearly equal length, in order."""
    size, extra = divmod(len(days), parts)
    out, begin = [], 0
    for index in range(parts):
        end = begin + size + (index < extra)
        out.append((days[begin], days[end - 1]))
        begin = end
    return out


class Stack:
    """A stack in its own data dir and Postgres database; `close` stops it and drops both."""

    def __init__(self, data_dir: Path, first: dt.date, symbols: Sequence[str] | None) -> None:
        self.env = {
            **os.environ,
            "STOCK_ASSETS_DATA_DIR": str(data_dir),
            "DAGSTER_PG_DB": f"stock_assets_bench_{uuid.uuid4().hex[:12]}",
            "STOCK_ASSETS_START_DATE": first.isoformat(),
            "STOCK_ASSETS_SOURCE": "simulated",
            "STOCK_ASSETS_FAULT_RATE": "0",
        }
        self.env.pop("STOCK_ASSETS_SYMBOLS", None)  # the default watchlist
        if symbols:
            self.env["STOCK_ASSETS_SYMBOLS"] = ",".join(symbols)
        self._command = [sys.executable, str(STACK_SCRIPT)]
        subprocess.run([*self._command, "up"], env=self.env, check=True, timeout=600)
        state = json.loads((data_dir / "stack" / "state.json").read_text())
        self.url, self.public_env = state["url"], state["env"]

    def close(self) -> None:
        down = [*self._command, "down", "--drop-database"]
        subprocess.run(down, env=self.env, check=True, timeout=300)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        return stack.graphql(self.url, query, variables, timeout)

    def quiesce(self) -> None:
        """Stop every sensor and schedule (the producer and arrivals would compete for the
        machine) and wait until nothing they launched is still queued or running."""
        for repo in self.graphql(INSTIGATORS)["repositoriesOrError"]["nodes"]:
            for sensor in repo["sensors"]:
                if sensor["sensorState"]["status"] == "RUNNING":
                    self.graphql(STOP_SENSOR, {"id": sensor["id"]})
            for schedule in repo["schedules"]:
                if schedule["scheduleState"]["status"] == "RUNNING":
                    self.graphql(STOP_SCHEDULE, {"id": schedule["id"]})
        self.wait([run["runId"] for run in self._active()])

    def errors(self, run_id: str) -> dict:
        """The failed steps of a run and their errors (the run's own log is in the stack)."""
        events = self.graphql(RUN_ERRORS, {"id": run_id})["logsForRun"]["events"]
        found = [e for e in events if e["__typename"] != "EventConnection" and len(e) > 1]
        return {"run": run_id, "errors": found}

    def _active(self) -> list[dict]:
        return self.graphql(ACTIVE_RUNS, {"statuses": ACTIVE})["runsOrError"]["results"]

    def launch(self, assets: Sequence[tuple[str, str]], start: dt.date, end: dt.date) -> str:
        """One run of `assets` (and their checks) over [start, end]: history_backfill_job."""
        selector = {
            "repositoryLocationName": stack.LOCATION,
            "repositoryName": "__repository__",
            "jobName": "history_backfill_job",
            "assetSelection": [{"path": list(key)} for key in assets],
        }
        tags = {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        }
        params = {
            "selector": selector,
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        # The webserver plans the whole range before it answers: minutes for years of days.
        result = self.graphql(LAUNCH_RUN, {"params": params}, timeout=RUN_TIMEOUT_SECONDS)
        result = result["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launch of {start}..{end} refused: {result}")
        return result["run"]["runId"]

    def wait(self, run_ids: Sequence[str]) -> list[dict]:
        """Poll until every run ended; their status and start/end times. Raise on a failure."""
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        ended: dict[str, dict] = {}
        while len(ended) < len(run_ids):
            for run_id in set(run_ids) - set(ended):
                run = self.graphql(RUN_STATUS, {"id": run_id})["runOrError"]
                if run["status"] in TERMINAL:
                    ended[run_id] = run
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs still going after {RUN_TIMEOUT_SECONDS:.0f} s")
            time.sleep(1)
        failed = [r for r, run in ended.items() if run["status"] != "SUCCESS"]
        if failed:
            raise RuntimeError(f"runs did not succeed: {[self.errors(r) for r in failed]}")
        return [ended[r] for r in run_ids]

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.public_env["AWS_ENDPOINT_URL"],
            region_name=self.public_env["AWS_REGION"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def empty_lake(self) -> None:
        """Drop every Glue table and every lake object (the step logs stay)."""
        glue, s3 = self.client("glue"), self.client("s3")
        for page in glue.get_paginator("get_databases").paginate():
            for database in page["DatabaseList"]:
                tables = glue.get_paginator("get_tables").paginate(DatabaseName=database["Name"])
                for table in (t for p in tables for t in p["TableList"]):
                    glue.delete_table(DatabaseName=database["Name"], Name=table["Name"])
        bucket = self.public_env["STOCK_ASSETS_S3_BUCKET"]
        logs = self.public_env["DAGSTER_COMPUTE_LOGS_PREFIX"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            keys = [k for k in keys if not k["Key"].startswith(logs)]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every batch table read whole through pyiceberg from the stack's Glue and S3."""
        from stock_assets.io_managers.iceberg import IcebergIOManager

        aws = {k: v for k, v in self.public_env.items() if k.startswith("AWS_")}
        os.environ.update(aws, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        manager = IcebergIOManager(bucket=self.public_env["STOCK_ASSETS_S3_BUCKET"])
        return {name: manager.read(name) for name in TABLES}


def backfill(stack_: Stack, days: Sequence[dt.date], parts: int) -> dict:
    """The history as one run (parts=1) or as waves of `parts` concurrent runs; wall time."""
    waves = [tuple(key for wave in WAVES for key in wave)] if parts == 1 else list(WAVES)
    started = time.perf_counter()
    runs = []
    for assets in waves:
        ids = [stack_.launch(assets, start, end) for start, end in ranges(days, parts)]
        runs += stack_.wait(ids)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "waves": len(waves),
        "runs": len(runs),
        "run_seconds": [run["endTime"] - run["startTime"] for run in runs],
    }


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows without the run's own columns, in one order, for comparison."""
    frame = frame.drop(columns=[c for c in RUN_COLUMNS if c in frame.columns])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def measure(
    days: Sequence[dt.date],
    splits: Sequence[int],
    work: Path,
    symbols: Sequence[str] | None = None,
) -> dict:
    """For each N in `splits` (1 first: the reference), the backfill on an emptied lake, then
    its tables, each compared with the single run's. One stack serves every N (its start
    costs a minute); the lake is emptied between them and the run history kept."""
    if splits[0] != 1:
        raise ValueError("the first split must be 1: the single run is the reference")
    results, reference = {}, {}
    stack_ = Stack(work, days[0], symbols)
    try:
        stack_.quiesce()
        for parts in splits:
            stack_.empty_lake()
            if any(len(frame) for frame in stack_.tables().values()):
                raise RuntimeError("the lake still has rows after emptying it")
            try:
                outcome = backfill(stack_, days, parts)
            except RuntimeError as error:  # a failed run: recorded, the other N still run
                results[parts] = {"error": str(error)}
                continue
            tables = {name: canonical(frame) for name, frame in stack_.tables().items()}
            if parts == 1:
                reference = tables
            outcome["rows"] = {name: len(frame) for name, frame in tables.items()}
            outcome["equal_to_single_run"] = {
                name: frame.equals(reference[name]) for name, frame in tables.items()
            }
            results[parts] = outcome
    finally:
        stack_.close()
    return {
        "sessions": len(days),
        "first": days[0].isoformat(),
        "last": days[-1].isoformat(),
        "splits": results,
    }
