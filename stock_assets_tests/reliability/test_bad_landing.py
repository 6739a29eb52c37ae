"""Bad inputs catalogue, landing objects: each kind of broken input, one test id each.

The cases (bad_landing_cases) are written as objects into one local landing zone; the
arrivals sensor is evaluated and the runs it requests are executed (stream assets -> DuckDB),
once for the whole catalogue. Every case then checks, from what the pipeline left behind: the
bad record was rejected with a reason naming its file and record (or the object was
quarantined whole, with a report), the good records beside it landed exactly once, and
nothing half-written remains.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from stock_assets.resources.lake import LocalLake
from stock_assets_tests.assets.test_stream import Harness
from stock_assets_tests.reliability.bad_landing_cases import LANDING_CASES, PREFIX, LandingCase
from stock_assets_tests.reliability.runs import warehouse_tables

LANDING_AREA = "bad input: landing"


@dataclass(frozen=True)
class LandingRun:
    lake: LocalLake
    home: Path
    history: pd.DataFrame
    tables: set[str]


@pytest.fixture(scope="module")
def landing_run(tmp_path_factory: pytest.TempPathFactory) -> LandingRun:
    """Every landing case's objects, through the sensor and the runs it requests, once."""
    home = tmp_path_factory.mktemp("landing-catalogue")
    lake = LocalLake(root=str(home / "lake"))
    for case in LANDING_CASES:
        for key, body in zip(case.keys, case.files.values(), strict=True):
            lake.put(key, body)
    harness = Harness(home, lake)
    assert harness.tick()
    assert harness.tick() == []  # everything was taken in the first evaluation
    return LandingRun(lake, home, harness.table("silver.stream_history"), warehouse_tables(home))


def _landed(rows: pd.DataFrame) -> list[tuple[object, ...]]:
    return sorted(
        (r.symbol, r.ts, r.price, None if pd.isna(r.volume) else int(r.volume), r["name"])
        for _, r in rows.iterrows()
    )


def _expected(good: list[dict[str, object]]) -> list[tuple[object, ...]]:
    unique = {(str(q["symbol"]), pd.Timestamp(str(q["ts"])).tz_localize(None)): q for q in good}
    return sorted((*key, q["price"], q["volume"], q["name"]) for key, q in unique.items())


def _stable(reason: str) -> str:
    """The reason without the moment of the run (the future limit is now + tolerance)."""
    return re.sub(r"\(limit [^)]*\)", "(limit: now + 5 min)", reason)


@pytest.mark.parametrize("case", LANDING_CASES, ids=lambda c: c.id)
def test_landing_bad_input(case: LandingCase, landing_run: LandingRun, reliability_record):
    lake = landing_run.lake
    rows = landing_run.history[landing_run.history.object_key.isin(case.keys)]
    assert _landed(rows) == _expected(case.good)
    landed = f"{len(rows)} good quote(s) beside it landed once" if len(rows) else "none landed"

    quarantine = {o.key for o in lake.list_objects("quarantine/") if o.key.count(PREFIX)}
    ours = {k for k in quarantine if any(key in k for key in case.keys)}
    if case.quarantined:
        (key,) = case.keys
        assert ours == {f"quarantine/{key}", f"quarantine/{key}.report.json"}
        assert lake.get(f"quarantine/{key}") == case.files[key.removeprefix(PREFIX)]
        assert key not in {o.key for o in lake.list_objects(PREFIX)}
        report = json.loads(lake.get(f"quarantine/{key}.report.json"))
        assert report["key"] == key and case.quarantined in report["reason"]
        outcome = f"object moved whole to quarantine/ with a report: {report['reason']}; {landed}"
    elif case.rejected:
        (key,) = case.keys
        assert ours == {f"quarantine/rejected_records/{key}.json"}
        report = json.loads(lake.get(f"quarantine/rejected_records/{key}.json"))
        assert report["object_key"] == key
        reasons = {item["record"]: item["reason"] for item in report["rejected"]}
        assert sorted(reasons) == sorted(case.rejected)
        for record_no, fragment in case.rejected.items():
            assert fragment in reasons[record_no]
        named = "; ".join(f"record {n}: {_stable(reasons[n])}" for n in sorted(reasons))
        outcome = f"rejected with file and record named ({named}); {landed}"
    else:
        assert ours == set()
        outcome = f"accepted: {landed}, nothing rejected"
    reliability_record(LANDING_AREA, case.kind, outcome)


def test_landing_catalogue_leaves_nothing_half_written(landing_run: LandingRun):
    lake = landing_run.lake
    expected_rows = sum(len(_expected(c.good)) for c in LANDING_CASES)
    assert len(landing_run.history) == expected_rows  # no bad record landed anywhere
    assert landing_run.history.duplicated(["symbol", "ts"]).sum() == 0
    quarantined = {k for c in LANDING_CASES if c.quarantined for k in c.keys}
    remaining = {o.key for o in lake.list_objects(PREFIX)}
    assert remaining == {k for c in LANDING_CASES for k in c.keys} - quarantined
    leftovers = [p for p in (landing_run.home / "lake").rglob("*") if p.name.startswith(".tmp")]
    assert leftovers == []
    assert landing_run.tables == {"silver.stream_history", "gold.latest_snapshot"}
    assert not (landing_run.home / "warehouse.duckdb.wal").exists()
