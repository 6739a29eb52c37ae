"""How each job's runs execute: their Fargate task size and their retries on transient errors.

Task sizes. On ECS every run is its own Fargate task; the EcsRunLauncher sizes it from the
run's ``ecs/cpu`` (CPU units, 1024 = 1 vCPU) and ``ecs/memory`` (MiB) tags, which a job's
tags give each of its runs. A task is billed per vCPU- and GiB-second from start to stop,
and a run task spends its first seconds starting Python and Dagster whatever its size, so
the many small runs get small tasks and only the long ones get large ones:
- the stream runs (one every arrival, ~390 a session) parse a micro-batch and merge it
  into one day's partitions: 0.5 vCPU / 2 GiB;
- the producer polls the source once and writes one object: 0.25 vCPU / 1 GiB;
- the daily batch is one session of every table, with the indicators' lookback: 1 vCPU /
  4 GiB (its ten-year single-run backfill peaks at 1.9 GiB at 500 symbols, so a session
  is far below);
- history loads (`history_backfill_job`) run in pieces of consecutive sessions, each
  sized to STOCK_ASSETS_MEMORY_BUDGET_GB (market/budget.py): 2 vCPU (the second for
  Arrow's threads) and the budget plus 2 GiB for Python, Dagster and the run's
  bookkeeping (every run executes in one process; `backfill_task`: 4 GiB at the default
  budget), so the task size follows from the budget, never from the history's length;
- checks over a range and the Iceberg upkeep read whole partitions: 1 vCPU / 4 GiB;
  alert redelivery: 0.25 vCPU / 1 GiB.
Every pair is a valid Fargate combination (a test holds them to AWS's table).

Retries. Providers throttle and S3 or Glue answer 5xx now and then; the source clients
and boto3 already retry a few times within a call. What still fails is retried by Dagster,
step by step (OP_RETRY_POLICY on each job: the failed step only, after 15 s, then 30 s,
then 60 s). A retried step repeats no data: every table write is an idempotent merge or
partition replace committed atomically, raw payloads and quarantine reports are written
under fixed keys, and alerts go through the ledger's first-writer-wins keys. A step that
fails for a reason no wait fixes (bad configuration, a blocking check) fails again and
costs its retries' time only.
Runs whose task dies (stopped, out of memory) are resumed by run monitoring and then
re-executed from the failure by the daemon's run retries (deploy/ecs/dagster.yaml), which
leave step failures to the policy here.
"""

import math

import dagster as dg

OP_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def ecs_task(cpu: int, memory: int) -> dict[str, str]:
    """The run tags the EcsRunLauncher sizes a run's Fargate task from (CPU units, MiB)."""
    return {"ecs/cpu": str(cpu), "ecs/memory": str(memory)}


STREAM_TASK = ecs_task(512, 2048)
PRODUCER_TASK = ecs_task(256, 1024)
DAILY_TASK = ecs_task(1024, 4096)


def backfill_task(memory_budget_gb: float) -> dict[str, str]:
    """2 vCPU and the memory budget plus 2 GiB, in the whole GiB Fargate allows with 2 vCPU
    (4 to 16 GiB); a budget that does not fit is refused here, not by ECS at launch."""
    memory_gib = max(4, math.ceil(memory_budget_gb + 2))
    if memory_gib > 16:
        raise ValueError(
            f"a {memory_budget_gb} GiB memory budget needs a {memory_gib} GiB task, more "
            "than a 2 vCPU Fargate task has (16 GiB): set STOCK_ASSETS_MEMORY_BUDGET_GB <= 14"
        )
    return ecs_task(2048, memory_gib * 1024)


QUALITY_TASK = ecs_task(1024, 4096)
MAINTENANCE_TASK = ecs_task(1024, 4096)
ALERT_TASK = ecs_task(256, 1024)
