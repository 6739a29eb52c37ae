"""Faults during a write: the previous partition stays whole, and the next run converges.

- S3/Glue failures are injected over HTTP by a proxy in front of moto's server.
- A run is killed with SIGKILL part-way and re-run.
- A source throttles (HTTP 429) or fails for one symbol in the middle of a partition.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.instance.ref import InstanceRef

from stock_assets.compat import sensor_state
from stock_assets.market.arrivals import ArrivalCursor
from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.resources.aws import aws_resources
from stock_assets.resources.lake import LocalLake
from stock_assets.resources.market_data import MarketDataResource
from stock_assets.sensors import LandingCursor
from stock_assets_tests.conftest import JULY_2024, local_resources
from stock_assets_tests.market.sources.test_alpha_vantage import (
    JAN2,
    JAN5,
    RecordedAlphaVantage,
    Sleeps,
)
from stock_assets_tests.reliability.fault_proxy import (
    DROP,
    ERROR,
    LOST_REPLY,
    Fault,
)
from stock_assets_tests.reliability.runs import (
    REPO_ROOT,
    assert_same_tables,
    backfill,
    backfill_prices,
    finish,
    read_tables,
    recorded_market_data,
    start,
)

DAYS = ("2024-07-01", "2024-07-02")
PRICE_TABLES = ("bronze.raw_quotes", "silver.prices", "silver.price_rejects")
STREAM_SYMBOLS = ["AAPL", "MSFT", "ARM"]
COMMIT = "AWSGlue.UpdateTable"  # the Iceberg commit: Glue's metadata pointer moves
PRICES_TABLE = '"prices"'  # in the body of the Glue calls for silver.prices only
PRICES_FILES = "/tables/silver/prices/"  # in the S3 keys of its data and metadata files


# -- S3 and Glue failing in the middle of a commit ------------------------------------------


def visible_prices(moto_url: str) -> pd.DataFrame:
    """silver.prices as Athena reads it: the snapshot Glue's metadata pointer names."""
    from pyiceberg.catalog import load_catalog

    glue = load_catalog(
        "independent", type="glue", **{"glue.endpoint": moto_url, "s3.endpoint": moto_url}
    )
    frame = glue.load_table("silver.prices").scan().to_arrow().to_pandas()
    return frame.sort_values(["trade_date", "symbol"], ignore_index=True)


def aws_pipeline(symbols: str) -> dict:
    return {**aws_resources(), "market_data": MarketDataResource(symbols=symbols)}


@pytest.mark.parametrize(
    ("case", "fault", "visible_after_failure"),
    [
        (
            "S3 PutObject of the 2nd new data file answers 500",
            Fault("PUT", f"{PRICES_FILES}data/", after=1, action=ERROR),
            "previous",
        ),
        (
            "S3 PutObject of the new table metadata answers 500",
            Fault("PUT", f"{PRICES_FILES}metadata/", after=1, action=ERROR),
            "previous",
        ),
        (
            "connection dropped on the Glue commit (UpdateTable)",
            Fault("POST", target=COMMIT, body_contains=PRICES_TABLE, action=DROP),
            "previous",
        ),
        (
            "Glue commit applied but its reply lost (500 to the client)",
            Fault("POST", target=COMMIT, body_contains=PRICES_TABLE, action=LOST_REPLY),
            "new",
        ),
    ],
    ids=["s3-data-put-500", "s3-metadata-put-500", "glue-commit-dropped", "glue-reply-lost"],
)
def test_s3_or_glue_failing_mid_write_never_exposes_half_a_partition(
    fault_proxy, aws_endpoint, reliability_record, case, fault, visible_after_failure
):
    assert backfill(aws_pipeline("AAPL,MSFT"), *DAYS)
    previous = visible_prices(aws_endpoint)

    with fault_proxy.inject(fault):
        failed = not backfill(aws_pipeline("AAPL,MSFT,ARM"), *DAYS)
    assert failed and fault.injected >= 1
    after_failure = visible_prices(aws_endpoint)
    assert backfill(aws_pipeline("AAPL,MSFT,ARM"), *DAYS)
    converged = visible_prices(aws_endpoint)

    assert len(previous) == 2 * 2 and len(converged) == 3 * 2
    assert not converged.duplicated(["trade_date", "symbol"]).any()
    if visible_after_failure == "previous":
        pd.testing.assert_frame_equal(after_failure, previous)
    else:  # the commit happened: the new snapshot is visible, whole (all 3 symbols, each day)
        assert sorted(after_failure.groupby("trade_date").size()) == [3, 3]
    reliability_record(
        "fault",
        case,
        f"run failed; Athena-visible silver.prices: {len(after_failure)} rows, "
        f"{visible_after_failure} version of both partitions, whole; next run converged to "
        f"{len(converged)} rows, 0 duplicates",
    )


# -- a run killed with SIGKILL ---------------------------------------------------------------


@pytest.mark.slow
def test_a_run_killed_mid_materialization_reruns_to_the_clean_result(
    tmp_path: Path, reliability_record
):
    first, last = (d.isoformat() for d in JULY_2024)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    victim = start("prices", str(killed), first, last, "AAPL,MSFT,ARM")
    bronze = killed / "lake" / "bronze" / "raw_quotes"
    deadline = time.monotonic() + 60
    # Deterministic point: the first verbatim bronze object is in the lake, so the run is
    # between pulling the source and writing the warehouse.
    while not (bronze.is_dir() and any(p.is_file() for p in bronze.rglob("*.jsonl"))):
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(victim.pid, signal.SIGKILL)
    assert finish(victim) == -signal.SIGKILL
    assert backfill_prices(clean, first, last, "AAPL,MSFT,ARM")  # the reference, undisturbed

    assert finish(start("prices", str(killed), first, last, "AAPL,MSFT,ARM")) == 0
    got = read_tables(killed / "warehouse.duckdb", PRICE_TABLES)
    assert_same_tables(got, read_tables(clean / "warehouse.duckdb", PRICE_TABLES))
    assert not got["silver.prices"].duplicated(["symbol", "trade_date"]).any()
    reliability_record(
        "fault",
        "run killed with SIGKILL once its first bronze object is in the lake, then re-run",
        f"re-run succeeded; silver.prices {len(got['silver.prices'])} rows, bronze.raw_quotes "
        f"{len(got['bronze.raw_quotes'])} rows, 0 duplicates, identical to a clean run",
    )


# -- the source throttling or failing part-way through a partition ------------------------------


@pytest.mark.parametrize(
    ("case", "msft_answers", "expected"),
    [
        (
            "HTTP 429 twice for the 2nd symbol, then data",
            ["429:", "429:", "daily_adjusted_MSFT.json"],
            "replaced",
        ),
        (
            "Error Message (invalid API call) for the 2nd symbol",
            ["error_invalid_call.json"],
            "carried",
        ),
        (
            "Note (call frequency) on every attempt for the 2nd symbol",
            ["note_call_frequency.json"],
            "kept",
        ),
        ("HTTP 500 for the 2nd symbol", ["500:"], "kept"),
    ],
    ids=["429-then-ok", "invalid-call", "throttled-throughout", "http-500"],
)
def test_a_source_failing_mid_partition_leaves_the_whole_new_or_the_previous_partition(
    data_home, monkeypatch, reliability_record, case, msft_answers, expected
):
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "test-key")
    first, last = JAN2.isoformat(), JAN5.isoformat()
    warehouse = data_home / "warehouse.duckdb"
    resources = local_resources(data_home)
    resources["market_data"] = recorded_market_data(RecordedAlphaVantage(), Sleeps(), "IBM,MSFT")
    assert backfill(resources, first, last)
    previous = read_tables(warehouse, PRICE_TABLES, keep_run_specific=True)

    server, sleeps = RecordedAlphaVantage({"MSFT": msft_answers}), Sleeps()
    resources["market_data"] = recorded_market_data(server, sleeps, "IBM,MSFT")
    assert backfill(resources, first, last) is (expected != "kept")
    after = read_tables(warehouse, PRICE_TABLES, keep_run_specific=True)

    prices_after = after["silver.prices"]
    if expected == "replaced":
        assert len(sleeps) == 2 and sleeps[0] < sleeps[1]  # backed off, then got the data
        assert sorted(prices_after.groupby("symbol").size().items()) == [("IBM", 4), ("MSFT", 4)]
        assert (prices_after.ingested_at > previous["silver.prices"].ingested_at.max()).all()
        outcome = f"retried {len(sleeps)} times with growing backoff; partition replaced whole"
    elif expected == "carried":  # MSFT's earlier records verbatim (object_key, fetched_at)
        for table, run_specific in [("bronze.raw_quotes", []), ("silver.prices", ["ingested_at"])]:
            msft_before, msft_after = (
                tables[table]
                .query("symbol == 'MSFT'")
                .drop(columns=run_specific)
                .reset_index(drop=True)
                for tables in (previous, after)
            )
            pd.testing.assert_frame_equal(msft_after, msft_before)
        ibm = after["bronze.raw_quotes"].query("symbol == 'IBM'")
        assert len(ibm) == 4  # and IBM's records are this pull's, in its own objects
        assert set(ibm.object_key).isdisjoint(previous["bronze.raw_quotes"].object_key)
        outcome = "MSFT reported as a symbol error, its earlier records carried forward verbatim"
    else:
        assert_same_tables(after, previous)  # bronze and silver untouched, timestamps included
        outcome = "run failed before writing; previous partitions kept unchanged"
    reliability_record(
        "fault",
        f"alpha_vantage source, 4 days x IBM, MSFT: {case}",
        f"{outcome}: silver.prices {len(prices_after)} rows "
        f"({', '.join(f'{s} {n}' for s, n in prices_after.groupby('symbol').size().items())})",
    )


# -- the daemon restarting between arrivals ---------------------------------------------------


class Daemon:
    """`dagster-daemon run` on a temporary instance, started and stopped like a service."""

    def __init__(self, dagster_home: Path, data_home: Path) -> None:
        self.dagster_home, self.data_home = dagster_home, data_home
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(self.dagster_home),
            "STOCK_ASSETS_DATA_DIR": str(self.data_home),
            "STOCK_ASSETS_SENSOR_INTERVAL_SECONDS": "1",
        }
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # A background parent may ignore SIGINT; the daemon must not inherit that.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def stop(self) -> int:
        """SIGINT to the daemon and its code server, as Ctrl-C or a service manager does."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


def land(data_home: Path, name: str, minute: int) -> str:
    key = f"landing/quotes/2024/07/05/{name}.jsonl"
    as_of = dt.datetime(2024, 7, 5, 14, minute, tzinfo=dt.UTC)
    LocalLake(root=str(data_home / "lake")).put(
        key, encode_micro_batch(SimulatedSource().latest_quotes(STREAM_SYMBOLS, as_of))
    )
    return key


def stream_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(job_name="stream_ingest_job")))


def wait_for_ingestion(instance: dg.DagsterInstance, keys: set[str], timeout: float = 150):
    """Until finished stream runs cover `keys`; returns the runs."""
    deadline = time.monotonic() + timeout
    while True:
        runs = stream_runs(instance)
        finished = [r for r in runs if r.is_finished]
        covered = {k for r in finished for k in r.run_config["ops"]["stream_assets"]["config"][
            "object_keys"]}  # fmt: skip
        if keys <= covered and len(finished) == len(runs):
            return runs
        assert time.monotonic() < deadline, f"ingested {sorted(covered)} of {sorted(keys)}"
        time.sleep(0.5)


def sensor_cursor(instance: dg.DagsterInstance) -> ArrivalCursor:
    state = sensor_state(instance, "landing_arrivals_sensor")
    return LandingCursor.from_json(state.instigator_data.cursor).by_prefix[0]


@pytest.mark.slow
def test_a_daemon_restart_keeps_the_sensor_cursor_and_loses_no_arrival(
    tmp_path: Path, reliability_record
):
    dagster_home, data_home = tmp_path / "dagster_home", tmp_path / "data"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home)))
    daemon = Daemon(dagster_home, data_home)
    before = {land(data_home, f"before{i}", 30 + i) for i in range(2)}
    try:
        daemon.start()
        wait_for_ingestion(instance, before)
        cursor_before = sensor_cursor(instance)
        assert daemon.stop() == 0  # stopped cleanly on SIGINT, not killed
        during = {land(data_home, f"during{i}", 40 + i) for i in range(2)}  # daemon down
        daemon.start()
        runs = wait_for_ingestion(instance, before | during)
        time.sleep(3)  # several more sensor ticks: nothing is requested again
        runs = stream_runs(instance)
    finally:
        daemon.stop()

    per_key = Counter(
        k for r in runs for k in r.run_config["ops"]["stream_assets"]["config"]["object_keys"]
    )
    assert per_key == {k: 1 for k in before | during}  # each object in exactly one run
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert {k for k, _, _ in cursor_before.seen} == before
    assert {k for k, _, _ in sensor_cursor(instance).seen} >= before | during
    history = read_tables(data_home / "warehouse.duckdb", ["silver.stream_history"])[
        "silver.stream_history"
    ]
    assert len(history) == len(STREAM_SYMBOLS) * 4
    assert not history.duplicated(["symbol", "ts"]).any()
    reliability_record(
        "fault",
        "dagster-daemon stopped (SIGINT) after 2 landing files were ingested; 2 more landed "
        "while it was down; daemon restarted",
        f"cursor kept across the restart; {len(per_key)} objects each ingested by exactly one "
        f"of {len(runs)} runs (none re-run); stream_history {len(history)} rows, 0 duplicates",
    )
