"""Stream latency on the production-shaped local stack (deploy/local/stack.py, `make stack-up`).

The same files and the same measures as `bench_stream.py latency`, on the stack: Postgres
instance storage, gRPC code server, queued runs launched by the daemon, AWS mode against
moto (landing objects in S3, Iceberg tables in Glue, alerts published to SNS). Per file:
write -> end of the run that put it in gold.latest_snapshot, and write -> its alerts
accepted by SNS (the SentTimestamp SNS gives them on an SQS queue subscribed to the topic,
as a subscriber would see them).

    python benchmarks/bench_stack.py --files 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import bench_stream as stream
import yaml

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "deploy" / "local" / "stack.py"
STREAM_RUNS = """
query { runsOrError(filter: {pipelineName: "stream_ingest_job", statuses: [SUCCESS]}) {
    ... on Runs { results { runConfigYaml creationTime startTime endTime } } } }
"""
SENSOR_TICKS = """
query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 3) { timestamp } } } } }
"""


class Stack:
    """The stack's webserver and moto, as `stack.py up` left them (its state file)."""

    def __init__(self, state: dict) -> None:
        self.url, self.env = state["url"], state["env"]

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        import urllib.request

        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["data"]

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=self.env["AWS_REGION"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def bench(files: int, interval: float, sensor_seconds: int, consumer: bool = False) -> dict:
    """Per file on the local stack: arrival -> snapshot run and arrival -> alert on SNS; with
    `consumer`, the stack's stream consumer ingests (the arrivals sensor stays stopped)."""
    stream.require_session_today(dt.datetime.now(dt.UTC))
    with tempfile.TemporaryDirectory(prefix="bench_stack_") as tmp:
        home = Path(tmp)
        (home / "rules.yaml").write_text(stream.ALERT_RULES)
        env = {
            **os.environ,
            "STOCK_ASSETS_DATA_DIR": str(home),
            "DAGSTER_PG_DB": f"bench_stack_{uuid.uuid4().hex[:12]}",
            "STOCK_ASSETS_SYMBOLS": ",".join(stream.LATENCY_SYMBOLS),
            "STOCK_ASSETS_SENSOR_INTERVAL_SECONDS": str(sensor_seconds),
            "STOCK_ASSETS_ALERT_RULES": str(home / "rules.yaml"),
            "STOCK_ASSETS_STREAM_CONSUMER": "on" if consumer else "off",
        }
        command = [sys.executable, str(STACK)]
        try:
            subprocess.run([*command, "up"], env=env, check=True, timeout=900)
            stack = Stack(json.loads((home / "stack" / "state.json").read_text()))
            return _measure(stack, files, interval, sensor_seconds, consumer)
        finally:
            subprocess.run([*command, "down", "--drop-database"], env=env, timeout=300)


def _measure(
    stack: Stack, files: int, interval: float, sensor_seconds: int, consumer: bool
) -> dict:
    from stock_assets.market.landing import encode_micro_batch

    queue = _subscribed_queue(stack)
    ticks = None if consumer else _wait_for_ticks(stack, timeout=300)
    s3, bucket = stack.client("s3"), stack.env["STOCK_ASSETS_S3_BUCKET"]
    written, stamps = {}, {}
    for i in range(files):
        now = dt.datetime.now(dt.UTC)
        key = f"landing/quotes/bench/q{i:03d}.jsonl"
        body = encode_micro_batch(stream.crossing_quotes(i, now))
        s3.put_object(Bucket=bucket, Key=f"stock-assets/{key}", Body=body)
        written[key] = time.time()
        stamps[stream._alert_stamp(now)] = key
        time.sleep(interval)
    latencies = _wait_for_runs(stack, written, timeout=600)
    accepted: dict[str, list[float]] = {}

    def sent() -> dict[str, list[float]]:
        for stamp, at in _receive(stack.client("sqs"), queue):
            accepted.setdefault(stamp, []).append(at)
        return accepted

    alerts = stream._wait_for_alerts(sent, stamps, timeout=120)
    runs = "stream consumer (1 s poll)" if consumer else "daemon-launched runs"
    return {
        "setup": (
            f"local stack: Postgres instance, gRPC code server, {runs}, AWS mode "
            "on moto (S3 landing, Iceberg/Glue, SNS alert sink)"
        ),
        "files": files,
        "sensor_interval_seconds": None if consumer else sensor_seconds,
        "seconds_between_files": interval,
        "seconds_between_first_ticks": ticks,
        **stream._summary(latencies, written, alerts),
    }


def _subscribed_queue(stack: Stack) -> str:
    """An SQS queue subscribed to the alert topic (raw delivery: the body is the alert)."""
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"bench-alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    stack.client("sns").subscribe(
        TopicArn=stack.env["STOCK_ASSETS_SNS_TOPIC_ARN"],
        Protocol="sqs",
        Endpoint=arn["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return url


def _receive(sqs, queue: str) -> list[tuple[str, float]]:
    """(trigger-time stamp, when SNS accepted it) of the alerts on the queue now."""
    got = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"], WaitTimeSeconds=1
    ).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return [
        (
            stream._alert_stamp(dt.datetime.fromisoformat(json.loads(m["Body"])["ts"])),
            int(m["Attributes"]["SentTimestamp"]) / 1000,
        )
        for m in got
    ]


def _wait_for_ticks(stack: Stack, timeout: float) -> float:
    """Until the sensor has ticked twice; the seconds between those ticks."""
    selector = {
        "repositoryLocationName": "stock_assets",
        "repositoryName": "__repository__",
        "sensorName": "landing_arrivals_sensor",
    }
    deadline = time.time() + timeout
    while time.time() < deadline:
        sensor = stack.graphql(SENSOR_TICKS, {"selector": selector})["sensorOrError"]
        times = sorted(t["timestamp"] for t in sensor["sensorState"]["ticks"])
        if len(times) >= 2:
            return round(times[-1] - times[-2], 2)
        time.sleep(1)
    raise RuntimeError(f"the arrivals sensor did not tick twice within {timeout} s")


def _wait_for_runs(
    stack: Stack, written: dict[str, float], timeout: float
) -> dict[str, tuple[float, float, float]]:
    """As bench_stream._wait_for_runs, from the webserver's GraphQL API."""
    deadline = time.time() + timeout
    done: dict[str, tuple[float, float, float]] = {}
    while time.time() < deadline and len(done) < len(written):
        for run in stack.graphql(STREAM_RUNS)["runsOrError"]["results"]:
            config = yaml.safe_load(run["runConfigYaml"])
            keys = config["ops"]["stream_assets"]["config"]["object_keys"]
            requested = run["creationTime"]
            for key in keys:
                if key in written and key not in done:
                    done[key] = (
                        requested - written[key],
                        run["startTime"] - requested,
                        run["endTime"] - run["startTime"],
                    )
        time.sleep(1)
    missing = set(written) - set(done)
    if missing:
        raise RuntimeError(f"{len(missing)} objects were not processed within {timeout} s")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--sensor-seconds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(bench(args.files, args.interval, args.sensor_seconds), indent=2))


if __name__ == "__main__":
    main()
