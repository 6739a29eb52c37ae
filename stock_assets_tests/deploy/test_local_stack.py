"""The production-shaped local stack runs the daily job end to end, as ECS will.

Postgres storage, the queued run coordinator and the daemon, the gRPC code server and
STOCK_ASSETS_ENV=aws against moto: the run is launched over GraphQL like an operator would,
and its results are read back from the S3 lake and the Glue catalog.
"""

from __future__ import annotations

import pytest

from stock_assets.assets.views import VIEWS
from stock_assets.definitions import defs
from stock_assets_tests.deploy.conftest import PARTITION, Stack, stack_module

pytestmark = pytest.mark.slow

RUN_EVENTS = """
query($id: ID!, $after: String) { logsForRun(runId: $id, afterCursor: $after, limit: 500) {
    __typename ... on EventConnection { cursor hasMore events { __typename
        ... on AssetCheckEvaluationPlannedEvent { checkName assetKey { path } }
        ... on AssetCheckEvaluationEvent {
            evaluation { checkName success partition assetKey { path }
                metadataEntries { label ... on TextMetadataEntry { text } } } } } } } }
"""


def run_events(stack: Stack, run_id: str) -> list[dict]:
    events, cursor = [], None
    while True:
        page = stack.graphql(RUN_EVENTS, {"id": run_id, "after": cursor})["logsForRun"]
        assert page["__typename"] == "EventConnection", page
        events += page["events"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return events


def s3_keys(stack: Stack, prefix: str) -> list[str]:
    pages = stack.boto3_client("s3").get_paginator("list_objects_v2")
    bucket = stack.env["STOCK_ASSETS_S3_BUCKET"]
    return [
        o["Key"]
        for page in pages.paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]


def test_daily_job_runs_on_the_stack_with_passing_checks(local_stack, daily_run):
    run_id, status = daily_run
    assert status == "SUCCESS", f"run {run_id} ended {status}; see {local_stack.url}/runs/{run_id}"

    events = run_events(local_stack, run_id)
    planned = {
        ("/".join(e["assetKey"]["path"]), e["checkName"])
        for e in events
        if e["__typename"] == "AssetCheckEvaluationPlannedEvent"
    }
    evaluations = [
        e["evaluation"] for e in events if e["__typename"] == "AssetCheckEvaluationEvent"
    ]
    evaluated = {("/".join(e["assetKey"]["path"]), e["checkName"]) for e in evaluations}
    job = defs().resolve_job_def("daily_market_job")
    defined = {
        (k.asset_key.to_user_string(), k.name) for k in job.asset_layer.asset_graph.asset_check_keys
    }
    assert defined and planned == defined
    assert evaluated == defined
    # moto's Athena runs no query (it answers every query with no rows), so the SQL views'
    # checks cannot be evaluated on this stack: they fail, saying so, and stop nothing.
    views = {"/".join(key.path) for key in VIEWS}
    failed = [e for e in evaluations if not e["success"]]
    assert {"/".join(e["assetKey"]["path"]) for e in failed} <= views, failed
    # Unpartitioned checks: one result per check, judging the run's partition.
    assert {e["partition"] for e in evaluations} == {None}
    judged = {
        m["text"]
        for e in evaluations
        for m in e["metadataEntries"]
        if m["label"] == "partition_range"
    }
    assert judged == {f"{PARTITION}..{PARTITION}"}


def test_daily_job_writes_the_s3_lake_and_the_glue_catalog(local_stack, daily_run):
    assert daily_run[1] == "SUCCESS"
    prefix = "stock-assets/tables"
    for table in ("bronze/raw_quotes", "silver/prices", "gold/indicators", "gold/market_summary"):
        keys = s3_keys(local_stack, f"{prefix}/{table}/data/trade_date={PARTITION}/")
        assert any(k.endswith(".parquet") for k in keys), (table, keys)

    glue = local_stack.boto3_client("glue")
    for layer, tables in {
        "bronze": {"raw_quotes"},
        "silver": {"prices", "price_rejects"},
        "gold": {"indicators", "signals", "market_summary"},
    }.items():
        listed = glue.get_tables(DatabaseName=layer)["TableList"]
        iceberg = {t["Name"] for t in listed if t["Parameters"].get("table_type") == "ICEBERG"}
        assert tables <= iceberg, (layer, iceberg)
    from pyiceberg.catalog import load_catalog

    env = local_stack.env
    access = {  # moto's credentials, as Stack.boto3_client uses them
        f"{service}.{name}": value
        for service in ("glue", "s3")
        for name, value in (
            ("endpoint", env["AWS_ENDPOINT_URL"]),
            ("region", env["AWS_REGION"]),
            ("access-key-id", "testing"),
            ("secret-access-key", "testing"),
        )
    }
    prices = load_catalog("stack", type="glue", **access).load_table("silver.prices")
    days = prices.scan(selected_fields=("trade_date",)).to_arrow().column("trade_date")
    assert {d.isoformat() for d in days.to_pylist()} == {PARTITION}

    # The instance's compute logs went to the lake bucket through S3ComputeLogManager.
    prefix = local_stack.env["DAGSTER_COMPUTE_LOGS_PREFIX"]
    assert s3_keys(local_stack, f"{prefix}/storage/{daily_run[0]}/")


def test_every_sensor_and_schedule_runs_on_the_stack(local_stack):
    states = {
        selector.get("sensorName") or selector["scheduleName"]: status
        for _, status, selector in stack_module.instigators(local_stack.url)
    }
    expected = {s.name for s in defs().sensors} | {s.name for s in defs().schedules}
    # Includes market_hours_producer_schedule, which the code leaves STOPPED by default.
    assert "market_hours_producer_schedule" in expected
    assert states == dict.fromkeys(expected, "RUNNING")
