"""Everything that leans on Dagster beyond its public API, in one place.

Dagster is pinned exactly (pyproject.toml). Code elsewhere in the package uses the public
API only; what cannot, lives here with the reason and, where one exists, a public-API
fallback used when the private symbol is gone. ``stock_assets_tests/test_compat.py`` fails
on a Dagster upgrade until each entry below has been re-checked against the new version.

What Dagster lacks, and how this project works around it
---------------------------------------------------------
* **Atomic partition replacement in DuckDB.** dagster-duckdb's IO manager runs the
  delete of a partition and the insert of its new rows as separate statements outside a
  transaction (its client only gained the delete at all late, see
  https://github.com/dagster-io/dagster/issues/21278), so a failed write could leave a
  partition empty. ``io_managers/duckdb.py`` is therefore a plain public
  ``ConfigurableIOManager`` that does delete + insert in one DuckDB transaction; no
  dagster-duckdb internals are subclassed.
* **Per-partition metadata in a multi-partition run.** ``add_output_metadata`` copies one
  dict onto every partition's materialization of a single-run backfill
  (https://github.com/dagster-io/dagster/issues/18123, open). The IO managers therefore
  record row counts only for one-partition outputs (io_managers/table_metadata.py); each
  day's own counts go through the per-partition API,
  ``AssetExecutionContext.add_asset_metadata(metadata, partition_key=...)``
  (https://github.com/dagster-io/dagster/pull/26562). That call takes one partition: it
  re-lists the run's partition range to validate the key and rebuilds the step's whole
  metadata map, so a backfill of N days costs N² (seconds per asset over ten years).
  :func:`add_partition_metadata` validates the days once and stores the map once through
  the step's private ``_metadata_accumulator``; the public per-day call is its fallback.
* **Linking a check result to the materialization it judged.** ``AssetCheckResult``
  looks the target up in the run's partition, even for an unpartitioned table, so a
  stream run's result on gold.latest_snapshot would be linked to nothing. The public
  constructor of ``AssetCheckEvaluation`` accepts the target but its type
  (``AssetCheckEvaluationTargetMaterializationData``) is not exported: see
  :func:`check_target`.
* **Record constructors keep their caller's locals.** Dagster's ``@record`` classes
  compile their ``__new__`` on first use and keep the calling frame's locals for good
  (``dagster_shared.check.builder.EvalContext.update_from_frame``); :func:`new_check_evaluation`
  builds check results from a frame that holds nothing else, so the first result of a
  process does not pin the table its check op loaded.
* **A sensor's tick history.** The instance lists ticks by instigator origin and selector
  ids, which only the stored instigator state (looked up by the private
  ``InstigatorType``) holds: see :func:`sensor_state` (benchmarks read tick spacing, the
  reliability tests the cursor).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

# The Dagster release this module was last reviewed against (pyproject.toml pins it).
DAGSTER_VERSION = "1.13.27"

try:  # private: the type of AssetCheckEvaluation.target_materialization_data
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData as _TargetData,
    )
except ImportError:  # pragma: no cover - exercised only on an unreviewed Dagster
    _TargetData = None

try:  # private: the step's store of metadata added during the op, keyed by handle
    from dagster._core.execution.context.metadata_logging import (
        AssetMetadataHandle as _AssetMetadataHandle,
    )
    from dagster._core.execution.context.metadata_logging import (
        OutputMetadataAccumulator as _MetadataAccumulator,
    )
except ImportError:  # pragma: no cover - exercised only on an unreviewed Dagster
    _AssetMetadataHandle = _MetadataAccumulator = None

# Private symbols this module uses or works around, for the upgrade test: (module, name).
PRIVATE_SYMBOLS = (
    ("dagster._core.execution.context.metadata_logging", "AssetMetadataHandle"),
    ("dagster._core.execution.context.metadata_logging", "OutputMetadataAccumulator"),
    (
        "dagster._core.definitions.asset_checks.asset_check_evaluation",
        "AssetCheckEvaluationTargetMaterializationData",
    ),
    ("dagster_shared.check.builder", "EvalContext"),  # its frame capture: new_check_evaluation
    ("dagster._core.definitions.run_request", "InstigatorType"),  # sensor_state
)


def check_target(record: dg.EventLogRecord | None) -> Any | None:
    """The target of a check result: the materialization `record` it judged.

    Without the private type (a Dagster that moved it) the result is left unlinked, which
    the UI shows as a result on an older materialization; the check still runs."""
    if record is None or _TargetData is None:
        return None
    return _TargetData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )


def new_check_evaluation(**fields: Any) -> dg.AssetCheckEvaluation:
    """An ``AssetCheckEvaluation`` built from a frame that holds nothing but its fields
    (see the module docstring: the first record built in a process keeps its caller's
    locals)."""
    return dg.AssetCheckEvaluation(**fields)


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    per_day: Mapping[str, Mapping[str, Any]],
) -> None:
    """Each day's metadata on that day's materialization of `key`, for many days at once.

    Same result as ``context.add_asset_metadata(metadata, asset_key=key, partition_key=day)``
    per day (see the module docstring for why not that), which is what runs when the step
    no longer has the private accumulator."""
    # Only for one-asset ops: on a multi-asset op (stream_assets, prices) the bulk entries
    # did not reach the UI's per-partition events (deploy/test_ui_metadata.py caught it).
    step = _metadata_step(context) if len(context.assets_def.keys) == 1 else None
    if step is None:
        for day, metadata in per_day.items():
            context.add_asset_metadata(metadata, asset_key=key, partition_key=day)
        return
    if key not in context.assets_def.keys:
        raise dg.DagsterInvariantViolationError(
            f"Attempted to add metadata for asset key '{key.to_user_string()}' that is not "
            "being materialized."
        )
    outside = sorted(set(per_day) - set(context.partition_keys))
    if outside:
        raise dg.DagsterInvariantViolationError(
            f"Attempted to add metadata for partition keys {outside[:5]} that are not targeted."
        )
    merged = dict(step._metadata_accumulator.per_output_metadata)
    for day, metadata in per_day.items():
        handle = _new_record(_AssetMetadataHandle, asset_key=key, partition_key=day)
        merged[handle] = {**merged.get(handle, {}), **metadata}
    step._metadata_accumulator = _new_record(_MetadataAccumulator, per_output_metadata=merged)


def _new_record(record_type: Any, **fields: Any) -> Any:
    """A Dagster record built from a frame holding only its fields (see new_check_evaluation)."""
    return record_type(**fields)


def _metadata_step(context: dg.AssetExecutionContext) -> Any | None:
    """The step whose private metadata accumulator this Dagster still has, else None (an
    unreviewed Dagster, or an asset invoked directly, which has no step)."""
    if _MetadataAccumulator is None:
        return None
    try:
        step = context.get_step_execution_context()
    except dg.DagsterError:  # DagsterInvalidPropertyError (not exported) outside a run
        return None
    accumulator = getattr(step, "_metadata_accumulator", None)
    return step if isinstance(accumulator, _MetadataAccumulator) else None


def sensor_state(instance: dg.DagsterInstance, sensor_name: str):
    """The daemon's stored state of a sensor in `instance` (its cursor, origin, selector)."""
    from dagster._core.definitions.run_request import InstigatorType

    (state,) = [
        s
        for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if s.instigator_name == sensor_name
    ]
    return state


def sensor_tick_times(instance: dg.DagsterInstance, sensor_name: str) -> list[float]:
    """The timestamps of a sensor's ticks in `instance`, oldest first."""
    state = sensor_state(instance, sensor_name)
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=10_000)
    return sorted(tick.timestamp for tick in ticks)
