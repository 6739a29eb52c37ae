"""Asset checks: the catalogue (market/catalogue.py) turned into check ops.

One check op per table reads exactly the run's partitions of the table once through the
IO manager's public ``read`` (DuckDB locally, S3/Glue in AWS), runs every rule once on
those rows, and records one result per check and run: for a partitioned table with the
range it judged and the days that failed (``partition_range``, ``failing_partitions``).
One more op checks the SQL views through the ``sql_engine``.

Why the checks are unpartitioned (no ``partitions_def`` on the specs, a preview feature):
Dagster stores one *planned* row per partition and partitioned check when a run is
created, so a ten-year single-run backfill planned tens of thousands of rows before any
step started (docs/ARCHITECTURE.md). An unpartitioned check plans one row per run, and a
blocking failure still stops downstream assets. Dagster 1.13 still plans it per partition
when the run stores its partition subset, which it does when the last asset step of the
plan is partitioned: daily_market_job ends with the unpartitioned views and quality_job has
no asset step, so neither does.
"""

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence

import dagster as dg
import pandas as pd

from stock_assets.assets import gold, intraday, live, prices, snapshot, stream
from stock_assets.assets.metadata import markdown_table
from stock_assets.assets.prices import WAREHOUSE_POOL
from stock_assets.assets.views import VIEWS
from stock_assets.compat import check_target, new_check_evaluation
from stock_assets.market import catalogue, quality
from stock_assets.market.rules import Check, Scope, failing_days, judge
from stock_assets.market.sql import View
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.sql_engine import SqlEngine

SAMPLE_ROWS = 5  # failing rows shown per rule in a check's metadata
FAILING_DAYS_SHOWN = 100  # failing days listed in a result's metadata


def table_key(table: str) -> dg.AssetKey:
    """The asset key of a `layer.table`."""
    return dg.AssetKey(table.split("."))


CHECKS: dict[dg.AssetKey, tuple[Check, ...]] = {
    table_key(table): checks for table, checks in catalogue.TABLE_CHECKS.items()
}
RAW_QUOTES_KEY = table_key("bronze.raw_quotes")
PRICES_KEY = table_key("silver.prices")
REJECTS_KEY = table_key("silver.price_rejects")
INDICATORS_KEY = table_key("gold.indicators")
SIGNALS_KEY = table_key("gold.signals")
SUMMARY_KEY = table_key("gold.market_summary")
HISTORY_KEY = table_key("silver.stream_history")
SNAPSHOT_KEY = table_key("gold.latest_snapshot")


# -- results ------------------------------------------------------------------------------


def _severity(check: Check, failed: Sequence) -> dg.AssetCheckSeverity:
    """ERROR when an ERROR rule failed (and for a passing blocking check), WARN when only
    WARN rules did: Dagster gates downstream assets on a failed blocking check of severity
    ERROR only."""
    if any(rule.error for rule in failed) or (check.blocking and not failed):
        return dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckSeverity.WARN


def _evaluation(
    key: dg.AssetKey,
    check: Check,
    outcomes: Sequence[quality.Outcome],
    rows_checked: int,
    days: Sequence[dt.date],
    target: dg.EventLogRecord | None,
) -> dg.AssetCheckEvaluation:
    """One check's result for the run: failing rules, their evidence, its severity, and for
    a partitioned table the range it judged and which of its days failed."""
    failed = [(r, o) for r, o in zip(check.rules, outcomes, strict=True) if not o.passed]
    metadata = {
        "failing_count": dg.MetadataValue.int(sum(o.failing_count for _, o in failed)),
        "rows_checked": dg.MetadataValue.int(rows_checked),
        **(_range_metadata(outcomes, days) if days else {}),
        **{name: dg.MetadataValue.text(text) for name, text in check.notes.items()},
    }
    samples = [o.failing.head(SAMPLE_ROWS).assign(rule=r.what) for r, o in failed]
    if any(not sample.empty for sample in samples):
        metadata["failing_sample"] = dg.MetadataValue.md(markdown_table(pd.concat(samples)))
    return new_check_evaluation(
        asset_key=key,
        check_name=check.name,
        passed=not failed,
        metadata=metadata,
        target_materialization_data=check_target(target),
        severity=_severity(check, [r for r, _ in failed]),
        description="; ".join(o.description for o in ([o for _, o in failed] or outcomes)),
        blocking=check.blocking,
    )


def _range_metadata(
    outcomes: Sequence[quality.Outcome], days: Sequence[dt.date]
) -> dict[str, dg.MetadataValue]:
    """The range a result judged, and which of its days failed."""
    failing = sorted(set().union(*(failing_days(o, days) for o in outcomes)))
    return {
        "partition_range": dg.MetadataValue.text(f"{days[0]}..{days[-1]}"),
        "partitions_checked": dg.MetadataValue.int(len(days)),
        "failing_partition_count": dg.MetadataValue.int(len(failing)),
        "failing_partitions": dg.MetadataValue.json(
            [day.isoformat() for day in failing[:FAILING_DAYS_SHOWN]]
        ),
    }


# -- what the run judges ------------------------------------------------------------------


def latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, partitions: Sequence[str]
) -> dg.EventLogRecord | None:
    """The newest materialization of `partitions` (of the table when there are none).

    Set explicitly because ``AssetCheckResult`` looks it up in the run's partition even for
    an unpartitioned table, so gold.latest_snapshot's results in a stream run (one trading
    day) would be linked to nothing."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=list(partitions) or None),
        limit=1,
    ).records
    return records[0] if records else None


def latest_materializations(
    instance: dg.DagsterInstance, key: dg.AssetKey, partitions: Sequence[str]
) -> dict[str, dg.EventLogRecord]:
    """The newest materialization of each partition."""
    ids = instance.get_latest_storage_id_by_partition(
        key, dg.DagsterEventType.ASSET_MATERIALIZATION, set(partitions)
    )
    if not ids:
        return {}
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, storage_ids=list(ids.values())), limit=len(ids)
    )
    return {record.partition_key: record for record in found.records}


def source_symbol_errors(
    instance: dg.DagsterInstance, partitions: Sequence[str]
) -> dict[dt.date, dict[str, str]]:
    """Per day, the symbols the source failed on in the pull that produced bronze."""
    errors = {}
    for partition, record in latest_materializations(instance, RAW_QUOTES_KEY, partitions).items():
        reported = record.asset_materialization.metadata.get("symbol_errors")
        errors[dt.date.fromisoformat(partition)] = dict(reported.value) if reported else {}
    return errors


def run_partitions(
    context: dg.AssetCheckExecutionContext,
    key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition | None,
) -> list[str]:
    """The partitions of `key` a check judges: the run's (a partition or a range, read from
    the run's tags: an unpartitioned check has no partitions of its own); for a check
    launched without any, the partition of the table's latest materialization, which is also
    the materialization its result is linked to. Empty for an unpartitioned table."""
    if partitions_def is None:
        return []
    if context.op_execution_context.has_partitions:
        return list(partitions_def.get_partition_keys_in_range(context.partition_key_range))
    latest = latest_materialization(context.instance, key, [])
    if latest is None:
        raise dg.Failure(f"{key.to_user_string()} has no materialization to check yet")
    return [latest.partition_key]


def _table(key: dg.AssetKey) -> str:
    return ".".join(key.path)


def evaluate_checks(
    context: dg.AssetCheckExecutionContext,
    key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition | None,
    specs: Mapping[str, tuple[Check, dg.AssetCheckSpec]],
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """Read the run's partitions of the table (and of the tables the selected checks compare
    with) once, run each selected check's rules once on them, and report each check once."""
    chosen = [
        (c, spec) for c, spec in specs.values() if spec.key in context.selected_asset_check_keys
    ]
    partitions = run_partitions(context, key, partitions_def)
    reads = {name: table for c, _ in chosen for name, table in c.reads.items()}
    key_reads = _key_reads([c for c, _ in chosen])
    uses_watchlist = any(c.uses_watchlist for c, _ in chosen)
    warehouse = context.resources.io_manager
    scope = Scope(
        rows=warehouse.read(_table(key), partitions or None),
        days=[dt.date.fromisoformat(p) for p in partitions],
        now=dt.datetime.now(dt.UTC),
        related={
            name: warehouse.distinct(table, key_reads[name], partitions or None)
            if name in key_reads
            else warehouse.read(table, partitions or None)
            for name, table in reads.items()
        },
        watchlist=context.resources.market_data.watchlist() if uses_watchlist else (),
        symbol_errors=source_symbol_errors(context.instance, partitions) if uses_watchlist else {},
        history_start=dt.date.fromisoformat(TRADING_DAYS.get_first_partition_key()),
    )
    target = latest_materialization(context.instance, key, partitions)
    for check, spec in chosen:
        outcomes = [judge(rule, scope) for rule in check.rules]
        yield _evaluation(key, check, outcomes, len(scope.rows), scope.days, target)
        yield dg.Output(None, output_name=spec.get_python_identifier())


def _key_reads(checks: list[Check]) -> dict[str, tuple[str, ...]]:
    """Related tables to read as distinct keys (the union of the columns the checks name):
    those that no chosen check needs whole."""
    columns: dict[str, set[str]] = {}
    for check in checks:
        for name, keys in check.key_reads.items():
            columns.setdefault(name, set()).update(keys)
    whole = {name for check in checks for name in check.reads if name not in check.key_reads}
    return {name: tuple(sorted(keys)) for name, keys in columns.items() if name not in whole}


def _spec(key: dg.AssetKey, check: Check) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        check.name,
        asset=key,
        description=check.description,
        blocking=check.blocking,
        additional_deps=[table_key(table) for table in check.reads.values()],
    )


def table_checks(
    key: dg.AssetKey, checks: Sequence[Check], partitions_def: dg.PartitionsDefinition | None
) -> dg.AssetChecksDefinition:
    """One check op per table: reads it (and the tables its checks compare with) once.

    The specs are unpartitioned (see the module docstring); `asset` and `additional_deps`
    keep the ordering and lineage an input would give."""
    specs = {check.name: (check, _spec(key, check)) for check in checks}

    @dg.multi_asset_check(
        name=f"{key.to_python_identifier()}_checks",
        specs=[spec for _, spec in specs.values()],
        can_subset=True,
        pool=WAREHOUSE_POOL,  # reads the DuckDB warehouse file, which a writer locks
        # Every table is stored by the default IO manager, whose read() the op calls.
        required_resource_keys={"io_manager"}
        | ({"market_data"} if any(c.uses_watchlist for c in checks) else set()),
        description=f"Data-quality checks of {key.to_user_string()} (market/catalogue.py).",
    )
    def _checks(context: dg.AssetCheckExecutionContext):
        yield from evaluate_checks(context, key, partitions_def, specs)

    return _checks


def _view_facts(engine: SqlEngine, view: View) -> catalogue.ViewFacts:
    return catalogue.ViewFacts(
        rows=engine.count(f"SELECT count(*) FROM {view.qualified_name}"),
        expected_rows=engine.count(catalogue.VIEW_EXPECTATIONS[view.qualified_name].rows),
        columns=engine.columns(view),
        declared=view.declared_columns,
    )


def view_checks() -> dg.AssetChecksDefinition:
    """One check op for every SQL view: each view's facts asked of the `sql_engine`."""
    specs = {
        dg.AssetCheckKey(key, check.name): (check, _spec(key, check))
        for key, view in VIEWS.items()
        for check in catalogue.view_checks(catalogue.VIEW_EXPECTATIONS[view.qualified_name])
    }

    @dg.multi_asset_check(
        name="sql_view_checks",
        specs=[spec for _, spec in specs.values()],
        can_subset=True,
        pool=WAREHOUSE_POOL,
        required_resource_keys={"sql_engine"},
        description="Checks of the SQL views: columns, row count against their inputs, rows.",
    )
    def _checks(context: dg.AssetCheckExecutionContext):
        engine = context.resources.sql_engine
        selected = context.selected_asset_check_keys
        for key in sorted({k.asset_key for k in selected}, key=lambda k: k.to_user_string()):
            view = VIEWS[key]
            try:
                facts: catalogue.ViewFacts | Exception = _view_facts(engine, view)
            except Exception as exc:  # the engine could not answer: every rule fails, named
                facts = exc
            target = latest_materialization(context.instance, key, [])
            for check_key, (check, spec) in specs.items():
                if check_key in selected and check_key.asset_key == key:
                    outcomes = [
                        quality.failed_to_evaluate(rule.what, facts)
                        if isinstance(facts, Exception)
                        else judge(rule, facts)
                        for rule in check.rules
                    ]
                    rows = 0 if isinstance(facts, Exception) else facts.rows
                    yield _evaluation(key, check, outcomes, rows, [], target)
                    yield dg.Output(None, output_name=spec.get_python_identifier())

    return _checks


def asset_checks(assets: Iterable[dg.AssetsDefinition]) -> list[dg.AssetChecksDefinition]:
    """The checks of every catalogued table among `assets`, and of the SQL views."""
    partitions = {spec.key: spec.partitions_def for a in assets for spec in a.specs}
    return [
        *(table_checks(key, checks, partitions.get(key)) for key, checks in CHECKS.items()),
        view_checks(),
    ]


ASSET_CHECKS = asset_checks(
    dg.load_assets_from_modules([prices, gold, stream, intraday, live, snapshot])
)
