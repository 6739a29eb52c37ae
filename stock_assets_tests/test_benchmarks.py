"""The benchmark harness keeps working (at a tiny size), and long backfills report their
checks once per range (what keeps a ten-year history load from drowning in check events)."""

import json
import sys
from pathlib import Path

import dagster as dg
import pytest

from stock_assets import checks
from stock_assets.assets import prices
from stock_assets_tests.test_checks import BLOCKED_DAYS, corrupt_prices, run_batch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def harness():
    sys.path.insert(0, str(BENCHMARKS))
    import run

    yield run
    sys.path.remove(str(BENCHMARKS))


@pytest.mark.slow
def test_the_harness_writes_each_figure_next_to_its_reference(harness, tmp_path):
    days, symbols = 4, 2
    argv = ["--only", "full_history", "--symbols", str(symbols), "--days", str(days)]
    assert harness.main([*argv, "--instance", "sqlite", "--out-dir", str(tmp_path)]) == 0
    # The indicator kernels need more bars than their longest lookback.
    argv = ["--only", "indicators", "--symbols", "3", "--days", "80", "--repeat", "1"]
    assert harness.main([*argv, "--out-dir", str(tmp_path / "indicators")]) == 0

    (report_path,) = tmp_path.glob("*.json")
    report = json.loads(report_path.read_text())
    assert report["cpus"] and report["ram_gib"] > 0 and report["commit"]
    rows = {(r["benchmark"], r["measure"].split(",")[0]): r for r in report["rows"]}
    wall = rows["full history", "wall"]
    dagster, bare = report["details"]["full_history"].values()
    # Both sides wrote the same tables; the ratio is of the two timings of this run.
    assert dagster["rows"] == bare["rows"]
    assert dagster["rows"]["silver.prices"] == symbols * days
    assert wall["ours"] == dagster["seconds"] and wall["reference_value"] == bare["seconds"]
    assert wall["ratio"] == pytest.approx(dagster["seconds"] / bare["seconds"])
    assert wall["status"] in ("pass", "MISS")
    memory = rows["full history", "peak memory (run process)"]
    assert 0.05 < memory["ours"] < 2  # GiB: a real resident set was measured
    # A short range keeps one result per check and partition.
    stream = (checks.HISTORY_KEY, checks.SNAPSHOT_KEY)
    batch_checks = sum(len(table) for key, table in checks.CHECKS.items() if key not in stream)
    assert dagster["check_results"] == days * batch_checks
    summary = (tmp_path / "summary.md").read_text()
    assert "| full history | wall, 2 symbols x 4 sessions |" in summary

    (report_path,) = (tmp_path / "indicators").glob("*.json")
    (indicators,) = json.loads(report_path.read_text())["rows"]
    assert indicators["ratio"] == pytest.approx(
        indicators["ours"] / indicators["reference_value"], rel=1e-2
    )


def test_a_long_range_records_each_check_once_with_its_failing_days(tmp_path, monkeypatch):
    """Above BULK_CHECK_PARTITIONS a check reports the range once: same verdict, blocking
    and evidence, the failing days named in its metadata."""
    monkeypatch.setattr(checks, "BULK_CHECK_PARTITIONS", len(BLOCKED_DAYS) - 1)
    monkeypatch.setattr(prices, "clean_prices", corrupt_prices)
    result = run_batch(tmp_path, dg.DagsterInstance.ephemeral(), BLOCKED_DAYS, with_checks=True)

    assert not result.success
    materialized = {m.asset_key for m in result.get_asset_materialization_events()}
    assert checks.PRICES_KEY in materialized and checks.INDICATORS_KEY not in materialized
    silver = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == checks.PRICES_KEY
    }
    assert len(silver) == len(checks.CHECKS[checks.PRICES_KEY])
    assert {e.partition for e in silver.values()} == {None}
    first, last = (day.isoformat() for day in BLOCKED_DAYS)
    keys, values = silver["keys"], silver["values"]
    assert not keys.passed and keys.blocking and keys.severity == dg.AssetCheckSeverity.ERROR
    assert keys.metadata["failing_partitions"].value == [first]
    assert values.metadata["failing_partitions"].value == [last]
    assert keys.metadata["partitions_checked"].value == 2
    assert keys.metadata["partition_range"].value == f"{first}..{last}"
    assert silver["schema"].passed and silver["schema"].metadata["failing_partitions"].value == []
