"""The benchmark harness keeps working (at a tiny size)."""

import datetime as dt
import json
import os
import shutil
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
    assert details["best"]["minute_bars"] == 390  # and a full session of minute bars
    # Each price basis the page offers was timed; the figure is the slower one.
    assert set(details["bases"]) == {"adjusted", "raw"}
    assert details["ours_seconds"] == max(v["seconds"] for v in details["bases"].values())
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
    after_close = definitions.defs().resolve_schedule_def("after_close_schedule")
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
def test_a_scheduled_launch_runs_every_step_in_its_process_and_matches_the_expert(
    daily_bench, tmp_path, monkeypatch
):
    import bench_pipeline as pipeline

    symbols = pipeline.synthetic_symbols(3)
    *history, day = pipeline.sessions(30)
    for name, value in pipeline.environment(tmp_path, symbols, history[0]).items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster_home").mkdir()
    tables = pipeline.bare_tables(symbols, history, tmp_path / "lake")
    pipeline.insert_tables(tmp_path / "warehouse.duckdb", tables)
    expert_home = tmp_path / "expert"
    expert_home.mkdir()
    shutil.copy(tmp_path / "warehouse.duckdb", expert_home / "warehouse.duckdb")

    launched = daily_bench.launch(day, dict(os.environ), tmp_path / "launch.log")
    # The run succeeded, and every step ran in the launched process: the job's executor.
    assert launched["run_status"] == "SUCCESS"
    assert launched["step_pids"] == [launched["pid"]]
    expert = daily_bench.run_expert(day, expert_home, symbols, dict(os.environ))
    assert expert["steps"]["failed_rules"] == 0
    ours = daily_bench.session_tables(tmp_path / "warehouse.duckdb", [day])
    theirs = daily_bench.session_tables(expert_home / "warehouse.duckdb", [day])
    assert len(ours["silver.prices"]) == len(ours["gold.indicators"]) == 3
    assert daily_bench.differences(ours, theirs) == []


def test_the_daily_rows_name_their_setup_and_take_ratios_against_the_expert(daily_bench):
    def spread(*values):
        return {
            "median": values[len(values) // 2],
            "min": min(values),
            "max": max(values),
            "all": list(values),
        }

    result = {
        "executor": "in_process",
        "history_sessions": 100,
        "cold": spread(3.0, 4.0, 5.0),
        "cold_cpu": spread(2.0, 2.5, 3.0),
        "warm": spread(2.0, 3.0, 4.0),
        "warm_cpu": spread(1.5, 2.0, 2.5),
        "expert": spread(1.0, 1.0, 1.0),
        "expert_cpu": spread(0.5, 0.5, 0.5),
        "no_bytecode": {"seconds": 9.0},
        "rows_compared": {"silver.prices": 500},
        "differences": [],
    }
    new, new_cpu, rerun, *_, outputs = daily_bench.summary_rows(result, "500 symbols")
    assert new["ours"] == 4.0 and new["ratio"] == 4.0 and new["passed"] is True
    assert "median of 3 (3-5)" in new["measure"] and "in_process executor" in new["measure"]
    assert new_cpu["ratio"] == 5.0 and rerun["ours"] == 3.0 and rerun["passed"] is None
    assert outputs["ours"] == 0 and outputs["passed"] is True
    slower = {**result, "cold": spread(5.0, 6.0, 7.0)}
    assert daily_bench.summary_rows(slower, "500 symbols")[0]["passed"] is False


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


@pytest.mark.slow
def test_the_scaling_series_reports_each_size_against_the_memory_budget(harness, tmp_path):
    argv = ["--only", "history_scaling", "--scaling-symbols", "2", "3", "--days", "4"]
    argv += ["--memory-budget-gb", "1.5", "--instance", "sqlite", "--out-dir", str(tmp_path)]
    assert harness.main(argv) == 0
    (report_path,) = tmp_path.glob("*.json")
    report = json.loads(report_path.read_text())
    details = report["details"]["history_scaling"]
    assert sorted(details) == ["2", "3"]
    for symbols, result in details.items():
        # The whole range was loaded through stock-assets run's pieces (one run at this size).
        assert result["rows"]["silver.prices"] == int(symbols) * 4
        assert result["pieces"] == result["runs"] == 1
    rows = {r["measure"]: r for r in report["rows"]}
    peak = rows["peak memory, 3 symbols x 4 sessions"]
    assert peak["reference_value"] == 1.5 and 0.05 < peak["ours"] < 1.5
    assert peak["ours"] == details["3"]["peak_rss_bytes"] / 1024**3
    ratio = rows["records per second, 3 / 2 symbols"]
    assert ratio["ours"] == pytest.approx(
        details["3"]["rows_per_second"] / details["2"]["rows_per_second"]
    )


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
