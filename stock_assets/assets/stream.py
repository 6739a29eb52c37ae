"""Streaming path: landing objects -> silver.stream_history (gold.latest_snapshot follows in
assets/snapshot.py, after the run's live signals)."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
from pydantic import Field

from stock_assets.assets.metadata import (
    OWNERS,
    add_materialization_metadata,
    definition_metadata,
)
from stock_assets.assets.prices import WAREHOUSE_POOL
from stock_assets.io_managers.merge import MergeSpec
from stock_assets.market import landing, routing, stream
from stock_assets.market.schemas import STREAM_HISTORY
from stock_assets.partitions import TRADING_DAYS, partition_days, partition_span
from stock_assets.resources.lake import LakeResource

QUARANTINE = "quarantine"
HISTORY_KEY = dg.AssetKey(["silver", "stream_history"])
_SAMPLE = 10
# Where arrivals are listed: the landing contract's prefix and the runs' late quotes.
ARRIVAL_PREFIXES = (landing.LANDING_QUOTES_PREFIX, routing.LATE_QUOTES_PREFIX)
HISTORY_MERGE = MergeSpec(keys=("symbol", "ts"))
# In the stream run itself: a run whose objects held rejected records, or that quarantined an
# object, shows a failed WARN check with the counts and the lake's reports, not a plain green.
REJECTS_CHECK = dg.AssetCheckSpec(
    "rejects",
    asset=HISTORY_KEY,
    description="A run that rejected records is not clean: each rejected record is missing "
    f"from {STREAM_HISTORY.qualified_name} and kept, with its reason, in a report under "
    f"{QUARANTINE}/ in the lake (an unreadable object is moved there whole).",
)


class LandingBatchConfig(dg.Config):
    """The landing objects a run covers: the arrivals sensor names them; left empty (a
    Materialize in the UI), the run rescans every object under landing/quotes/."""

    object_keys: list[str] = Field(
        default_factory=list,
        description="Lake keys under landing/quotes/, oldest first; empty: every object there",
    )


def objects_to_ingest(config: LandingBatchConfig, lake: LakeResource) -> list[str]:
    """The configured objects, or on a rescan every landing object, oldest first. A rescan
    adds nothing already stored (merge writes), so it only picks up what the sensor missed,
    in the run's partitions."""
    if config.object_keys:
        return config.object_keys
    listed = [obj for prefix in ARRIVAL_PREFIXES for obj in lake.list_objects(prefix)]
    return [obj.key for obj in sorted(listed, key=lambda obj: (obj.last_modified, obj.key))]


def quarantine_object(lake: LakeResource, parse: landing.LandingParse) -> str:
    """Move an unparseable object to quarantine/ with a report beside it; return its new key."""
    target = f"{QUARANTINE}/{parse.key}"
    now = dt.datetime.now(dt.UTC)
    lake.put(f"{target}.report.json", landing.quarantine_report(parse, detected_at=now))
    lake.move(parse.key, target)
    return target


def _read_batch(
    context: dg.AssetExecutionContext, lake: LakeResource, keys: list[str]
) -> tuple[list[landing.LandingParse], list[str], list[str]]:
    """Parse each object; quarantine the unparseable ones. Returns parses, quarantined, missing."""
    now = dt.datetime.now(dt.UTC)
    parses, quarantined, missing = [], [], []
    for key in keys:
        try:
            body = lake.get(key)
        except FileNotFoundError:
            # Moved or deleted since the sensor listed it (e.g. quarantined by another run).
            context.log.warning(f"{key}: no longer in the landing zone; skipped")
            missing.append(key)
            continue
        parse = landing.parse_landing_object(key, body, now=now)
        if parse.fatal:
            context.log.error(f"{key}: quarantined: {parse.fatal}")
            quarantined.append(quarantine_object(lake, parse))
            continue
        parses.append(parse)
    return parses, quarantined, missing


_HISTORY_SPEC = dg.AssetSpec(
    HISTORY_KEY,
    description=STREAM_HISTORY.description,
    partitions_def=TRADING_DAYS,
    metadata={
        **definition_metadata(STREAM_HISTORY, partition_expr="trade_date"),
        **HISTORY_MERGE.metadata(),
    },
    kinds={"pandas"},
    group_name="stream",
    owners=OWNERS,
)


# A multi-asset of one output: its op name, `stream_assets`, is what arrivals runs configure
# (the sensor's run config, intraday.landing_objects, the benchmarks).
@dg.multi_asset(
    outs={"history": dg.AssetOut.from_spec(_HISTORY_SPEC, dagster_type=pd.DataFrame)},
    check_specs=[REJECTS_CHECK],
    pool=WAREHOUSE_POOL,
)
def stream_assets(
    context: dg.AssetExecutionContext,
    config: LandingBatchConfig,
    lake: LakeResource,
):
    """Append each landing object's good quotes once.

    Bad records are rejected with their reason (reported, not fatal); an object that cannot
    be parsed at all is quarantined whole. The IO manager merges the rows, so a re-delivered
    object adds nothing.
    """
    now = dt.datetime.now(dt.UTC)
    object_keys = objects_to_ingest(config, lake)
    parses, quarantined, missing = _read_batch(context, lake, object_keys)
    batch = stream.stream_batch(parses, ingested_at=now)
    history, relanded = _keep_run_days(context, lake, config, batch.rows)
    for key, reject in batch.rejects[:_SAMPLE]:
        context.log.warning(landing.reject_message(key, reject))
    reports = _write_reject_reports(lake, batch.rejects)
    reports += [f"{key}.report.json" for key in quarantined]
    add_materialization_metadata(
        context,
        history,
        STREAM_HISTORY,
        {
            "objects": len(object_keys),
            "rejected_records": len(batch.rejects),
            "rejected_sample": dg.MetadataValue.json(
                [landing.reject_message(k, r) for k, r in batch.rejects[:_SAMPLE]]
            ),
            "duplicates_in_batch": batch.duplicates,
            "quarantined_objects": dg.MetadataValue.json(quarantined),
            "missing_objects": dg.MetadataValue.json(missing),
            "late_quotes_objects": dg.MetadataValue.json(relanded),
        },
        asset_key=HISTORY_KEY,
    )
    yield dg.Output(history, output_name="history")
    yield dg.AssetCheckResult(
        asset_key=HISTORY_KEY,
        check_name=REJECTS_CHECK.name,
        passed=not reports,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected_records": len(batch.rejects),
            "quarantined_objects": len(quarantined),
            "reports": dg.MetadataValue.json([lake.uri(key) for key in reports[:_SAMPLE]]),
        },
    )


def _keep_run_days(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    config: LandingBatchConfig,
    rows: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The rows of this run's days. The sensor routes objects by their listing, so a late
    or mixed file holds quotes of other days: those go back as one late-quotes object per
    day under landing/late/, which the next tick routes to that day's run (a rescan
    covers its own partitions only, so it leaves them). Quotes of days before or after
    the partitions are dropped with a warning. Returns the rows and, per late key, its
    quote count and the objects they came from."""
    inside = rows.trade_date.isin(set(partition_days(context))).to_numpy()
    if inside.all():
        return rows, {}
    first, last = partition_span()
    other = rows[~inside]
    routable = other[other.trade_date.between(first, last)] if config.object_keys else other[:0]
    relanded = {}
    # Keys stamped as they are written: the late prefix's key floor assumes writing order.
    written_at = dt.datetime.now(dt.UTC)
    for key, (body, sources) in routing.late_quotes_objects(routable, written_at).items():
        lake.put(key, body)
        relanded[key] = {"quotes": body.count(b"\n"), "from": sources}
        context.log.info(f"{relanded[key]['quotes']} quotes of {sources} re-landed as {key}")
    if dropped := len(other) - len(routable):
        context.log.warning(f"{dropped} quotes fall outside this run's partitions; skipped")
    return rows[inside], relanded


def _write_reject_reports(lake: LakeResource, rejects: list) -> list[str]:
    """One JSON report per object with rejected records, under quarantine/rejected_records/;
    returns their keys."""
    by_key: dict[str, list[dict]] = {}
    for key, reject in rejects:
        by_key.setdefault(key, []).append(
            {"record": reject.record_no, "reason": reject.reason, "raw": reject.raw}
        )
    reports = []
    for key, items in by_key.items():
        report = {"object_key": key, "rejected": items}
        reports.append(f"{QUARANTINE}/rejected_records/{key}.json")
        lake.put(reports[-1], json.dumps(report, indent=1).encode())
    return reports
