"""Running one benchmark scenario: a fresh subprocess (benchmarks/run.py --worker) with its own
temporary data dir and DAGSTER_HOME, timed and its peak memory read from wait4(); and the
moto server the AWS scenarios point boto3 at."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

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
        command = [sys.executable, str(HERE / "run.py"), "--worker", name]
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
    "consumer_latency",
    "stack_latency",
    "stack_consumer_latency",
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
    if name in ("stack_latency", "stack_consumer_latency"):
        import bench_stack

        return bench_stack.bench(*latency, consumer=name == "stack_consumer_latency")
    import bench_stream

    if name == "stream_ingest":
        return bench_stream.bench_ingest(params["records"])
    return bench_stream.bench_latency(*latency, consumer=name == "consumer_latency")


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
