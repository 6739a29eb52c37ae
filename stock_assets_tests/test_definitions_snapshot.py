"""The code location's shape, compared with a committed snapshot, so a Dagster upgrade or a
refactor shows exactly what it changed: asset keys and their deps and partitions, check
specs, jobs, schedules and sensors.

After an intended change, regenerate and commit the snapshot:
    .venv/bin/pytest stock_assets_tests/test_definitions_snapshot.py --update-snapshots
"""

import json
from pathlib import Path

import dagster as dg

from stock_assets.definitions import build_definitions
from stock_assets.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
REGENERATE = (
    "make snapshots (pytest stock_assets_tests/test_definitions_snapshot.py --update-snapshots)"
)


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    """A partitions definition by what defines it (a trading-day calendar's holiday
    exclusions reach a year past today, so they are not part of it)."""
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return (
            f"time window from {partitions_def.start.date()} on '{partitions_def.cron_schedule}'"
            f" ({partitions_def.timezone}, end offset {partitions_def.end_offset}, "
            f"excluding {'holidays' if partitions_def.exclusions else 'nothing'})"
        )
    return type(partitions_def).__name__


def _keys(keys) -> list[str]:
    return sorted(key.to_user_string() for key in keys)


def describe(defs: dg.Definitions) -> dict:
    """What the snapshot holds: names, edges and settings, never run-time values."""
    graph = defs.resolve_asset_graph()
    specs = {spec.key: spec for assets_def in defs.assets for spec in assets_def.specs}
    jobs = {}
    for job in defs.jobs:
        resolved = defs.resolve_job_def(job.name)
        entry: dict = {"partitions": _partitions(resolved.partitions_def)}
        if getattr(job, "selection", None) is not None:  # an asset job (define_asset_job)
            entry["assets"] = _keys(job.selection.resolve(graph))
            entry["checks"] = sorted(
                f"{k.asset_key.to_user_string()}:{k.name}"
                for k in job.selection.resolve_checks(graph)
            )
        else:
            entry["ops"] = sorted(node.name for node in resolved.graph.nodes)
        jobs[job.name] = entry
    return {
        "assets": {
            key.to_user_string(): {
                "deps": _keys(dep.asset_key for dep in spec.deps),
                "partitions": _partitions(spec.partitions_def),
            }
            for key, spec in sorted(specs.items(), key=lambda item: item[0].to_user_string())
        },
        "checks": {
            f"{spec.asset_key.to_user_string()}:{spec.name}": {
                "blocking": spec.blocking,
                "reads": _keys(dep.asset_key for dep in spec.additional_deps),
            }
            # Check ops, and checks an asset's own op evaluates (stream_assets' rejects).
            for checks_def in (*defs.asset_checks, *defs.assets)
            for spec in getattr(checks_def, "check_specs", ())
        },
        "jobs": dict(sorted(jobs.items())),
        "schedules": {
            s.name: {
                "job": s.job_name,
                "cron": s.cron_schedule,
                "timezone": s.execution_timezone,
                "default_status": s.default_status.value,
            }
            for s in sorted(defs.schedules, key=lambda s: s.name)
        },
        "sensors": {
            s.name: {
                "kind": type(s).__name__,
                "jobs": sorted(target.job_name for target in s.targets),
                "default_status": s.default_status.value,
            }
            for s in sorted(defs.sensors, key=lambda s: s.name)
        },
    }


def test_the_definitions_match_the_committed_snapshot(request, tmp_path):
    current = describe(build_definitions(Settings(data_dir=tmp_path)))
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if request.config.getoption("--update-snapshots"):
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"no snapshot yet: create it with `{REGENERATE}`"
    committed = json.loads(SNAPSHOT.read_text())
    changed = sorted(
        f"{section}: {name}"
        for section in sorted(set(current) | set(committed))
        for name in sorted(set(current.get(section, {})) | set(committed.get(section, {})))
        if current.get(section, {}).get(name) != committed.get(section, {}).get(name)
    )
    assert current == committed, (
        f"the definitions differ from {SNAPSHOT.name} in {len(changed)} places: "
        f"{changed[:20]}. If the change is intended, run `{REGENERATE}` and commit the file."
    )


def test_the_snapshot_names_what_the_code_location_loads():
    """The snapshot is of the real code location, not of an empty one."""
    snapshot = json.loads(SNAPSHOT.read_text())
    assert snapshot["assets"]["silver/prices"]["deps"] == ["bronze/raw_quotes"]
    assert snapshot["checks"]["silver/prices:keys"]["blocking"] is True
    assert snapshot["schedules"]["after_close_schedule"]["job"] == "daily_market_job"
