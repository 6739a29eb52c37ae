"""The README's run command, end to end on the simulator into a temporary home."""

import datetime as dt
import os
import re
import subprocess
import sys

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance

from stock_assets import cli
from stock_assets.market import calendar
from stock_assets.settings import Settings


def test_last_closed_session_waits_for_the_close():
    before_close = dt.datetime(2024, 7, 5, 19, 0, tzinfo=dt.UTC)  # 15:00 New York
    after_close = dt.datetime(2024, 7, 5, 20, 30, tzinfo=dt.UTC)
    assert cli.last_closed_session(before_close) == dt.date(2024, 7, 3)
    assert cli.last_closed_session(after_close) == dt.date(2024, 7, 5)
    start, end = cli.default_range(3, after_close)
    assert end == dt.date(2024, 7, 5) and start == dt.date(2024, 4, 8)


@pytest.mark.slow
def test_run_command_fills_every_table_and_is_repeatable(data_home, monkeypatch, capsys):
    dagster_home = data_home / "dagster_home"
    dagster_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("STOCK_ASSETS_SYMBOLS", "AAPL,MSFT,TMUS")
    for name in cli.BACKFILL_ENV:
        monkeypatch.delenv(name, raising=False)
    args = ["run", "--start", "2024-06-24", "--end", "2024-07-12"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "3 symbols" in out and "1 holidays skipped" in out and "gold.signals" in out
    assert "silver.stream_history: 9 quotes; gold.latest_snapshot: 3 symbols" in out
    # The last session carries the simulator's minute bars, which outrank the stream's.
    assert "silver.intraday_bars 2024-07-12: 1170 simulated bars (3 symbols)" in out
    assert "gold.daily_kpis: 3 symbols, completeness 100%" in out
    # The demo's split (no STOCK_ASSETS_SIMULATED_ACTIONS set) is in the range and summary,
    # and the split day fires nothing: indicators and signals use each day's share basis.
    assert "STOCK_ASSETS_SIMULATED_ACTIONS=AAPL:2024-07-03:split:10," in out
    assert "  AAPL 2024-07-03: split 10-for-1; signals that day: none" in out
    # Recorded in the data directory, so later runs in this home (make dev, the schedules)
    # simulate the same split rather than prices on both sides of an unrecorded one.
    assert "STOCK_ASSETS_SIMULATED_ACTIONS" not in os.environ
    recorded = (data_home / "simulated_actions.txt").read_text().strip()
    assert recorded.startswith("AAPL:2024-07-03:split:10,")
    assert Settings.from_env().simulated_actions == recorded

    def counts() -> dict[str, int]:
        with duckdb.connect(str(data_home / "warehouse.duckdb"), read_only=True) as conn:
            return {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in (
                    "bronze.raw_quotes",
                    "silver.prices",
                    "gold.indicators",
                    "gold.market_summary",
                    "silver.stream_history",
                    "gold.latest_snapshot",
                    "silver.intraday_bars",
                    "gold.daily_kpis",
                )
            }

    first = counts()
    sessions = len(calendar.sessions_between(dt.date(2024, 6, 24), dt.date(2024, 7, 12)))
    assert first["silver.prices"] == 3 * sessions and first["gold.market_summary"] == sessions
    assert cli.main(args) == 0
    assert counts() == first
    assert first["silver.stream_history"] == 9 and first["gold.latest_snapshot"] == 3
    assert first["silver.intraday_bars"] == 3 * 390 and first["gold.daily_kpis"] == 3
    with duckdb.connect(str(data_home / "warehouse.duckdb"), read_only=True) as conn:
        views = {r[0] for r in conn.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        latest = dict(conn.execute("SELECT symbol, close FROM gold.latest_prices").fetchall())
    assert {"stock_analysis", "latest_prices", "todays_movers", "todays_signals"} <= views
    assert sorted(latest) == ["AAPL", "MSFT", "TMUS"]
    # The stream runs write the snapshot after their live signals: it shows each symbol's newest.
    assert snapshot_signals(data_home) == live_signals(data_home)
    # The runs are recorded in the instance the UI reads; the second invocation produced
    # the same micro-batches again, and the merge kept the stream tables unchanged.
    with DagsterInstance.get() as instance:
        jobs = sorted(r.job_name for r in instance.get_runs())
        backfill = next(r for r in instance.get_runs() if r.job_name == "daily_market_job")
        planned = instance.get_records_for_run(
            backfill.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ).records
    assert jobs.count("daily_market_job") == 2 and "stream_ingest_job" in jobs
    # Dagster's backfill switches were on for the run (cli.BACKFILL_ENV): one planned event
    # per asset for the whole range, not one per session; and they were not left behind.
    assets = {r.event_log_entry.dagster_event.asset_key for r in planned}
    assert len(assets) >= 6 and len(planned) == len(assets)
    assert not set(cli.BACKFILL_ENV) & set(os.environ)


def signal_by_symbol(data_home, sql: str) -> dict:
    """symbol -> (signal, time) from a query of the warehouse that returns those three."""
    with duckdb.connect(str(data_home / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(sql).fetchall()
    return {symbol: (signal, at) for symbol, signal, at in rows}


def snapshot_signals(data_home) -> dict:
    """Each symbol's last signal and its trigger time, as gold.latest_snapshot shows them."""
    return signal_by_symbol(
        data_home,
        "SELECT symbol, last_signal, last_signal_at FROM gold.latest_snapshot "
        "WHERE last_signal IS NOT NULL",
    )


def live_signals(data_home) -> dict:
    """Each symbol's newest live signal by trigger time (ties: the greatest kind)."""
    return signal_by_symbol(
        data_home,
        "SELECT symbol, max_by(signal, (ts, signal)), max(ts) FROM gold.live_signals "
        "GROUP BY symbol",
    )


NOW = dt.datetime(2024, 7, 8, 21, 0, tzinfo=dt.UTC)  # Monday, after the close
FIRST = dt.date(2015, 1, 2)


def test_a_range_is_narrowed_to_its_sessions():
    # Saturday .. Sunday around a week with the July 4th holiday.
    assert cli.session_range(dt.date(2024, 6, 29), dt.date(2024, 7, 7), FIRST, NOW) == (
        dt.date(2024, 7, 1),
        dt.date(2024, 7, 5),
    )
    assert cli.months_before(dt.date(2024, 7, 5), 3) == dt.date(2024, 4, 6)


@pytest.mark.parametrize(
    "start,end,reason",
    [
        ("2024-07-05", "2024-07-01", "--start 2024-07-05 is after --end 2024-07-01"),
        ("2014-12-01", "2015-01-05", "--start 2014-12-01 is before the first partition"),
        ("2024-07-01", "2024-07-09", "--end 2024-07-09 is in the future (today is 2024-07-08)"),
        ("2024-07-06", "2024-07-07", "2024-07-06 .. 2024-07-07 holds no NYSE session"),
    ],
)
def test_a_range_without_sessions_is_refused_with_its_reason(start, end, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        cli.session_range(dt.date.fromisoformat(start), dt.date.fromisoformat(end), FIRST, NOW)


@pytest.mark.parametrize(
    "args,reason",
    [
        (["--months", "0"], "--months: must be 1 or more, got 0"),
        (["--stream-batches", "-1"], "--stream-batches: must be 0 or more, got -1"),
        (["--start", "2024-07-05", "--end", "2024-07-01"], "is after --end 2024-07-01"),
        (["--end", "2999-01-01"], "--end 2999-01-01 is in the future"),
        (["--start", "July 1"], "--start: invalid fromisoformat value: 'July 1'"),
    ],
)
def test_bad_options_stop_before_anything_runs(args, reason, data_home, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", *args])
    assert stop.value.code == 2 and reason in capsys.readouterr().err
    assert list(data_home.iterdir()) == []  # nothing written


def test_a_run_without_stream_batches_summarizes_a_fresh_data_dir(data_home):
    # Its own process, as a user runs it: Dagster caches a reconstructed job per process,
    # with the resources (data dir) of the first build.
    env = {**os.environ, "DAGSTER_HOME": str(data_home), "STOCK_ASSETS_SYMBOLS": "AAPL"}
    # A weekend start is narrowed to the Monday session.
    args = ["run", "--start", "2024-07-06", "--end", "2024-07-08", "--stream-batches", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "stock_assets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "silver.prices 2024-07-08 .. 2024-07-08: 1 trading days" in done.stdout
    assert "1 symbols, 1 rows" in done.stdout
    assert "silver.stream_history, gold.latest_snapshot: not created yet" in done.stdout
