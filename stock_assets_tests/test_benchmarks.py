"""The benchmark harness keeps working (at a tiny size)."""

import datetime as dt
import json
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from stock_assets import checks, definitions
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


@pytest.fixture(scope="module")
def daily_bench(harness):
    import bench_daily

    return bench_daily


def test_the_daily_benchmark_launches_the_job_with_the_executor_the_schedule_gets(daily_bench):
    # The benchmark passes no executor config, so its figure is the job's own executor:
    # in process, as the schedule, the UI and ECS launch it.
    job = definitions.build_definitions().resolve_job_def(daily_bench.JOB)
    assert job.executor_def is dg.in_process_executor
    assert daily_bench.job_executor() == job.executor_def.name == "in_process"
    after_close = definitions.defs.resolve_schedule_def("after_close_schedule")
    assert after_close.job_name == daily_bench.JOB
    command = daily_bench.launch_command()
    assert command[1:] == ["job", "execute", "-m", "stock_assets.definitions", "-a", "defs"]
    tags = daily_bench.scheduled_tags(dt.date(2024, 7, 5))
    assert tags["dagster/partition"] == "2024-07-05"
    assert tags["dagster/schedule_name"] == "after_close_schedule"


def test_the_daily_benchmark_compares_the_outputs_within_tolerance(daily_bench):
    ours = {"gold.indicators": pd.DataFrame({"symbol": ["A", "B"], "rsi_14": [50.0, None]})}
    same = {"gold.indicators": ours["gold.indicators"].assign(rsi_14=[50.0 * (1 + 1e-12), None])}
    assert daily_bench.differences(ours, same) == []
    off = {"gold.indicators": ours["gold.indicators"].assign(rsi_14=[50.1, None])}
    assert daily_bench.differences(ours, off) == ["gold.indicators.rsi_14: 1 rows differ"]
    renamed = {"gold.indicators": ours["gold.indicators"].assign(symbol=["A", "C"])}
    assert daily_bench.differences(ours, renamed) == ["gold.indicators.symbol: 1 rows differ"]


@pytest.mark.slow
def test_the_scheduled_daily_runs_in_one_process_and_matches_the_expert(harness, tmp_path):
    argv = ["--only", "daily_scheduled", "--symbols", "3", "--days", "30"]
    argv += ["--daily-repeat", "1", "--instance", "sqlite", "--out-dir", str(tmp_path)]
    assert harness.main(argv) == 0
    (report_path,) = tmp_path.glob("*.json")
    report = json.loads(report_path.read_text())
    details = report["details"]["daily_scheduled"]
    # Every launch succeeded and ran all its steps in the launched process itself.
    for launch in details["launches"]:
        assert launch["run_status"] == "SUCCESS"
        assert launch["step_pids"] == [launch["pid"]]
    assert details["executor"] == "in_process"
    # The expert script wrote the same session: every compared table has rows, no difference.
    assert details["differences"] == []
    assert details["rows_compared"]["silver.prices"] == 3
    new_session, *_ = report["rows"]
    assert new_session["ours"] == details["cold"]["median"]
    assert new_session["reference_value"] == details["expert"]["median"]
    assert "in_process executor" in new_session["measure"]
