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
# A stack start and seven runs, each a process loading the code location: minutes on 2 cores.
@pytest.mark.timeout(1500)
def test_the_scaleout_benchmark_splits_the_backfill_and_compares_the_tables(harness, tmp_path):
    sessions = 3
    argv = ["--only", "scaleout", "--scaleout-sessions", str(sessions), "--scaleout-runs", "1", "2"]
    assert harness.main([*argv, "--out-dir", str(tmp_path)]) == 0
    (report_path,) = tmp_path.glob("*.json")
    report = json.loads(report_path.read_text())
    single_row, split_row = report["rows"]
    details = report["details"]["scaleout"]
    assert details["sessions"] == sessions
    single, split = details["splits"]["1"], details["splits"]["2"]
    # One run of the six tables; split in two: three waves of two runs (the lookbacks).
    assert (single["runs"], single["waves"]) == (1, 1)
    assert (split["runs"], split["waves"]) == (6, 3)
    # The default watchlist's symbols (12 in 2015: ARM lists in 2023) for every session, in
    # both shapes, equal row for row.
    assert single["rows"]["silver.prices"] == 12 * sessions
    assert single["rows"] == split["rows"]
    assert all(split["equal_to_single_run"].values())
    assert single_row["ratio"] == 1 and single_row["status"] == "pass"
    assert split_row["status"] == "pass" and split_row["reference_value"] == single["seconds"]
