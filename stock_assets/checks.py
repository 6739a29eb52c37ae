"""Asset checks on every table, freshness policies, and the on-demand quality job.

Thin Dagster shell around market.quality. Each table has a few named checks (schema, keys,
values, completeness, ...), each a group of rules. One check op per table loads exactly the
run's partitions of the table once through its IO manager, runs every rule once on those
rows, and records one result per check and run: for a partitioned table with the range it
judged and the days that failed (``partition_range``, ``failing_partitions``).

Why the checks are unpartitioned (no ``partitions_def`` on the specs, a preview feature):
Dagster stores one *planned* row per partition and partitioned check when a run is
created, each re-serialising an event that carries the partitions definition. A ten-year
single-run backfill (2,520 sessions x 26 checks) wrote 65,520 of them before any step
started; at 100 symbols x 500 sessions that was 24.6 s of a 52 s run. An unpartitioned
check plans one row per run (benchmarks/run.py, 50 symbols x 300 sessions: 16.7 s ->
10.6 s), and a blocking failure still stops downstream assets. Dagster 1.13 still plans
it per partition when the run stores its partition subset, which it does when the last
asset step of the plan is partitioned: daily_market_job ends with the unpartitioned views
and quality_job has no asset step, so neither does; a range run of only partitioned
tables does, and its extra rows stay *planned* beside the result.

Severity: a contract rule (schema, keys; values on silver.prices; band and RSI bounds on
gold.indicators) is ERROR and blocking, so tables computed from the checked one are not
built from bad data and the run fails (which alerts, see alerting.py). Everything else is
informative: WARN, not blocking.
"""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.assets.graph.asset_graph import AssetNode

from stock_assets.assets.metadata import markdown_table
from stock_assets.assets.prices import PRICES_KEY, REJECTS_KEY, WAREHOUSE_POOL
from stock_assets.assets.stream import HISTORY_KEY, SNAPSHOT_KEY
from stock_assets.market import calendar, quality
from stock_assets.market.schemas import (
    INDICATORS,
    LATEST_SNAPSHOT,
    MARKET_SUMMARY,
    PRICE_REJECTS,
    PRICES,
    RAW_QUOTES,
    SIGNALS,
    STREAM_HISTORY,
    TableSchema,
)
from stock_assets.market.watchlist import default_listings
from stock_assets.partitions import TRADING_DAYS

SAMPLE_ROWS = 5  # failing rows shown per rule in a check's metadata
FAILING_DAYS_SHOWN = 100  # failing days listed in a result's metadata
FRAME = dg.PythonObjectDagsterType(pd.DataFrame)  # what load_table asks the IO manager for

RAW_QUOTES_KEY = dg.AssetKey(["bronze", "raw_quotes"])
INDICATORS_KEY = dg.AssetKey(["gold", "indicators"])
SIGNALS_KEY = dg.AssetKey(["gold", "signals"])
SUMMARY_KEY = dg.AssetKey(["gold", "market_summary"])


@dataclass(frozen=True)
class Scope:
    """What a check's rules see: every row the check loaded (the run's partitions)."""

    rows: pd.DataFrame
    days: list[dt.date]  # the run's trading days; empty for an unpartitioned table
    now: dt.datetime
    related: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    watchlist: tuple[str, ...] = ()
    symbol_errors: Mapping[dt.date, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One test inside a check. A failing `error` rule makes the check fail at ERROR."""

    what: str  # the rule in a few words, for the check's description
    evaluate: Callable[[Scope], quality.Outcome]
    error: bool = False


@dataclass(frozen=True)
class Check:
    """One asset check: a named group of rules, what it protects, and what it reads."""

    name: str
    purpose: str
    rules: tuple[Rule, ...]
    reads: Mapping[str, dg.AssetKey] = field(default_factory=dict)  # related tables it loads
    uses_watchlist: bool = False

    @property
    def blocking(self) -> bool:
        """Blocking when any rule is an error; a failure of only WARN rules still lets
        downstream assets run (gating needs severity ERROR)."""
        return any(rule.error for rule in self.rules)

    @property
    def description(self) -> str:
        rules = "; ".join(f"{r.what} [{'ERROR' if r.error else 'WARN'}]" for r in self.rules)
        return f"{self.purpose} Rules: {rules}."


# -- checks and rules shared by several tables --------------------------------------------


def schema_check(contract: TableSchema) -> Check:
    return Check(
        "schema",
        f"The stored {contract.qualified_name} keeps its contract (market/schemas.py), so "
        "readers and downstream assets see the declared table.",
        (
            Rule(
                "every contract column present with its type",
                lambda s: quality.schema_matches(s.rows, contract),
                error=True,
            ),
        ),
    )


def keys_check(not_null: Sequence[str], unique: Sequence[str]) -> Check:
    return Check(
        "keys",
        "Every row is addressable: a row without its key cannot be joined or replaced, and "
        "a duplicate double-counts (and breaks the recursive indicators).",
        (
            Rule(
                f"no NULL in {', '.join(not_null)}",
                lambda s: quality.no_nulls(s.rows, not_null),
                error=True,
            ),
            Rule(
                f"one row per ({', '.join(unique)})",
                lambda s: quality.unique(s.rows, unique),
                error=True,
            ),
        ),
    )


def values_check(purpose: str, *rules: Rule) -> Check:
    return Check("values", purpose, rules)


def not_in_future(*columns: str) -> Rule:
    return Rule(
        f"no {', '.join(columns)} in the future (tolerance {quality.FUTURE_TOLERANCE})",
        lambda s: quality.not_in_future(s.rows, columns, s.now),
    )


def positive(*columns: str, error: bool = False) -> Rule:
    return Rule(
        f"{', '.join(columns)} finite and > 0",
        lambda s: quality.positive(s.rows, columns),
        error=error,
    )


def non_negative(*columns: str, error: bool = False, allow_null: bool = False) -> Rule:
    return Rule(
        f"{', '.join(columns)} >= 0" + (" where present" if allow_null else ""),
        lambda s: quality.non_negative(s.rows, columns, allow_null=allow_null),
        error=error,
    )


NO_HOLIDAY_ROWS = Rule("no row dated on an NYSE holiday", lambda s: quality.on_sessions(s.rows))
ROWS_EVERY_DAY = Rule("every trading day has rows", lambda s: quality.rows_on_days(s.rows, s.days))


def _listed_since() -> dict[str, dt.date | None]:
    return {symbol: listing.listed_since for symbol, listing in default_listings().items()}


WATCHLIST_COMPLETE = Rule(
    "every watchlist symbol present each day unless not listed yet, failed at the source "
    "or (silver) rejected into silver.price_rejects",
    lambda s: quality.watchlist_covered(
        s.rows, s.days, s.watchlist, _listed_since(), s.related.get("rejects"), s.symbol_errors
    ),
)


def completeness_check(*rules: Rule, reads: Mapping[str, dg.AssetKey] | None = None) -> Check:
    return Check(
        "completeness",
        "Nothing is misfiled or missing: a row on a closed day, an empty session or a missing "
        "symbol means a failed or misfiled pull.",
        rules,
        reads=reads or {},
        uses_watchlist=WATCHLIST_COMPLETE in rules,
    )


# -- the checks of each table -------------------------------------------------------------

CHECKS: dict[dg.AssetKey, tuple[Check, ...]] = {
    RAW_QUOTES_KEY: (
        schema_check(RAW_QUOTES),
        keys_check(
            ("symbol", "trade_date", "record_no", "object_key"), ("object_key", "record_no")
        ),
        values_check("Records carry sane timestamps.", not_in_future("trade_date", "fetched_at")),
        completeness_check(NO_HOLIDAY_ROWS, ROWS_EVERY_DAY, WATCHLIST_COMPLETE),
    ),
    PRICES_KEY: (
        schema_check(PRICES),
        keys_check(("symbol", "trade_date"), ("symbol", "trade_date")),
        values_check(
            "Bars are real prices: a bad bar poisons every indicator computed from it.",
            positive("open", "high", "low", "close", "adj_close", error=True),
            non_negative("volume", error=True),
            Rule(
                "high >= max(open, close) and low <= min(open, close)",
                lambda s: quality.ohlc_consistent(s.rows),
                error=True,
            ),
            not_in_future("trade_date", "ingested_at"),
        ),
        completeness_check(
            NO_HOLIDAY_ROWS, ROWS_EVERY_DAY, WATCHLIST_COMPLETE, reads={"rejects": REJECTS_KEY}
        ),
    ),
    REJECTS_KEY: (
        schema_check(PRICE_REJECTS),
        keys_check(
            ("object_key", "record_no", "symbol", "trade_date", "reason"),
            ("object_key", "record_no"),
        ),
        values_check("Rejects are dated sanely.", not_in_future("trade_date")),
        completeness_check(NO_HOLIDAY_ROWS),
    ),
    INDICATORS_KEY: (
        schema_check(INDICATORS),
        keys_check(("symbol", "trade_date", "close"), ("symbol", "trade_date")),
        values_check(
            "Indicator values are possible: signals read the bands and the RSI.",
            Rule(
                "bb_lower <= bb_middle <= bb_upper",
                lambda s: quality.bollinger_ordered(s.rows),
                error=True,
            ),
            Rule("rsi_14 within [0, 100]", lambda s: quality.rsi_in_range(s.rows), error=True),
        ),
        Check(
            "warmup",
            "NULLs appear only in each symbol's warm-up (LOOKBACK_BARS per column), judged "
            "from the bars the run's partitions show (see market/quality.py).",
            (
                Rule(
                    "NULL iff the bar count is below the column's lookback",
                    lambda s: quality.warmup_nulls_as_expected(
                        s.rows,
                        dt.date.fromisoformat(TRADING_DAYS.get_first_partition_key()),
                        _listed_since(),
                    ),
                ),
            ),
        ),
        completeness_check(NO_HOLIDAY_ROWS, ROWS_EVERY_DAY),
    ),
    SIGNALS_KEY: (
        schema_check(SIGNALS),
        keys_check(("symbol", "trade_date", "signal"), ("symbol", "trade_date", "signal")),
        values_check("Signals are dated sanely.", not_in_future("trade_date")),
        Check(
            "references",
            "Alerts never go out about bars that do not exist.",
            (
                Rule(
                    "every signal's (symbol, trade_date) has a silver.prices bar",
                    lambda s: quality.signals_have_prices(s.rows, s.related["prices"]),
                ),
            ),
            reads={"prices": PRICES_KEY},
        ),
        completeness_check(NO_HOLIDAY_ROWS),
    ),
    SUMMARY_KEY: (
        schema_check(MARKET_SUMMARY),
        keys_check(("trade_date",), ("trade_date",)),
        values_check(
            "Breadth counts are counts.",
            non_negative(
                "symbols", "advancers", "decliners", "unchanged", "anomaly_count", "signal_count"
            ),
        ),
        completeness_check(NO_HOLIDAY_ROWS, ROWS_EVERY_DAY),
    ),
    HISTORY_KEY: (
        schema_check(STREAM_HISTORY),
        keys_check(("symbol", "ts", "trade_date"), ("symbol", "ts")),
        values_check(
            "Quotes are real prices at real times.",
            positive("price"),
            non_negative("volume", allow_null=True),
            not_in_future("ts", "ingested_at"),
        ),
        completeness_check(
            NO_HOLIDAY_ROWS,
            Rule(
                "trade_date is the New York day of ts (the quote's partition)",
                lambda s: quality.trade_date_matches_ts(s.rows),
            ),
        ),
    ),
    SNAPSHOT_KEY: (
        schema_check(LATEST_SNAPSHOT),
        keys_check(("symbol", "ts"), ("symbol",)),
        values_check(
            "The snapshot shows real prices at real times.",
            positive("price"),
            not_in_future("ts", "updated_at"),
        ),
    ),
}


# -- evaluation ---------------------------------------------------------------------------


def _judge(rule: Rule, scope: Scope) -> quality.Outcome:
    try:
        return rule.evaluate(scope)
    except Exception as exc:  # a rule that cannot read the data fails; the others still run
        return quality.failed_to_evaluate(rule.what, exc)


def _severity(check: Check, failed: Sequence[Rule]) -> dg.AssetCheckSeverity:
    """ERROR for a blocking check, unless only its WARN rules failed: Dagster gates
    downstream assets on a failed blocking check of severity ERROR only."""
    if check.blocking and (not failed or any(rule.error for rule in failed)):
        return dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckSeverity.WARN


def _evaluation(
    key: dg.AssetKey,
    check: Check,
    outcomes: Sequence[quality.Outcome],
    scope: Scope,
    target: dg.EventLogRecord | None,
) -> dg.AssetCheckEvaluation:
    """One check's result for the run: failing rules, their evidence, its severity, and for
    a partitioned table the range it judged and which of its days failed."""
    failed = [(r, o) for r, o in zip(check.rules, outcomes, strict=True) if not o.passed]
    metadata = {
        "failing_count": dg.MetadataValue.int(sum(o.failing_count for _, o in failed)),
        "rows_checked": dg.MetadataValue.int(len(scope.rows)),
        **(_range_metadata(outcomes, scope.days) if scope.days else {}),
    }
    samples = [o.failing.head(SAMPLE_ROWS).assign(rule=r.what) for r, o in failed]
    if any(not sample.empty for sample in samples):
        metadata["failing_sample"] = dg.MetadataValue.md(markdown_table(pd.concat(samples)))
    return _new_evaluation(
        asset_key=key,
        check_name=check.name,
        passed=not failed,
        metadata=metadata,
        target_materialization_data=_target(target),
        severity=_severity(check, [r for r, _ in failed]),
        description="; ".join(o.description for o in ([o for _, o in failed] or outcomes)),
        blocking=check.blocking,
    )


def _new_evaluation(**fields: Any) -> dg.AssetCheckEvaluation:
    """An AssetCheckEvaluation built from a frame that holds nothing else.

    Dagster's records compile their constructor on first use and keep a copy of the
    calling frame's locals for good (dagster_shared EvalContext.update_from_frame). Built
    inside _evaluation, the first result of a process pinned its Scope: the whole table the
    first check op loaded (1.26M bronze rows, about 560 MB, in a ten-year load).
    """
    return dg.AssetCheckEvaluation(**fields)


def _target(
    record: dg.EventLogRecord | None,
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The materialization a result judges: without it the UI treats the result as stale."""
    if record is None:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )


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


def _failing_days(outcome: quality.Outcome, days: Sequence[dt.date]) -> set[dt.date]:
    """The days an outcome fails on; evidence without a trade_date fails every day."""
    if outcome.passed:
        return set()
    if outcome.error is not None or "trade_date" not in outcome.failing.columns:
        return set(days)
    return set(outcome.failing["trade_date"])


def _range_metadata(
    outcomes: Sequence[quality.Outcome], days: Sequence[dt.date]
) -> dict[str, dg.MetadataValue]:
    """The range a result judged, and which of its days failed."""
    failing = sorted(set().union(*(_failing_days(o, days) for o in outcomes)))
    return {
        "partition_range": dg.MetadataValue.text(f"{days[0]}..{days[-1]}"),
        "partitions_checked": dg.MetadataValue.int(len(days)),
        "failing_partition_count": dg.MetadataValue.int(len(failing)),
        "failing_partitions": dg.MetadataValue.json(
            [day.isoformat() for day in failing[:FAILING_DAYS_SHOWN]]
        ),
    }


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


def _table(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> AssetNode:
    """The table's node in the run's asset graph: partitions, metadata, IO manager key."""
    return context.op_execution_context.job_def.asset_layer.get(key)


def run_partitions(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> list[str]:
    """The partitions of `key` a check judges: the run's (a partition or a range, read from
    the run's tags: an unpartitioned check has no partitions of its own); for a check
    launched without any, the partition of the table's latest materialization, which is also
    the materialization its result is linked to. Empty for an unpartitioned table."""
    partitions_def = _table(context, key).partitions_def
    if partitions_def is None:
        return []
    if context.op_execution_context.has_partitions:
        return list(partitions_def.get_partition_keys_in_range(context.partition_key_range))
    latest = latest_materialization(context.instance, key, [])
    if latest is None:
        raise dg.Failure(f"{key.to_user_string()} has no materialization to check yet")
    return [latest.partition_key]


def load_table(
    context: dg.AssetCheckExecutionContext, key: dg.AssetKey, partitions: Sequence[str]
) -> pd.DataFrame:
    """Exactly `partitions` of a table (all of an unpartitioned one), read through the table's
    own IO manager, as Dagster would load an input (DuckDB locally, S3/Glue in AWS).

    Not an `AssetIn`: an unpartitioned check's input spans every partition of a partitioned
    table, whatever the run's range. The IO manager's resolved config (which
    dagster-duckdb's client reads from the input context) exists only on the step context.
    """
    node = _table(context, key)
    run_config = context.op_execution_context.get_step_execution_context().resolved_run_config
    # Built directly with the step's resources: build_input_context/build_output_context
    # would build resources of their own, each in a new ephemeral instance (0.1-0.6 s per
    # table read, about 1.4 s of a daily run).
    subset = None
    if partitions:
        span = dg.PartitionKeyRange(partitions[0], partitions[-1])
        subset = node.partitions_def.empty_subset().with_partition_key_range(
            node.partitions_def, span
        )
    input_context = dg.InputContext(
        upstream_output=dg.OutputContext(
            asset_key=key, definition_metadata=node.metadata, resources=context.resources
        ),
        dagster_type=FRAME,
        resource_config=run_config.resources[node.io_manager_key].config,
        resources=context.resources,
        asset_key=key,
        asset_partitions_def=node.partitions_def if partitions else None,
        asset_partitions_subset=subset,
        instance=context.instance,
    )
    return getattr(context.resources, node.io_manager_key).load_input(input_context)


def evaluate_checks(
    context: dg.AssetCheckExecutionContext,
    key: dg.AssetKey,
    specs: Mapping[str, tuple[Check, dg.AssetCheckSpec]],
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """Load the run's partitions of the table (and of the tables the selected checks compare
    with) once, run each selected check's rules once on them, and report each check once."""
    chosen = [
        (c, spec) for c, spec in specs.values() if spec.key in context.selected_asset_check_keys
    ]
    partitions = run_partitions(context, key)
    reads = {name: dep for c, _ in chosen for name, dep in c.reads.items()}
    uses_watchlist = any(c.uses_watchlist for c, _ in chosen)
    scope = Scope(
        rows=load_table(context, key, partitions),
        days=[dt.date.fromisoformat(p) for p in partitions],
        now=dt.datetime.now(dt.UTC),
        related={name: load_table(context, dep, partitions) for name, dep in reads.items()},
        watchlist=context.resources.market_data.watchlist() if uses_watchlist else (),
        symbol_errors=source_symbol_errors(context.instance, partitions) if uses_watchlist else {},
    )
    target = latest_materialization(context.instance, key, partitions)
    for check, spec in chosen:
        outcomes = [_judge(rule, scope) for rule in check.rules]
        yield _evaluation(key, check, outcomes, scope, target)
        yield dg.Output(None, output_name=spec.get_python_identifier())


def table_checks(key: dg.AssetKey, checks: Sequence[Check]) -> dg.AssetChecksDefinition:
    """One check op per table: loads it (and the tables its checks compare with) once.

    The specs are unpartitioned (see the module docstring); `asset` and `additional_deps`
    keep the ordering and lineage an input would give."""
    specs = {
        check.name: (
            check,
            dg.AssetCheckSpec(
                check.name,
                asset=key,
                description=check.description,
                blocking=check.blocking,
                additional_deps=list(check.reads.values()),
            ),
        )
        for check in checks
    }

    @dg.multi_asset_check(
        name=f"{key.to_python_identifier()}_checks",
        specs=[spec for _, spec in specs.values()],
        can_subset=True,
        pool=WAREHOUSE_POOL,  # reads the DuckDB warehouse file, which a writer locks
        # Every table is stored by the default IO manager, which load_table reads through.
        required_resource_keys={"io_manager"}
        | ({"market_data"} if any(c.uses_watchlist for c in checks) else set()),
        description=f"Data-quality checks of {key.to_user_string()} (market/quality.py).",
    )
    def _checks(context: dg.AssetCheckExecutionContext):
        yield from evaluate_checks(context, key, specs)

    return _checks


ASSET_CHECKS = [table_checks(key, checks) for key, checks in CHECKS.items()]


# -- freshness ----------------------------------------------------------------------------

# The daily batch (after_close_schedule, 18:30) lands between the 16:00 close and 20:00.
# Cron freshness has no exchange calendar: on an NYSE holiday the asset shows FAIL from
# 20:00 until the next session's run.
DAILY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 20 * * 1-5",
    lower_bound_delta=dt.timedelta(hours=4),
    timezone=calendar.MARKET_TIMEZONE,
)
# During the session the stream moves at least every 5 minutes (ticks 10:00-15:55 New York);
# overnight and at weekends the last tick of the session is judged, so a quiet night is fine.
INTRADAY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="*/5 10-15 * * 1-5",
    lower_bound_delta=dt.timedelta(minutes=5),
    timezone=calendar.MARKET_TIMEZONE,
)
FRESHNESS_POLICIES: dict[dg.AssetKey, dg.FreshnessPolicy] = {
    **dict.fromkeys(
        (RAW_QUOTES_KEY, PRICES_KEY, REJECTS_KEY, INDICATORS_KEY, SIGNALS_KEY, SUMMARY_KEY),
        DAILY_FRESHNESS,
    ),
    HISTORY_KEY: INTRADAY_FRESHNESS,
    SNAPSHOT_KEY: INTRADAY_FRESHNESS,
}


def with_freshness_policies(
    assets: Sequence[dg.AssetsDefinition],
) -> Sequence[dg.AssetsDefinition]:
    """The assets with their freshness policy set, so asset modules stay free of it."""

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        policy = FRESHNESS_POLICIES.get(spec.key)
        return spec.replace_attributes(freshness_policy=policy) if policy else spec

    return dg.map_asset_specs(apply, assets)


# -- the on-demand job --------------------------------------------------------------------

# A job that selects only checks gets no partitions from its assets in Dagster 1.13 (and
# define_asset_job's partitions_def is deprecated and ignored for it); a PartitionedConfig
# with no run config is the supported way to give it the trading-day partitions.
quality_job = dg.define_asset_job(
    name="quality_job",
    selection=dg.AssetSelection.all_asset_checks(),
    config=dg.PartitionedConfig(
        partitions_def=TRADING_DAYS, run_config_for_partition_key_fn=lambda _: {}
    ),
    description=(
        "Run every asset check on the stored tables for a trading day, or a range of them in "
        "one run (range tags), without materializing anything."
    ),
)
