"""The benchmark harness keeps working (at a tiny size)."""

import json
import sys
from pathlib import Path

import pytest

from stock_assets import checks
from stock_assets.assets.live import LIVE_SIGNALS_KEY

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
    # One result per check and run, whatever the number of sessions.
    # The arrivals runs' tables are not in daily_market_job.
    stream = (checks.HISTORY_KEY, checks.SNAPSHOT_KEY, LIVE_SIGNALS_KEY)
    batch_checks = sum(
        key.asset_key not in stream for c in checks.ASSET_CHECKS for key in c.check_keys
    )
    assert dagster["check_results"] == batch_checks
    summary = (tmp_path / "summary.md").read_text()
    assert "| full history | wall, 2 symbols x 4 sessions |" in summary

    (report_path,) = (tmp_path / "indicators").glob("*.json")
    (indicators,) = json.loads(report_path.read_text())["rows"]
    assert indicators["ratio"] == pytest.approx(
        indicators["ours"] / indicators["reference_value"], rel=1e-2
    )


@pytest.mark.slow
def test_the_dashboard_benchmark_times_a_symbol_page_against_whole_tables(harness, tmp_path):
    argv = ["--only", "dashboard", "--symbols", "3", "--days", "120", "--repeat", "1"]
    assert harness.main([*argv, "--out-dir", str(tmp_path)]) == 0
    (report_path,) = tmp_path.glob("*.json")
    report = json.loads(report_path.read_text())
    page, first_view = report["rows"]
    details = report["details"]["dashboard"]
    assert details["best"]["bars"] == 120  # the whole history of one symbol was drawn
    assert page["ours"] == details["ours_seconds"]
    assert page["reference_value"] == details["whole_tables_seconds"]
    assert page["status"] in ("pass", "MISS") and first_view["status"] == "info"


@pytest.mark.slow
def test_the_live_signal_cost_times_the_same_ingest_with_and_without_the_signals(harness):
    import bench_live

    result = bench_live.bench(records=15_000, repeat=1)
    # The same stream history, snapshot and bars both ways; the signals were evaluated.
    assert result["outputs_equal"] and sum(result["signals"].values()) > 0
    ((alone, with_signals),) = result["pairs_seconds"]
    assert result["ingest_seconds"] == alone
    assert result["ingest_with_signals_seconds"] == with_signals
    assert result["ratio"] == pytest.approx(with_signals / alone, abs=0.01)
