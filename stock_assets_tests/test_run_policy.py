"""Each job's Fargate task size, and the retry of transient failures without duplicates."""

import datetime as dt

import botocore.exceptions
import dagster as dg
import duckdb
import pytest

from stock_assets.definitions import build_definitions
from stock_assets.io_managers import WarehouseIOManager
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.resources.lake import LocalLake
from stock_assets.settings import Settings
from stock_assets_tests.conftest import sense

# Fargate's valid task sizes: CPU units -> MiB allowed (AWS ECS developer guide, Task size).
FARGATE_MEMORY = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
}


def job_sizes(settings: Settings | None = None) -> dict[str, tuple[int, int]]:
    jobs = build_definitions(settings or Settings()).get_repository_def().get_all_jobs()
    return {
        job.name: (int(job.tags["ecs/cpu"]), int(job.tags["ecs/memory"]))
        for job in jobs
        if not job.name.startswith("__")
    }


def test_every_job_names_a_valid_fargate_task_size():
    sizes = job_sizes()
    assert set(sizes) >= {"stream_ingest_job", "daily_market_job", "history_backfill_job"}
    for name, (cpu, memory) in sizes.items():
        assert memory in FARGATE_MEMORY[cpu], name


def test_stream_runs_are_small_and_history_loads_large():
    sizes = job_sizes()
    stream, daily, backfill = (
        sizes[name] for name in ("stream_ingest_job", "daily_market_job", "history_backfill_job")
    )
    assert stream < daily < backfill
    assert all(size <= daily for name, size in sizes.items() if name != "history_backfill_job")


@pytest.mark.parametrize(
    ("budget_gb", "memory_mib"), [(2, 4096), (1, 4096), (6, 8192), (5.5, 8192)]
)
def test_history_load_tasks_follow_the_memory_budget(budget_gb, memory_mib):
    """A piece of a history load is sized to the budget: its task is the budget plus 2 GiB,
    whatever the range's length, and stays a valid Fargate size."""
    cpu, memory = job_sizes(Settings(memory_budget_gb=budget_gb))["history_backfill_job"]
    assert (cpu, memory) == (2048, memory_mib) and memory in FARGATE_MEMORY[cpu]


def test_a_budget_no_2_vcpu_task_holds_is_refused_when_the_definitions_are_built():
    with pytest.raises(ValueError, match="STOCK_ASSETS_MEMORY_BUDGET_GB <= 14"):
        build_definitions(Settings(memory_budget_gb=15))


class FlakyWarehouse(WarehouseIOManager):
    """Writes a table, then answers like S3 throttling (503) once: the write landed, the
    caller saw an error, exactly the case where a retry could duplicate rows."""

    fail_once_on: str

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        super().handle_output(context, obj)
        if context.asset_key.to_user_string() == self.fail_once_on and not FAILED:
            FAILED.append(self.fail_once_on)
            raise botocore.exceptions.ClientError(
                {
                    "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                    "ResponseMetadata": {"HTTPStatusCode": 503},
                },
                "PutObject",
            )


FAILED: list[str] = []


@pytest.mark.slow
def test_a_transient_failure_after_a_write_is_retried_without_duplicates(data_home):
    FAILED.clear()
    base = build_definitions(Settings.from_env())
    warehouse = str(data_home / "warehouse.duckdb")
    defs = dg.Definitions(
        assets=base.assets,
        asset_checks=base.asset_checks,
        jobs=base.jobs,
        resources={
            **base.resources,
            "io_manager": FlakyWarehouse(database=warehouse, fail_once_on="silver/stream_history"),
        },
    )
    lake = LocalLake(root=str(data_home / "lake"))
    quotes = SimulatedSource().latest_quotes(
        ["AAPL", "MSFT"], dt.datetime(2024, 7, 5, 15, tzinfo=dt.UTC)
    )
    lake.put("landing/quotes/2024/07/05/q.jsonl", encode_micro_batch(quotes))
    (request,) = sense(lake).run_requests

    result = defs.resolve_job_def("stream_ingest_job").execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        tags=request.tags,
        instance=dg.DagsterInstance.ephemeral(),
    )

    assert result.success and FAILED == ["silver/stream_history"]
    events = [e.event_type for e in result.all_events]
    assert events.count(dg.DagsterEventType.STEP_UP_FOR_RETRY) == 1
    with duckdb.connect(warehouse, read_only=True) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (symbol, ts)) FROM silver.stream_history"
        ).fetchone()
    assert rows == distinct == len(quotes)


def test_every_run_executes_in_one_process_as_the_memory_budget_assumes():
    """The budget sizes a history piece for one process; a process per step (Dagster's
    default) would hold two steps' data at once on 2 vCPU. UI materializations included."""
    jobs = build_definitions(Settings()).get_repository_def().get_all_jobs()
    assert "__ASSET_JOB" in {job.name for job in jobs}
    assert {job.name: job.executor_def.name for job in jobs} == {
        job.name: "in_process" for job in jobs
    }
