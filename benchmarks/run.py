"""The performance harness: every benchmark, each figure next to its reference.

    python benchmarks/run.py                       # the issue's sizes (make bench)
    python benchmarks/run.py --symbols 20 --days 300 --only full_history daily_increment

Each scenario runs in a fresh subprocess with its own temporary data dir and DAGSTER_HOME
(a copy of the project's dagster.yaml: the local SQLite instance), so sizes and partitions
never leak between scenarios, and its peak memory is read from wait4() (the largest
resident set of the process and of any child it waited for). Results go to
benchmarks/results/<timestamp>.json and benchmarks/results/summary.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BENCHMARKS = (
    "full_history",
    "history_scaling",
    "daily_increment",
    "daily_scheduled",
    "indicators",
    "stream",
    "intraday",
    "aws",
    "dashboard",
    "arrivals",
    "scaleout",
)
GIB = 1024**3


@dataclass
class Row:
    """One line of the summary: our figure, what it is compared to, and the target."""

    benchmark: str
    measure: str
    ours: float
    unit: str
    reference: str = ""
    reference_value: float | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None  # None: informational

    @property
    def status(self) -> str:
        return {True: "pass", False: "MISS", None: "info"}[self.passed]


# -- running one scenario ------------------------------------------------------------------


# The instance a scenario's runs are recorded in. ``sqlite`` is the project's dagster.yaml
# (make run, make dev); ``postgres`` is the production shape (RDS on ECS): a fresh database
# per scenario on the server at --postgres-url. Dagster's single-run backfill switches are
# not set here: `stock-assets run` (cli.run_backfill, which the scenarios call) sets them
# itself, as users get them.
INSTANCES = ("postgres", "sqlite")


@contextlib.contextmanager
def dagster_home(home: Path, instance: str, postgres_url: str) -> Iterator[None]:
    """A DAGSTER_HOME for one scenario (home/dagster_home)."""
    config = (ROOT / "dagster.yaml").read_text()
    database = f"bench_{os.getpid()}_{home.name.rsplit('_', 1)[-1].lower()}"
    if instance == "postgres":
        _postgres(postgres_url, f"CREATE DATABASE {database}")
        config += f"\nstorage:\n  postgres:\n    postgres_url: {postgres_url}/{database}\n"
    (home / "dagster_home").mkdir()
    (home / "dagster_home" / "dagster.yaml").write_text(config)
    try:
        yield
    finally:
        if instance == "postgres":
            _postgres(postgres_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _postgres(url: str, statement: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(statement))
    engine.dispose()


def run_scenario(
    name: str,
    params: dict,
    env: dict[str, str] | None = None,
    instance: str = "sqlite",
    postgres_url: str = "",
    timeout: float = 3600,
) -> dict:
    """Run `name` in a fresh subprocess and temp home; its result plus wall and peak memory."""
    with (
        tempfile.TemporaryDirectory(prefix=f"bench_{name}_") as tmp,
        dagster_home(Path(tmp), instance, postgres_url),
    ):
        home = Path(tmp)
        env = env or {}
        out = home / "result.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
        command += ["--home", str(home), "--params", json.dumps(params), "--result", str(out)]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
        _, status, usage = _wait(process, timeout)
        wall = time.perf_counter() - started
        if status != 0 or not out.exists():
            raise RuntimeError(f"scenario {name} failed (exit status {status})")
        result = json.loads(out.read_text())
    return {**result, "process_seconds": wall, "peak_rss_bytes": usage.ru_maxrss * 1024}


def _wait(process: subprocess.Popen, timeout: float) -> tuple[int, int, os.struct_rusage]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return pid, process.returncode, usage
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"scenario still running after {timeout} s")
        time.sleep(0.05)


def worker(name: str, home: Path, params: dict, result: Path) -> None:
    """Inside the subprocess: set the scenario's environment, run it, write its result."""
    sys.path.insert(0, str(HERE))
    if name in MODULE_BENCHMARKS:
        outcome = _module_benchmark(name, home, params)
    else:
        import bench_pipeline as pipeline

        symbols = pipeline.synthetic_symbols(params["symbols"])
        days = pipeline.sessions(params["days"], dt.date.fromisoformat(params["first"]))
        os.environ.update(pipeline.environment(home, symbols, days[0]))
        if name == "aws_stream_day":
            outcome = pipeline.aws_stream_day(home, symbols, params["batches"])
        elif name == "scheduled_daily":
            import bench_daily

            outcome = bench_daily.scheduled_daily(home, symbols, days, params["repeat"])
        else:
            outcome = pipeline.SCENARIOS[name](home, symbols, days)
    result.write_text(json.dumps(outcome, default=str))


MODULE_BENCHMARKS = (
    "indicators",
    "stream_ingest",
    "stream_latency",
    "stack_latency",
    "live_signal_cost",
    "intraday",
    "dashboard",
    "arrivals",
)


def _module_benchmark(name: str, home: Path, params: dict) -> dict:
    """The benchmarks that have their own module (bench_indicators, bench_stream, ...)."""
    if name == "dashboard":
        import bench_dashboard

        return bench_dashboard.run(params["symbols"], params["days"], params["repeat"], home)
    if name == "arrivals":
        import bench_arrivals

        return bench_arrivals.bench(params["history"])
    if name == "intraday":
        import bench_intraday

        return bench_intraday.bench(params["symbols"])
    if name == "indicators":
        import bench_indicators

        out = home / "indicators.json"
        argv = ["--symbols", str(params["symbols"]), "--days", str(params["days"])]
        bench_indicators.main([*argv, "--repeat", str(params["repeat"]), "--out", str(out)])
        return json.loads(out.read_text())
    if name == "live_signal_cost":
        import bench_live

        return bench_live.bench(params["records"], params["repeat"])
    latency = (params.get("files"), params.get("interval"), params.get("sensor_seconds"))
    if name == "stack_latency":
        import bench_stack

        return bench_stack.bench(*latency)
    import bench_stream

    if name == "stream_ingest":
        return bench_stream.bench_ingest(params["records"])
    return bench_stream.bench_latency(*latency)


# -- the benchmarks ------------------------------------------------------------------------


def full_history(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "first": args.first}
    ours = run_scenario("dagster_full_history", params, **_instance(args))
    bare = run_scenario("bare_full_history", params)
    if ours["rows"] != bare["rows"]:
        raise RuntimeError(f"tables differ: dagster {ours['rows']} vs bare {bare['rows']}")
    records = ours["rows"]["bronze.raw_quotes"]
    size = f"{args.symbols} symbols x {args.days} sessions"
    overhead = ours["seconds"] / bare["seconds"]
    rows = [
        Row(
            "full history",
            f"wall, {size}",
            ours["seconds"],
            "s",
            target="< 60 s",
            reference="bare market/ functions",
            reference_value=bare["seconds"],
            ratio=overhead,
            passed=ours["seconds"] < 60,
        ),
        Row(
            "full history",
            "orchestration overhead (Dagster run / bare)",
            overhead,
            "x",
            reference="bare market/ functions",
            target="< 3x",
            passed=overhead < 3,
        ),
        Row(
            "full history",
            "peak memory (run process)",
            ours["peak_rss_bytes"] / GIB,
            "GiB",
            reference="bare market/ functions",
            reference_value=bare["peak_rss_bytes"] / GIB,
            ratio=ours["peak_rss_bytes"] / bare["peak_rss_bytes"],
            target="< 2 GiB",
            passed=ours["peak_rss_bytes"] < 2 * GIB,
        ),
        Row(
            "full history",
            "source records per second",
            records / ours["seconds"],
            "rows/s",
            reference="bare market/ functions",
            reference_value=records / bare["seconds"],
            ratio=bare["seconds"] / ours["seconds"],
        ),
        Row(
            "full history",
            "check results recorded",
            ours["check_results"],
            "events",
            reference="failed",
            reference_value=ours["failed_checks"],
        ),
    ]
    return rows, {"dagster": ours, "bare": bare}


def history_scaling(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """History loads of --days sessions at each --scaling-symbols size, through
    ``stock-assets run``'s pieces: wall time, records per second and the run process's peak
    memory against the budget; the largest size's rate against the smallest's."""
    budget = args.memory_budget_gb
    env = {"STOCK_ASSETS_MEMORY_BUDGET_GB": str(budget)}
    rows, results = [], {}
    for symbols in args.scaling_symbols:
        params = {"symbols": symbols, "days": args.days, "first": args.first}
        result = results[symbols] = run_scenario("history_load", params, env=env, **_instance(args))
        result["rows_per_second"] = result["rows"]["bronze.raw_quotes"] / result["seconds"]
        size = f"{symbols} symbols x {args.days} sessions"
        shape = f"{result['pieces']} runs of <= {result['sessions_per_piece']} sessions"
        peak = result["peak_rss_bytes"] / GIB
        rows += [
            Row("history scaling", f"wall, {size} ({shape})", result["seconds"], "s"),
            Row("history scaling", f"records/s, {size}", result["rows_per_second"], "rows/s"),
            Row(
                "history scaling",
                f"peak memory, {size}",
                peak,
                "GiB",
                reference="budget",
                reference_value=budget,
                ratio=peak / budget,
                target=f"< {budget:g} GiB",
                passed=peak < budget,
            ),
        ]
    smallest, largest = min(results), max(results)
    if largest != smallest:
        ratio = results[largest]["rows_per_second"] / results[smallest]["rows_per_second"]
        rows.append(
            Row(
                "history scaling",
                f"records per second, {largest} / {smallest} symbols",
                ratio,
                "x",
                reference=f"{_figure(results[smallest]['rows_per_second'])} rows/s at {smallest}",
                target=">= 0.8",
                passed=ratio >= 0.8,
            )
        )
    return rows, results


def _instance(args: argparse.Namespace) -> dict[str, str]:
    return {"instance": args.instance, "postgres_url": args.postgres_url}


def daily_increment(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """One new session on top of a short and a long history, the new day the same in both."""
    results, rows = {}, []
    for label, history in (("short", args.short_history), ("long", args.days)):
        first = _first_session_for(args, history + 1)
        params = {"symbols": args.symbols, "days": history + 1, "first": first.isoformat()}
        results[label] = run_scenario("daily_increment", params, **_instance(args))
        rows.append(
            Row(
                "daily increment",
                f"one session on {history} sessions of history",
                results[label]["seconds"],
                "s",
                target="< 10 s",
                passed=results[label]["seconds"] < 10,
            )
        )
    growth = results["long"]["seconds"] / results["short"]["seconds"]
    rows.append(
        Row(
            "daily increment",
            f"{args.days} / {args.short_history} sessions of history (best of 3 each)",
            growth,
            "x",
            reference=f"{_figure(results['short']['seconds'])} s on the short history",
            target="< 1.2",
            passed=growth < 1.2,
        )
    )
    return rows, results


def daily_scheduled(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """The daily job launched as the schedule launches it, against the expert script."""
    import bench_daily

    days = args.days + args.daily_repeat + 1  # the history, a priming run, the new sessions
    params = {"symbols": args.symbols, "days": days, "first": args.first}
    params["repeat"] = args.daily_repeat
    result = run_scenario("scheduled_daily", params, **_instance(args))
    size = f"{args.symbols} symbols, {args.instance} instance"
    return [Row(**row) for row in bench_daily.summary_rows(result, size)], result


def _first_session_for(args: argparse.Namespace, count: int) -> dt.date:
    """The first session of `count` sessions that end on the full history's next session."""
    sys.path.insert(0, str(HERE))
    import bench_pipeline as pipeline

    from stock_assets.market import calendar

    last = pipeline.sessions(args.days + 1, dt.date.fromisoformat(args.first))[-1]
    return calendar.session_at(calendar.session_ordinal(last) - count + 1)


def indicators(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "repeat": args.repeat}
    result = run_scenario("indicators", params)
    row = Row(
        "indicators",
        f"compute, {args.symbols} x {args.days}",
        result["ours_seconds"],
        "s",
        reference="bare TA-Lib loop",
        reference_value=result["talib_seconds"],
        ratio=result["ratio"],
        target="<= 2x",
        passed=result["ratio"] <= 2,
    )
    return [row], result


def stream(args: argparse.Namespace) -> tuple[list[Row], dict]:
    ingest = run_scenario("stream_ingest", {"records": args.records})
    rows = [
        Row(
            "stream",
            f"ingest {args.records} records",
            ingest["ours_seconds"],
            "s",
            reference="bare DuckDB insert",
            reference_value=ingest["bare_duckdb_insert_seconds"],
            ratio=ingest["ratio_ours_to_bare"],
            target="<= 3x",
            passed=ingest["ratio_ours_to_bare"] <= 3,
        ),
    ]
    cost = run_scenario("live_signal_cost", {"records": args.records, "repeat": args.repeat})
    rows.append(
        Row(
            "stream",
            f"arrivals run with live signals, {args.records} quotes",
            cost["ingest_with_signals_seconds"],
            "s",
            reference="the same ingest without them",
            reference_value=cost["ingest_seconds"],
            ratio=cost["ratio"],
            target="<= 1.5x, same ingest",
            passed=cost["ratio"] <= 1.5 and cost["outputs_equal"],
        )
    )
    rows.append(
        Row(
            "stream",
            f"CPU time (shared machine), arrivals run with live signals, {args.records} quotes",
            cost["ingest_with_signals_cpu_seconds"],
            "s",
            reference="the same ingest without them",
            reference_value=cost["ingest_cpu_seconds"],
            ratio=cost["cpu_ratio"],
        )
    )
    results = {"ingest": ingest, "live_signal_cost": cost}
    if args.latency_files:
        params = {"files": args.latency_files, "interval": 3.0, "sensor_seconds": 5}
        for name, setup in (("stream_latency", "dagster dev"), ("stack_latency", "local stack")):
            if name == "stack_latency" and args.skip_stack:
                continue
            latency = results[name] = run_scenario(name, params)
            rows += latency_rows(latency, setup)
    return rows, results


def latency_rows(latency: dict, setup: str) -> list[Row]:
    """Arrival -> snapshot and arrival -> alert accepted by the sink, from one run."""
    alerts = latency["alerts"]
    return [
        Row(
            "stream",
            f"arrival -> snapshot p50 ({setup})",
            latency["p50_seconds"],
            "s",
            target="< 10 s",
            passed=latency["p50_seconds"] < 10,
        ),
        Row("stream", f"arrival -> snapshot p95 ({setup})", latency["p95_seconds"], "s"),
        Row(
            "stream",
            f"arrival -> live signal -> alert sink p50 ({setup})",
            alerts["p50_seconds"],
            "s",
            target="< 10 s",
            passed=alerts["p50_seconds"] < 10,
        ),
        Row(
            "stream",
            f"arrival -> live signal -> alert sink p95 ({setup})",
            alerts["p95_seconds"],
            "s",
            target="< 15 s",
            passed=alerts["p95_seconds"] < 15,
        ),
    ]


def intraday(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """One session of 1-minute bars from ~4 quotes per bar, at each --intraday-symbols size."""
    rows, results = [], {}
    for symbols in args.intraday_symbols:
        result = results[symbols] = run_scenario("intraday", {"symbols": symbols})
        size = f"{symbols} symbols, {result['bars']:,} bars"
        rows.append(
            Row(
                "intraday",
                f"bars from {result['quotes']:,} quotes, {size}",
                result["ours_seconds"],
                "s",
                reference="bare DuckDB aggregation",
                reference_value=result["bare_duckdb_seconds"],
                ratio=result["ratio"],
                target="<= 3x, outputs equal" + (", < 60 s" if symbols >= 10_000 else ""),
                passed=result["ratio"] <= 3
                and result["outputs_equal"]
                and (symbols < 10_000 or result["ours_seconds"] < 60),
            )
        )
        rows.append(
            Row(
                "intraday",
                f"CPU time (shared machine), {size}",
                result["ours_cpu_seconds"],
                "s",
                reference="bare DuckDB aggregation",
                reference_value=result["bare_duckdb_cpu_seconds"],
                ratio=result["ours_cpu_seconds"] / result["bare_duckdb_cpu_seconds"],
            )
        )
        rows.append(
            Row(
                "intraday",
                f"peak memory after ours, {size}",
                result["peak_rss_ours_bytes"] / GIB,
                "GiB",
                target="< 4 GiB",
                passed=result["peak_rss_ours_bytes"] < 4 * GIB,
            )
        )
    return rows, results


def aws(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "first": args.first}
    stream_params = {
        **params,
        "symbols": args.stream_day_symbols,
        "batches": args.stream_day_batches,
    }
    with moto_server() as env:
        result = run_scenario("aws_roundtrip", params, env=env)
    with moto_server() as env:
        stream = run_scenario("aws_stream_day", stream_params, env=env)
    day = f"{stream['symbols']} symbols x {stream['batches']} batches"
    rows = [
        Row(
            "aws (moto S3 + Glue, Iceberg)",
            f"write {result['partitions']} table partitions",
            result["write_rows_per_second"],
            "rows/s",
        ),
        Row(
            "aws (moto S3 + Glue, Iceberg)",
            "read them back",
            result["read_rows_per_second"],
            "rows/s",
        ),
        Row("aws stream day", f"bytes written, {day}", stream["bytes_written"], "B"),
        Row("aws stream day", f"merge rate, {day}", stream["rows_per_second"], "rows/s"),
    ]
    return rows, {"roundtrip": result, "stream_day": stream}


def dashboard(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "repeat": args.repeat}
    result = run_scenario("dashboard", params)
    target = result["target_seconds"]
    best = result["best"]
    measure = (
        f"symbol page, {best['bars']} daily bars and {best['minute_bars']} minute bars, "
        "slower price basis (queries + figures + JSON)"
    )
    rows = [
        Row(
            "dashboard",
            measure,
            result["ours_seconds"],
            "s",
            reference="whole tables loaded into pandas",
            reference_value=result["whole_tables_seconds"],
            ratio=result["ours_seconds"] / result["whole_tables_seconds"],
            target=f"< {target:g} s",
            passed=result["ours_seconds"] < target,
        ),
        Row(
            "dashboard",
            "symbol page, first view in a fresh process",
            result["cold"]["seconds"],
            "s",
        ),
    ]
    return rows, result


def arrivals(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """The sensor's tick with --arrivals-history consumed landing objects vs none."""
    result = run_scenario("arrivals", {"history": args.arrivals_history})
    rows = []
    for lake, calls in (("s3", "list requests"), ("local", "folders read")):
        empty, full = result[lake]["empty"], result[lake]["full"]
        size = f"{lake}, {args.arrivals_history} consumed objects vs none"
        ratio = full["calls_per_tick"] / empty["calls_per_tick"]
        rows.append(
            Row(
                "arrivals",
                f"{calls} per tick, {size}",
                full["calls_per_tick"],
                "",
                reference="empty zone",
                reference_value=empty["calls_per_tick"],
                ratio=ratio,
                target="<= 1.5x",
                passed=ratio <= 1.5 and full["exactly_once"] and empty["exactly_once"],
            )
        )
        seconds = full["median_tick_seconds"], empty["median_tick_seconds"]
        rows.append(
            Row(
                "arrivals",
                f"tick time (median), {size}",
                seconds[0],
                "s",
                reference="empty zone",
                reference_value=seconds[1],
                ratio=seconds[0] / seconds[1],
            )
        )
    return rows, result


_SCALEOUT = "scale-out (local stack, Iceberg on moto)"


def scaleout(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """The history backfill as 1, 2, 4 ... concurrent runs on the local stack (bench_scaleout)."""
    sys.path.insert(0, str(HERE))
    import bench_pipeline as pipeline
    import bench_scaleout

    days = pipeline.sessions(args.scaleout_sessions, dt.date.fromisoformat(args.first))
    with tempfile.TemporaryDirectory(prefix="bench_scaleout_") as tmp:
        result = bench_scaleout.measure(days, args.scaleout_runs, Path(tmp))
    single = result["splits"][1]
    rows = []
    for parts, outcome in result["splits"].items():
        if "error" in outcome:
            failed = f"{parts} runs at once: {outcome['error']}"
            rows.append(Row(_SCALEOUT, failed, 0, "s", passed=False))
            continue
        written = sum(outcome["rows"].values())
        shape = f"{parts} run(s) at once, {outcome['waves']} wave(s), {outcome['runs']} runs"
        rows.append(
            Row(
                _SCALEOUT,
                f"wall, {len(days)} sessions x default watchlist, {shape}, {written:,} rows",
                outcome["seconds"],
                "s",
                reference="the single run",
                reference_value=single["seconds"],
                ratio=outcome["seconds"] / single["seconds"],
                target="tables equal to the single run's",
                passed=all(outcome["equal_to_single_run"].values()),
            )
        )
    return rows, result


RUNNERS: dict[str, Callable[[argparse.Namespace], tuple[list[Row], dict]]] = {
    "full_history": full_history,
    "history_scaling": history_scaling,
    "daily_increment": daily_increment,
    "daily_scheduled": daily_scheduled,
    "indicators": indicators,
    "stream": stream,
    "intraday": intraday,
    "aws": aws,
    "dashboard": dashboard,
    "arrivals": arrivals,
    "scaleout": scaleout,
}


@contextlib.contextmanager
def moto_server(log: Path | None = None) -> Iterator[dict[str, str]]:
    """moto's S3/Glue server on loopback; yields the AWS variables that point boto3 at it.
    With `log`, its access log (every request it answers) goes to that file.

    (The tests' fixture does the same; a benchmark script does not import the test package.)
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("w") if log else contextlib.nullcontext(subprocess.DEVNULL) as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- reporting -----------------------------------------------------------------------------


def machine() -> dict:
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "ram_gib": round(pages * page_size / GIB, 1),
        "commit": commit + ("+local changes" if dirty else ""),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _figure(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def summary_markdown(info: dict, rows: list[Row], sizes: str) -> str:
    lines = [
        "# Benchmark summary",
        "",
        f"{info['date']} - {info['cpus']} CPUs, {info['ram_gib']} GiB RAM - commit "
        f"{info['commit']} - Python {info['python']} - {sizes}",
        "",
        "| benchmark | measure | ours | reference | ratio | target | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        reference = row.reference
        if row.reference_value is not None:
            reference += f" {_figure(row.reference_value)} {row.unit}".rstrip()
        lines.append(
            f"| {row.benchmark} | {row.measure} | {_figure(row.ours)} {row.unit} | "
            f"{reference} | {_figure(row.ratio)} | {row.target} | {row.status} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=2520, help="sessions of full history")
    parser.add_argument("--first", default="2015-01-02", help="first session of the history")
    parser.add_argument(
        "--scaling-symbols",
        type=int,
        nargs="+",
        default=[500, 2_000, 5_000],
        help="history_scaling: symbol counts, each loaded over --days sessions",
    )
    parser.add_argument(
        "--memory-budget-gb", type=float, default=2.0, help="history_scaling: the run budget"
    )
    parser.add_argument("--short-history", type=int, default=252, help="daily increment base")
    parser.add_argument("--repeat", type=int, default=3, help="indicator timing repeats")
    parser.add_argument(
        "--daily-repeat", type=int, default=3, help="scheduled daily runs of each kind"
    )
    parser.add_argument("--records", type=int, default=150_000, help="stream micro-batch")
    parser.add_argument(
        "--intraday-symbols", type=int, nargs="+", default=[500, 10_000], help="bar sessions"
    )
    parser.add_argument(
        "--stream-day-batches", type=int, default=390, help="aws stream day micro-batches"
    )
    parser.add_argument("--stream-day-symbols", type=int, default=500, help="quotes per batch")
    parser.add_argument(
        "--arrivals-history", type=int, default=100_000, help="consumed landing objects"
    )
    parser.add_argument(
        "--scaleout-sessions", type=int, default=2520, help="sessions of the split backfill"
    )
    parser.add_argument(
        "--scaleout-runs", type=int, nargs="+", default=[1, 2, 4], help="runs at once; 1 first"
    )
    parser.add_argument("--latency-files", type=int, default=20, help="0 skips the latency")
    parser.add_argument(
        "--skip-stack", action="store_true", help="latency under dagster dev only (no local stack)"
    )
    parser.add_argument("--instance", choices=INSTANCES, default="postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "STOCK_ASSETS_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432"
        ),
        help="server for --instance postgres (a database is created per scenario)",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--params", type=json.loads, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.home, args.params, args.result)
        return 0

    info, rows, details = machine(), [], {}
    for name in args.only:
        print(f"benchmark: {name}", flush=True)
        found, details[name] = RUNNERS[name](args)
        rows += found
    sizes = f"{args.symbols} symbols x {args.days} sessions, {args.instance} instance"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        **info,
        "arguments": {k: v for k, v in vars(args).items() if k not in ("worker", "params")},
        "rows": [{**asdict(row), "status": row.status} for row in rows],
        "details": details,
    }
    (args.out_dir / f"{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    summary = summary_markdown(info, rows, sizes)
    (args.out_dir / "summary.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
