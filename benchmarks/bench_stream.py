"""Stream benchmarks, each figure next to its reference measured in the same run.

1. ingest: one 150,000-record JSON Lines micro-batch through the stream assets
   (parse, validate, dedupe, merge into DuckDB via dagster.materialize) versus a bare
   DuckDB insert of the same file (read_json + INSERT) into an identical table.
2. latency: `dagster dev` (webserver + daemon) running with a 5 s sensor interval; files
   are dropped into the landing folder one by one once the sensor ticks. Per file, in the
   same run: the time from its write to the end of the run that wrote it to
   gold.latest_snapshot (read from the Dagster instance, so the benchmark never contends
   for the DuckDB writer lock), and to the moment the alert sink accepted the alerts its
   quotes triggered (each file's quotes cross a user rule's price level: a RULE live signal
   per symbol; the accept time is the sent-ledger object the sink's delivery writes once
   the sink returned). bench_stack.py measures the same on the local stack.

    python benchmarks/bench_stream.py ingest --records 150000 --repeat 3
    python benchmarks/bench_stream.py latency --files 20
Results are written as JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DAY_OPEN = dt.datetime(2024, 7, 5, 13, 30, tzinfo=dt.UTC)


def synthetic_batch(records: int, seed: int = 7, opens: dt.datetime = DAY_OPEN) -> bytes:
    """JSON Lines of distinct (symbol, ts) quotes inside the session opening at `opens`."""
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:03d}" for i in range(500)]
    per_symbol = -(-records // len(symbols))
    lines = []
    for n in range(records):
        symbol = symbols[n % len(symbols)]
        ts = opens + dt.timedelta(milliseconds=int(n // len(symbols)) * 100)
        price = round(float(50 + rng.random() * 100), 4)
        lines.append(
            json.dumps(
                {
                    "symbol": symbol,
                    "ts": ts.isoformat(),
                    "price": price,
                    "volume": int(rng.integers(1, 10_000)),
                    "change": 0.1,
                    "change_pct": 0.2,
                    "name": f"{symbol} Corp",
                    "source": "bench",
                }
            )
        )
    assert per_symbol * 100 / 1000 < 6 * 3600  # all inside the session
    return ("\n".join(lines) + "\n").encode()


def bench_ingest(records: int, repeat: int = 3) -> dict:
    """Our ingest and the bare insert of the same file, timed back to back `repeat` times.

    Each repeat ingests a fresh batch for its own trading day, so nothing is deduplicated
    away, into tables that keep growing (as they do in production). Other load on the
    machine only ever slows a run down, so the headline compares the fastest of each side
    (as bench_landing does); every pair's ratio is reported beside it.
    """
    import dagster as dg
    import duckdb

    from stock_assets.assets.snapshot import latest_snapshot
    from stock_assets.assets.stream import stream_assets
    from stock_assets.io_managers import WarehouseIOManager
    from stock_assets.market.calendar import sessions_between
    from stock_assets.resources.lake import LocalLake

    days = sessions_between(DAY_OPEN.date(), DAY_OPEN.date() + dt.timedelta(days=60))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        lake = LocalLake(root=str(home / "lake"))
        resources = {
            "lake": lake,
            "io_manager": WarehouseIOManager(database=str(home / "w.duckdb")),
        }
        bare = _BareInsert(home / "bare.duckdb")

        def pair(n: int, instance: dg.DagsterInstance | None) -> tuple[float, float]:
            """(ours, bare) seconds for a fresh batch on the n-th session from DAY_OPEN."""
            day = days[n]
            opens = dt.datetime.combine(day, DAY_OPEN.timetz())
            key = lake.put(f"landing/quotes/bench/{day}.jsonl", synthetic_batch(records, n, opens))
            started = time.perf_counter()
            result = dg.materialize(
                [stream_assets, latest_snapshot],
                resources=resources,
                run_config={"ops": {"stream_assets": {"config": {"object_keys": [key]}}}},
                partition_key=day.isoformat(),
                instance=instance,
            )
            ours = time.perf_counter() - started
            assert result.success
            return ours, bare.insert(lake.uri(key), key, day)

        # Cold: a fresh ephemeral instance (storage set-up) inside the timing, as a
        # one-off CLI call pays it. Warm: the instance already up, as the daemon's runs find
        # it; a tiny file is ingested first.
        cold, bare_cold = pair(0, None)
        instance = dg.DagsterInstance.ephemeral()
        warmup = synthetic_batch(10, seed=99, opens=DAY_OPEN + dt.timedelta(hours=5))
        key = lake.put("landing/quotes/bench/warmup.jsonl", warmup)
        dg.materialize(
            [stream_assets, latest_snapshot],
            resources=resources,
            run_config={"ops": {"stream_assets": {"config": {"object_keys": [key]}}}},
            partition_key=days[0].isoformat(),
            instance=instance,
        )
        warm = [pair(n, instance) for n in range(1, repeat + 1)]
        with duckdb.connect(str(home / "w.duckdb")) as conn:
            ours_rows = _rows_per_object(conn)
        with bare.conn:
            bare_rows = _rows_per_object(bare.conn)
    assert len(bare_rows) == repeat + 1  # the cold batch and the warm ones
    assert all(ours_rows[k] == bare_rows[k] == records for k in bare_rows)
    ratios = [ours / reference for ours, reference in warm]
    ours_best, bare_best = min(ours for ours, _ in warm), min(b for _, b in warm)
    return {
        "records": records,
        "repeats": repeat,
        "ours_seconds": round(ours_best, 3),
        "bare_duckdb_insert_seconds": round(bare_best, 3),
        "ratio_ours_to_bare": round(ours_best / bare_best, 2),
        "pair_ratios_min_median_max": [
            round(min(ratios), 2),
            round(statistics.median(ratios), 2),
            round(max(ratios), 2),
        ],
        "pairs_seconds": [[round(ours, 3), round(reference, 3)] for ours, reference in warm],
        "ours_cold_instance_seconds": round(cold, 3),
        "bare_next_to_cold_seconds": round(bare_cold, 3),
        "ratio_cold_to_bare": round(cold / bare_cold, 2),
        "ours_records_per_second": round(records / ours_best),
    }


class _BareInsert:
    """The reference: DuckDB reads the same file and inserts it, in one statement."""

    def __init__(self, database: Path) -> None:
        import duckdb

        from stock_assets.market.schemas import STREAM_HISTORY

        self.conn = duckdb.connect(str(database))
        self.conn.execute("CREATE SCHEMA silver")
        self.conn.execute(STREAM_HISTORY.ddl())

    def insert(self, uri: str, key: str, day: dt.date) -> float:
        started = time.perf_counter()
        self.conn.execute(
            "INSERT INTO silver.stream_history BY NAME "
            "SELECT symbol, ts::TIMESTAMPTZ AT TIME ZONE 'UTC' AS ts, price, volume, change, "
            "change_pct, name, source, ? AS object_key, now() AS ingested_at, "
            "?::DATE AS trade_date FROM read_json(?, format='newline_delimited')",
            [key, day, uri],
        )
        return time.perf_counter() - started


def _rows_per_object(conn) -> dict[str, int]:
    query = "SELECT object_key, count(*) FROM silver.stream_history GROUP BY ALL"
    return dict(conn.execute(query).fetchall())


# Two user rules on a price level: the quotes alternate across it, so every file makes each
# of its symbols cross one of them, which is a RULE signal and an alert (market.alert_rules).
ALERT_RULES = """rules:
  - {name: bench_up, symbol: "*", condition: price_above, level: 105}
  - {name: bench_down, symbol: "*", condition: price_below, level: 105}
"""
LATENCY_SYMBOLS = ("AAPL", "MSFT", "NVDA")


def crossing_quotes(i: int, now: dt.datetime) -> list[dict]:
    """File i's quotes: one per symbol at `now`, above the rules' level on even files and
    below it on odd ones. Dated now, since only live signals of the last hour alert."""
    price = 110.0 if i % 2 == 0 else 100.0
    ts = now.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return [{"symbol": s, "ts": ts, "price": price, "source": "bench"} for s in LATENCY_SYMBOLS]


def require_session_today(now: dt.datetime) -> None:
    """Alerts are sent for quotes of the last hour, and quotes of a closed day are rejected."""
    from stock_assets.market import calendar

    day = calendar.trading_day_of(now)
    if not calendar.is_session(day):
        raise RuntimeError(f"{day} is no NYSE session: run the latency benchmark on a weekday")


def percentiles(values: list[float]) -> dict[str, float]:
    return {
        "p50_seconds": round(statistics.median(values), 2),
        "p95_seconds": round(float(np.percentile(values, 95)), 2),
        "max_seconds": round(max(values), 2),
    }


def bench_latency(files: int, interval: float, sensor_seconds: int, consumer: bool = False) -> dict:
    """Under `dagster dev` (SQLite instance, local lake and DuckDB, the log sink): per file,
    write -> end of the run that put it in gold.latest_snapshot, and write -> its alerts
    accepted by the sink (the sent ledger's file, written once the sink returned).

    With `consumer`, `stock-assets consume` (polling every second) ingests the files beside
    dagster dev, whose arrivals sensor then starts stopped (STOCK_ASSETS_STREAM_CONSUMER)."""
    from dagster import DagsterInstance, RunsFilter

    from stock_assets.market.landing import encode_micro_batch

    require_session_today(dt.datetime.now(dt.UTC))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        dagster_home = home / "dagster_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
        (home / "rules.yaml").write_text(ALERT_RULES)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "STOCK_ASSETS_DATA_DIR": str(home),
            "STOCK_ASSETS_SENSOR_INTERVAL_SECONDS": str(sensor_seconds),
            "STOCK_ASSETS_ALERT_RULES": str(home / "rules.yaml"),
            "STOCK_ASSETS_STREAM_CONSUMER": "on" if consumer else "off",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-p",
                "3399",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # dagster dev only stops on SIGINT; make sure it is not inherited as ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            os.environ["DAGSTER_HOME"] = str(dagster_home)
            landing = home / "lake" / "landing" / "quotes" / "bench"
            landing.mkdir(parents=True)
            # Webserver, daemon and code server start-up: the files come once the sensor ticks.
            instance = DagsterInstance.get()
            if consumer:
                consumer_process = _start_consumer(env)
            else:
                _wait_for_ticks(instance, "landing_arrivals_sensor", timeout=300)
            written, stamps = {}, {}
            for i in range(files):
                now = dt.datetime.now(dt.UTC)
                path = landing / f"q{i:03d}.jsonl"
                tmp_path = path.with_suffix(".part")
                tmp_path.write_bytes(encode_micro_batch(crossing_quotes(i, now)))
                os.replace(tmp_path, path)
                key = f"landing/quotes/bench/{path.name}"
                written[key] = time.time()
                stamps[_alert_stamp(now)] = key
                time.sleep(interval)
            latencies = _wait_for_runs(instance, RunsFilter, written, timeout=600)
            sent = home / "lake" / "alerts" / "sent" / "live"
            accepted = _wait_for_alerts(lambda: _sent_files(sent), stamps, timeout=60)
            tick_spacing = (
                [] if consumer else _sensor_tick_spacing(instance, "landing_arrivals_sensor")
            )
        finally:
            if consumer:
                consumer_process.terminate()
                consumer_process.wait(timeout=60)
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    setup = "dagster dev (SQLite instance, DuckDB, local lake, log alert sink)"
    if consumer:
        return {
            "setup": f"{setup} + stock-assets consume (1 s poll; the sensor stopped)",
            "files": files,
            "seconds_between_files": interval,
            **_summary(latencies, written, accepted),
        }
    return {
        "setup": setup,
        "files": files,
        "sensor_interval_seconds": sensor_seconds,
        # What the daemon did: the seconds between the sensor's ticks while files arrived.
        "median_seconds_between_ticks": round(statistics.median(tick_spacing), 2),
        "max_seconds_between_ticks": round(max(tick_spacing), 2),
        "seconds_between_files": interval,
        **_summary(latencies, written, accepted),
    }


def _start_consumer(env: dict[str, str]) -> subprocess.Popen:
    """`stock-assets consume` in a process of its own, once it polls (imports done)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stock_assets.cli", "consume", "--poll-seconds", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        if "polling" in line:
            # Keep draining its log so that a full pipe never blocks it.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process
    raise RuntimeError(f"stock-assets consume exited with {process.wait()} before polling")


def _summary(
    latencies: dict[str, tuple[float, float, float]],
    written: dict[str, float],
    accepted: dict[str, float],
) -> dict:
    """Snapshot latency (with where it went) and alert latency, per file, of one run."""
    snapshot = [sum(parts) for parts in latencies.values()]
    sensed, launched, ran = (list(part) for part in zip(*latencies.values(), strict=True))
    alerts = [accepted[key] - written[key] for key in written]
    return {
        "processed": len(snapshot),
        **percentiles(snapshot),
        "median_seconds_to_run_request": round(statistics.median(sensed), 2),
        "median_seconds_request_to_start": round(statistics.median(launched), 2),
        "median_seconds_run": round(statistics.median(ran), 2),
        "alerts": {"files": len(alerts), **percentiles(alerts)},
    }


def _alert_stamp(moment: dt.datetime) -> str:
    """The trigger time as alert ids spell it (resources.alerts.live_alert_id), to the ms."""
    return moment.astimezone(dt.UTC).strftime("%H%M%S%f")[:9] + "000"


def _sent_files(root: Path) -> dict[str, list[float]]:
    """Live alerts marked sent, by trigger-time stamp: when the sink had accepted each (the
    mark's mtime: it is written as soon as the sink returned)."""
    accepted: dict[str, list[float]] = {}
    for path in root.rglob("*.json") if root.exists() else ():
        accepted.setdefault(path.stem.rsplit("-", 1)[-1], []).append(path.stat().st_mtime)
    return accepted


def _wait_for_alerts(sent, stamps: dict[str, str], timeout: float) -> dict[str, float]:
    """Per landing object: when the last of its alerts (one per symbol) was accepted.
    `sent()` lists the accepted alerts' times by trigger-time stamp."""
    deadline = time.time() + timeout
    while True:
        found = sent()
        done = {s for s in stamps if len(found.get(s, ())) >= len(LATENCY_SYMBOLS)}
        if len(done) == len(stamps) or time.time() > deadline:
            break
        time.sleep(0.5)
    if len(done) < len(stamps):
        raise RuntimeError(
            f"{len(stamps) - len(done)} files' alerts were not all accepted within {timeout} s"
        )
    return {key: max(found[stamp]) for stamp, key in stamps.items()}


def _wait_for_ticks(instance, sensor_name: str, timeout: float, ticks: int = 2) -> None:
    """Until the daemon has ticked the sensor `ticks` times (a loaded machine starts slowly)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(ValueError):  # the daemon has not registered it yet
            if len(_sensor_tick_spacing(instance, sensor_name)) >= ticks - 1:
                return
        time.sleep(1)
    raise RuntimeError(f"{sensor_name} did not tick within {timeout} s of the start")


def _sensor_tick_spacing(instance, sensor_name: str) -> list[float]:
    """Seconds between consecutive ticks of the sensor, oldest first."""
    from stock_assets.compat import sensor_tick_times

    times = sensor_tick_times(instance, sensor_name)
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def _wait_for_runs(
    instance, runs_filter, written: dict[str, float], timeout: float
) -> dict[str, tuple[float, float, float]]:
    """Per object, where its latency went: write -> run requested by the sensor, requested
    -> run started (queue, launch, process start-up), started -> run ended."""
    from dagster import DagsterRunStatus

    deadline = time.time() + timeout
    done: dict[str, tuple[float, float, float]] = {}
    while time.time() < deadline and len(done) < len(written):
        for record in instance.get_run_records(
            runs_filter(job_name="stream_ingest_job", statuses=[DagsterRunStatus.SUCCESS])
        ):
            keys = record.dagster_run.run_config["ops"]["stream_assets"]["config"]["object_keys"]
            requested = record.create_timestamp.timestamp()
            for key in keys:
                if key in written and key not in done:
                    done[key] = (
                        requested - written[key],
                        record.start_time - requested,
                        record.end_time - record.start_time,
                    )
        time.sleep(0.5)
    missing = set(written) - set(done)
    if missing:
        raise RuntimeError(f"{len(missing)} objects were not processed within {timeout} s")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest")
    ingest.add_argument("--records", type=int, default=150_000)
    ingest.add_argument("--repeat", type=int, default=3, help="warm (ours, bare) pairs")
    latency = sub.add_parser("latency")
    latency.add_argument("--files", type=int, default=20)
    latency.add_argument("--interval", type=float, default=3.0)
    latency.add_argument("--sensor-seconds", type=int, default=5)
    latency.add_argument("--consumer", action="store_true", help="stock-assets consume ingests")
    args = parser.parse_args()
    if args.command == "ingest":
        result = bench_ingest(args.records, args.repeat)
    else:
        result = bench_latency(args.files, args.interval, args.sensor_seconds, args.consumer)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"stream_{args.command}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
