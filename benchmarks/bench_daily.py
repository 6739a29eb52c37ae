"""The daily run as the after-close schedule launches it, against an expert script of it.

Runs inside a benchmarks/run.py worker, whose environment names the data dir, DAGSTER_HOME
(the SQLite instance of dagster.yaml) and the partitions. The history is written bare
(bench_pipeline.insert_tables, untimed); then every timed run is a launch: a fresh
``dagster job execute -m stock_assets.definitions -a defs -j daily_market_job`` process with
the tags of the RunRequest ``after_close_schedule`` returns for the session. Like the run
worker the daemon starts, it loads the code location and executes the run with the job's
own executor (no executor config is passed), with Dagster's backfill switches set as the
deployments set them (cli.BACKFILL_ENV). A launch's wall time runs from spawn to exit, so
it includes Python start-up, imports and instance set-up; its CPU time comes from wait4().

* priming: the last history session goes through one untimed launch. It writes the
  bytecode cache the timed launches read (PYTHONPYCACHEPREFIX in the scenario's home), as
  the ECS image compiles its bytecode at build time (UV_COMPILE_BYTECODE).
* new session ("cold"): each of the next `repeat` sessions launched once, as each evening
  (the partition has never been materialized).
* re-run ("warm"): the last of them launched `repeat` more times (the data is replaced).
* no bytecode: one more re-run without a bytecode cache (PYTHONDONTWRITEBYTECODE), what a
  fresh process costs where nothing is compiled.
* expert: benchmarks/expert_daily.py on a copy of the warehouse taken after priming, each
  new session in a fresh process; its tables are compared with the job's for equality.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
JOB = "daily_market_job"
EXPERT = HERE / "expert_daily.py"
# The tables both sides write for a session, and the columns that identify a row.
COMPARED = {
    "silver.prices": ("symbol",),
    "gold.indicators": ("symbol",),
    "gold.signals": ("symbol", "signal"),
    "gold.market_summary": ("trade_date",),
}
# Ignored in the comparison: when a row was written, and the text the UI shows.
VOLATILE = ("ingested_at", "reason")
TOLERANCE = 1e-9  # relative, on floating-point columns (TA-Lib's running sums)


def launch_command() -> list[str]:
    """The run worker's command: the code location by module, the job by name."""
    dagster = Path(sys.executable).with_name("dagster")
    return [str(dagster), "job", "execute", "-m", "stock_assets.definitions", "-a", "defs"]


def scheduled_tags(day: dt.date) -> dict[str, str]:
    """The tags of the run the after-close schedule requests for `day` (partition and
    schedule, as the daemon sets them)."""
    import dagster as dg

    from stock_assets.market import calendar
    from stock_assets.schedules import after_close_schedule

    when = dt.datetime.combine(day, dt.time(18, 30), ZoneInfo(calendar.MARKET_TIMEZONE))
    request = after_close_schedule(dg.build_schedule_context(scheduled_execution_time=when))
    if not isinstance(request, dg.RunRequest):
        raise RuntimeError(f"the schedule requests no run on {day}: {request}")
    return {
        **request.tags,
        "dagster/partition": request.partition_key,
        "dagster/schedule_name": after_close_schedule.name,
    }


def job_executor() -> str:
    """The executor of the job in the code location (what every launch runs with)."""
    from stock_assets.definitions import build_definitions

    return build_definitions().resolve_job_def(JOB).executor_def.name


def timed(command: list[str], env: dict[str, str], log: Path) -> dict:
    """Run `command` to its end (output to `log`): wall seconds from spawn to exit, CPU
    seconds (user + system, from wait4) and the process id."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{log.read_text()[-3000:]}")
    return {"seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime, "pid": process.pid}


def launch(day: dt.date, env: dict[str, str], log: Path) -> dict:
    """One scheduled run of `day` in a fresh process, its timings, status and the process
    ids its steps ran in."""
    command = [*launch_command(), "-j", JOB, "--tags", json.dumps(scheduled_tags(day))]
    return {"day": day.isoformat(), **timed(command, env, log), **_run_facts()}


def _run_facts() -> dict:
    """Of the instance's newest run: its status and the processes its steps ran in."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        pids = {
            entry.dagster_event.pid
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event is not None and entry.dagster_event.step_key is not None
        }
        pids.discard(None)  # events stored in batches carry no process id
        return {"run_status": run.status.value, "step_pids": sorted(pids)}


def run_expert(day: dt.date, home: Path, symbols: Sequence[str], env: dict[str, str]) -> dict:
    """The expert script for `day` on its own warehouse copy, in a fresh process."""
    command = [sys.executable, str(EXPERT), "--database", str(home / "warehouse.duckdb")]
    command += ["--lake", str(home / "lake"), "--day", day.isoformat()]
    command += ["--symbols", ",".join(symbols)]
    log = home / f"expert-{day}.log"
    result = timed(command, env, log)
    return {"day": day.isoformat(), **result, "steps": json.loads(log.read_text())}


def session_tables(database: Path, days: Sequence[dt.date]) -> dict[str, pd.DataFrame]:
    """The compared tables' rows of `days`, in a stable order, volatile columns dropped."""
    with duckdb.connect(str(database), read_only=True) as conn:
        frames = {}
        for table, keys in COMPARED.items():
            frame = conn.execute(
                f"SELECT * FROM {table} WHERE trade_date IN (SELECT unnest(?::DATE[])) "
                f"ORDER BY trade_date, {', '.join(keys)}",
                [list(days)],
            ).df()
            frames[table] = frame.drop(columns=[c for c in VOLATILE if c in frame.columns])
        return frames


def differences(ours: dict[str, pd.DataFrame], expert: dict[str, pd.DataFrame]) -> list[str]:
    """Where the two sides' tables differ (empty: the same outputs): row keys and text
    exactly, numbers within TOLERANCE relative, NULLs in the same places."""
    found = []
    for table, a in ours.items():
        b = expert[table]
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            found.append(f"{table}: {len(a)} rows {list(a.columns)} vs {len(b)} {list(b.columns)}")
            continue
        for column in a.columns:
            x, y = a[column], b[column]
            if pd.api.types.is_float_dtype(x.dtype) or pd.api.types.is_float_dtype(y.dtype):
                x, y = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
                same = np.isclose(x, y, rtol=TOLERANCE, atol=0, equal_nan=True)
            else:
                same = (x.astype(object).where(x.notna(), None) == y.astype(object)).to_numpy()
                same |= (x.isna() & y.isna()).to_numpy()
            if not same.all():
                found.append(f"{table}.{column}: {int((~same).sum())} rows differ")
    return found


def _spread(runs: Sequence[dict], key: str = "seconds") -> dict:
    values = [run[key] for run in runs]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "all": values,
    }


def scheduled_daily(home: Path, symbols: Sequence[str], days: list[dt.date], repeat: int) -> dict:
    """History bare, one priming launch, `repeat` new sessions, `repeat` re-runs, one
    launch without bytecode, and the expert script on the new sessions."""
    sys.path.insert(0, str(HERE))
    import bench_pipeline as pipeline

    from stock_assets.cli import BACKFILL_ENV

    history, priming, new = days[: -repeat - 1], days[-repeat - 1], days[-repeat:]
    started = time.perf_counter()
    tables = pipeline.bare_tables(symbols, history, home / "lake")
    pipeline.insert_tables(home / "warehouse.duckdb", tables)
    del tables
    setup = time.perf_counter() - started
    env = {**os.environ, **BACKFILL_ENV, "PYTHONPYCACHEPREFIX": str(home / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    logs = home / "logs"
    logs.mkdir()
    count = iter(range(1_000))

    def scheduled(day: dt.date, run_env: dict[str, str] = env) -> dict:
        return launch(day, run_env, logs / f"{next(count):02d}-{day}.log")

    primed = scheduled(priming)
    expert_home = home / "expert"
    expert_home.mkdir()
    shutil.copy(home / "warehouse.duckdb", expert_home / "warehouse.duckdb")
    cold = [scheduled(day) for day in new]
    warm = [scheduled(new[-1]) for _ in range(repeat)]
    uncompiled = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"}
    plain = scheduled(new[-1], {**uncompiled, "PYTHONDONTWRITEBYTECODE": "1"})
    expert = [run_expert(day, expert_home, symbols, env) for day in new]
    ours_tables = session_tables(home / "warehouse.duckdb", new)
    expert_tables = session_tables(expert_home / "warehouse.duckdb", new)
    return {
        "executor": job_executor(),
        "history_sessions": len(history) + 1,
        "setup_seconds": setup,
        "priming": primed,
        "cold": _spread(cold),
        "cold_cpu": _spread(cold, "cpu_seconds"),
        "warm": _spread(warm),
        "warm_cpu": _spread(warm, "cpu_seconds"),
        "no_bytecode": plain,
        "expert": _spread(expert),
        "expert_cpu": _spread(expert, "cpu_seconds"),
        "launches": [primed, *cold, *warm, plain],
        "expert_runs": expert,
        "rows_compared": {table: len(frame) for table, frame in ours_tables.items()},
        "differences": differences(ours_tables, expert_tables),
    }


def summary_rows(result: dict, size: str) -> list[dict]:
    """benchmarks/run.py's rows (as Row keywords): each figure with its setup and spread."""
    runs = len(result["cold"]["all"])
    setup = (
        f"fresh `dagster job execute` process, {result['executor']} executor, {size}, "
        f"{result['history_sessions']} sessions of history"
    )
    expert = "expert script, fresh process"
    target = "< 5 s and <= 4x expert"

    def spread(figures: dict) -> str:
        return f"median of {runs} ({figures['min']:.3g}-{figures['max']:.3g})"

    rows = []
    for label, key in (("new session (as each evening)", "cold"), ("re-run of it", "warm")):
        ours, reference = result[key]["median"], result["expert"]["median"]
        rows.append(
            dict(
                benchmark="daily run as scheduled",
                measure=f"{label}: wall, {spread(result[key])}, {setup}",
                ours=ours,
                unit="s",
                reference=expert,
                reference_value=reference,
                ratio=ours / reference,
                target=target if key == "cold" else "",
                passed=(ours < 5 and ours / reference <= 4) if key == "cold" else None,
            )
        )
        cpu, reference_cpu = result[f"{key}_cpu"]["median"], result["expert_cpu"]["median"]
        rows.append(
            dict(
                benchmark="daily run as scheduled",
                measure=f"{label}: CPU time (user + system), {spread(result[f'{key}_cpu'])}",
                ours=cpu,
                unit="s",
                reference=expert,
                reference_value=reference_cpu,
                ratio=cpu / reference_cpu,
            )
        )
    rows.append(
        dict(
            benchmark="daily run as scheduled",
            measure="re-run without a bytecode cache (PYTHONDONTWRITEBYTECODE), one run",
            ours=result["no_bytecode"]["seconds"],
            unit="s",
        )
    )
    compared = ", ".join(f"{n} {t}" for t, n in result["rows_compared"].items())
    rows.append(
        dict(
            benchmark="daily run as scheduled",
            measure=f"outputs against the expert script ({compared} rows)",
            ours=len(result["differences"]),
            unit="differences",
            target="0 (numbers within 1e-9)",
            passed=not result["differences"],
        )
    )
    return rows
