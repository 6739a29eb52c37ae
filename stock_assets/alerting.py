"""Run-failure alerts, and the retry of alerts a sink did not accept.

A blocking check that fails, a source outage or a crashed step all end as a failed run; the
sensor turns each into one alert (signal RUN_FAILURE) on the `alerts` resource, so the
people who get signals (log locally, SNS in AWS) also learn that the data is not there. It
goes through the same ledger as the signals' alerts (resources.alerts): one alert per run,
and a publish that fails stays pending until `alert_retry_sensor` gets it through.
"""

import datetime as dt

import dagster as dg

from stock_assets.market import calendar
from stock_assets.resources.alerts import Alert, AlertSink, pending_alerts
from stock_assets.resources.lake import LakeResource
from stock_assets.run_policy import ALERT_TASK

RUN_FAILURE = "RUN_FAILURE"
_PARTITION_TAG = "dagster/partition"
_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
_MAX_STEP_MESSAGE = 300


def run_failure_alert(
    job_name: str,
    run_id: str,
    tags: dict[str, str],
    message: str,
    step_errors: dict[str, str],
    failed_at: dt.datetime,
) -> dict[str, object]:
    """The alert for a failed run, in the shape AlertSink.publish takes.

    trade_date is what the run was for: its partition, its partition range ("a..b"), or
    the New York day it failed on when it had no partition.
    """
    if _PARTITION_TAG in tags:
        trade_date = tags[_PARTITION_TAG]
    elif all(tag in tags for tag in _RANGE_TAGS):
        trade_date = "..".join(tags[tag] for tag in _RANGE_TAGS)
    else:
        trade_date = calendar.trading_day_of(failed_at).isoformat()
    steps = "; ".join(
        f"{step}: {error[:_MAX_STEP_MESSAGE]}" for step, error in sorted(step_errors.items())
    )
    return {
        "symbol": "-",
        "trade_date": trade_date,
        "signal": RUN_FAILURE,
        "value": None,
        "reason": f"{job_name} run {run_id} failed: {message}" + (f" [{steps}]" if steps else ""),
    }


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends one RUN_FAILURE alert to the alert sink for every failed run.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, alerts: AlertSink, lake: LakeResource
) -> None:
    """Publish the failed run, its failing steps and their errors."""
    run = context.dagster_run
    step_errors = {
        event.step_key or "?": event.event_specific_data.error.message.strip()
        for event in context.get_step_failure_events()
        if event.event_specific_data is not None and event.event_specific_data.error is not None
    }
    alert = run_failure_alert(
        job_name=run.job_name,
        run_id=run.run_id,
        tags=dict(run.tags),
        message=context.failure_event.message or "run failed",
        step_errors=step_errors,
        failed_at=dt.datetime.now(dt.UTC),
    )
    delivery = alerts.deliver_alerts([Alert(f"runs/{run.run_id}", alert)], lake, context.log)
    for failure in delivery.failed:
        context.log.error(f"run-failure alert pending, alert_retry_sensor retries it: {failure}")


@dg.op(description="Publish the alerts a sink refused earlier (the pending outbox).")
def redeliver_pending_alerts(
    context: dg.OpExecutionContext, alerts: AlertSink, lake: LakeResource
) -> dg.Output:
    delivery = alerts.redeliver_pending(lake, context.log)
    for failure in delivery.failed:
        context.log.error(f"still pending: {failure}")
    # Not a failed run when the sink is still down: that would raise a RUN_FAILURE alert
    # per retry, into the same sink. The pending count is the signal.
    return dg.Output(
        None,
        metadata={
            "delivered": delivery.sent,
            "already_delivered": delivery.already_sent,
            "still_pending": len(delivery.failed),
        },
    )


@dg.job(
    description="Retry alerts left pending by a sink failure or a crash (at-least-once).",
    executor_def=dg.in_process_executor,
    tags=ALERT_TASK,
)
def alert_retry_job() -> None:
    redeliver_pending_alerts()


_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    job=alert_retry_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts alert_retry_job when alerts are pending past the retry delay.",
)
def alert_retry_sensor(context: dg.SensorEvaluationContext, alerts: AlertSink, lake: LakeResource):
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=alerts.retry_after_seconds)
    due = [obj for obj in pending_alerts(lake) if obj.last_modified <= cutoff]
    if not due:
        return dg.SkipReason("no pending alerts")
    running = context.instance.get_runs(
        dg.RunsFilter(job_name=alert_retry_job.name, statuses=_ACTIVE), limit=1
    )
    if running:
        return dg.SkipReason(f"{len(due)} alerts pending; a retry run is in progress")
    return dg.RunRequest(tags={"stock_assets/pending_alerts": str(len(due))})
