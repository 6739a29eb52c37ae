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
- history loads (`history_backfill_job`, a single-run backfill over years) read and write
  every session of the range in one process: 2 vCPU / 8 GiB, four times the 1.9 GiB peak
  measured at 500 symbols x 2,520 sessions (benchmarks/), the second vCPU for Arrow's
  threads;
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
BACKFILL_TASK = ecs_task(2048, 8192)
QUALITY_TASK = ecs_task(1024, 4096)
MAINTENANCE_TASK = ecs_task(1024, 4096)
ALERT_TASK = ecs_task(256, 1024)
