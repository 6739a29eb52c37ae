"""The latest result of every asset check, read from the Dagster instance's event log.

Public instance APIs only: the newest ASSET_CHECK_EVALUATION events of the event log
(`get_event_records` with an `EventRecordsFilter`; its asset_key filter does not select
check events). Each check records one result per run, so the newest CHECK_EVENTS events
hold the latest result of every check run in the last CHECK_EVENTS / 26 daily runs.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import TYPE_CHECKING

import pandas as pd

from stock_assets.settings import dagster_home_is_set

if TYPE_CHECKING:
    import dagster as dg

CHECK_EVENTS = 2000
RESULT_COLUMNS = [
    "table",
    "check",
    "passed",
    "severity",
    "failing_count",
    "rows_checked",
    "partition_range",
    "evaluated_at",
    "run_id",
    "description",
]
# The metadata entries of a result shown as columns (what checks.py records).
SHOWN_METADATA = ("failing_count", "rows_checked", "partition_range")


def instance_configured() -> bool:
    return dagster_home_is_set()


def latest_check_results(instance: dg.DagsterInstance) -> pd.DataFrame:
    """One row per (table, check): its newest evaluation, failures first."""
    import dagster as dg

    with warnings.catch_warnings():  # deprecated for 2.0, still the public query for checks
        warnings.simplefilter("ignore", DeprecationWarning)
        records = instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION),
            limit=CHECK_EVENTS,
        )
    rows: dict[tuple[str, str], dict] = {}
    for record in records:  # newest first
        evaluation = record.event_log_entry.dagster_event.asset_check_evaluation_data
        table = evaluation.asset_key.to_user_string()
        rows.setdefault((table, evaluation.check_name), _row(record, evaluation))
    frame = pd.DataFrame(list(rows.values()), columns=RESULT_COLUMNS)
    return frame.sort_values(["passed", "table", "check"], ignore_index=True)


def _row(record: dg.EventLogRecord, evaluation: dg.AssetCheckEvaluation) -> dict:
    metadata = {name: value.value for name, value in evaluation.metadata.items()}
    return {
        "table": evaluation.asset_key.to_user_string(),
        "check": evaluation.check_name,
        "passed": evaluation.passed,
        "severity": evaluation.severity.value,
        **{name: metadata.get(name) for name in SHOWN_METADATA},
        "evaluated_at": dt.datetime.fromtimestamp(record.timestamp, dt.UTC).replace(tzinfo=None),
        "run_id": record.run_id,
        "description": evaluation.description or "",
    }
