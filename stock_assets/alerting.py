"""Run-failure alerting: a failed run reaches the same alert sink as trading signals.

A blocking check that fails, a source outage or a crashed step all end as a failed run; the
sensor turns each into one alert (signal RUN_FAILURE) on the `alerts` resource, so the
people who get signals (log locally, SNS in AWS) also learn that the data is not there.
"""

import datetime as dt

import dagster as dg

from stock_assets.market import calendar
from stock_assets.resources.alerts import AlertSink

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
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerts: AlertSink) -> None:
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
    alerts.publish(alert, context.log)
