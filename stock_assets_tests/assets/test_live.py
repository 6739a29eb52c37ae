"""Arrivals runs -> gold.live_signals and their alerts, through the real sensor, assets and
DuckDB warehouse. Expected signals are written here from the crafted quotes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets.assets.intraday import intraday_bars
from stock_assets.assets.live import live_signals_asset as live
from stock_assets.assets.live import minute_volume_profile
from stock_assets.assets.prices import prices, raw_quotes
from stock_assets.assets.snapshot import latest_snapshot
from stock_assets.assets.stream import stream_assets
from stock_assets.market import calendar
from stock_assets.market.landing import encode_micro_batch
from stock_assets.resources.alert_rules import AlertRulesResource
from stock_assets.resources.alerts import AlertSink, pending_alerts
from stock_assets.resources.lake import LocalLake
from stock_assets_tests.conftest import local_resources, sense

DAY, PREVIOUS = dt.date(2024, 7, 8), dt.date(2024, 7, 5)
SYMBOL = "AAPL"


class RecordingSink(AlertSink):
    fail_first: int = 0
    attempts: ClassVar[list[str]] = []
    delivered: ClassVar[list[dict]] = []

    def publish(self, alert: dict, log, alert_id: str) -> None:
        RecordingSink.attempts.append(alert_id)
        if len(RecordingSink.attempts) <= self.fail_first:
            raise ConnectionError("SNS is down")
        RecordingSink.delivered.append(alert)


@pytest.fixture(autouse=True)
def _clear_sink():
    RecordingSink.attempts.clear()
    RecordingSink.delivered.clear()


def at(clock: str) -> dt.datetime:
    """14:35:00-style UTC time on DAY (10:35 New York)."""
    return dt.datetime.fromisoformat(f"{DAY}T{clock}+00:00")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A warehouse holding the previous session's daily bar (the MOVE reference)."""
    home = tmp_path / "home"
    home.mkdir()
    assert dg.materialize(
        [raw_quotes, prices],
        resources=local_resources(home, symbols=SYMBOL),
        partition_key=PREVIOUS.isoformat(),
    ).success
    return home


def previous_close(home: Path) -> float:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute("SELECT close FROM silver.prices").fetchone()[0]


def quote(clock: str, price: float, volume: int) -> dict:
    return {"symbol": SYMBOL, "ts": at(clock).isoformat(), "price": price, "volume": volume}


# The assets of stream_ingest_job, in the order its run computes them.
ARRIVALS_RUN = (stream_assets, intraday_bars, live, latest_snapshot)


def ingest(home: Path, files: dict[str, list[dict]], cursor=None, sink=None, rules=""):
    """Land the files, evaluate the sensor and run what it asks, as the daemon would."""
    lake = LocalLake(root=str(home / "lake"))
    for key, quotes in files.items():
        lake.put(key, encode_micro_batch(quotes, "jsonl"))
    result = sense(lake, cursor)
    resources = {
        **local_resources(home, symbols=SYMBOL),
        "lake": lake,
        "alerts": sink or RecordingSink(),
        "alert_rules": AlertRulesResource(path=rules),
    }
    runs = []
    for request in result.run_requests:
        runs.append(
            dg.materialize(
                [*ARRIVALS_RUN, raw_quotes, prices, minute_volume_profile],
                selection=[a.key for a in ARRIVALS_RUN],
                resources=resources,
                run_config=request.run_config,
                partition_key=request.partition_key,
                tags=request.tags,
            )
        )
        assert runs[-1].success
    return result.cursor, runs


def stored(home: Path) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(
            "SELECT symbol, ts, signal, rule, value, detected_at FROM gold.live_signals "
            "ORDER BY ts, signal"
        ).fetchdf()


def moves(close: float) -> dict[str, list[dict]]:
    """Three files: a quote 6% up at 14:40 (a MOVE), one back inside, one 6% up again."""
    return {
        "landing/quotes/2024/07/08/a.jsonl": [quote("14:35:00", close * 1.01, 100)],
        "landing/quotes/2024/07/08/b.jsonl": [quote("14:40:00", close * 1.06, 200)],
        "landing/quotes/2024/07/08/c.jsonl": [
            quote("14:45:00", close * 1.02, 300),
            quote("14:50:00", close * 1.07, 400),
        ],
    }


def test_live_signals_are_the_same_whatever_order_the_files_arrived_in(home, tmp_path, monkeypatch):
    monkeypatch.setattr(calendar, "utc_now", lambda: at("14:55:00"))
    close = previous_close(home)
    files = moves(close)
    other = tmp_path / "other"
    other.mkdir()
    for path in home.iterdir():
        if path.name == "warehouse.duckdb":
            other.joinpath(path.name).write_bytes(path.read_bytes())
    cursor = None
    for key in files:  # one at a time, in order
        cursor, _ = ingest(home, {key: files[key]}, cursor)
    ingest(other, dict(reversed(list(files.items()))))  # all at once, newest first

    expected = [(at("14:40:00"), "MOVE", 6.0), (at("14:50:00"), "MOVE", 7.0)]
    for where in (home, other):
        got = stored(where)
        assert [
            (t.tz_localize("UTC").to_pydatetime(), s, round(v, 6))
            for t, s, v in zip(got.ts, got.signal, got.value, strict=True)
        ] == expected
    pd.testing.assert_frame_equal(
        stored(home).drop(columns="detected_at"), stored(other).drop(columns="detected_at")
    )


def test_each_new_signal_is_alerted_once_and_a_refused_alert_is_retried(home, monkeypatch):
    monkeypatch.setattr(calendar, "utc_now", lambda: at("14:55:00"))
    files = moves(previous_close(home))
    failing = RecordingSink(fail_first=1, retry_after_seconds=0)
    cursor, _ = ingest(
        home,
        {"landing/quotes/2024/07/08/b.jsonl": files["landing/quotes/2024/07/08/b.jsonl"]},
        sink=failing,
    )
    assert (
        RecordingSink.delivered == []
        and len(pending_alerts(LocalLake(root=str(home / "lake")))) == 1
    )
    first_detected = stored(home).detected_at.tolist()

    cursor, runs = ingest(
        home,
        {"landing/quotes/2024/07/08/c.jsonl": files["landing/quotes/2024/07/08/c.jsonl"]},
        cursor,
        failing,
    )
    ts = [alert["ts"] for alert in RecordingSink.delivered]
    assert ts == ["2024-07-08T14:40:00Z", "2024-07-08T14:50:00Z"]  # the retry, then the new one
    assert stored(home).detected_at.tolist()[:1] == first_detected  # kept across runs
    (materialization,) = runs[0].asset_materializations_for_node("gold__live_signals")
    assert materialization.metadata["new_signals"].value == 1

    ingest(
        home,
        {"landing/quotes/2024/07/08/a.jsonl": files["landing/quotes/2024/07/08/a.jsonl"]},
        cursor,
        failing,
    )
    assert len(RecordingSink.delivered) == 2, "nothing new: nothing alerted again"


def test_a_bad_rule_is_reported_and_the_good_ones_still_fire(home, tmp_path, monkeypatch):
    monkeypatch.setattr(calendar, "utc_now", lambda: at("14:55:00"))
    close = previous_close(home)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        f"  - {{name: above, symbol: AAPL, condition: price_above, level: {close * 1.03}}}\n"
        "  - {name: broken, symbol: AAPL, condition: price_sideways, level: 1}\n"
    )
    _, (run,) = ingest(home, moves(close), rules=str(rules))
    got = stored(home)
    assert got[got.signal == "RULE"].rule.tolist() == ["above", "above"]  # 14:40 and 14:50
    (materialization,) = run.asset_materializations_for_node("gold__live_signals")
    (error,) = materialization.metadata["rule_errors"].value
    assert error.startswith("broken: condition 'price_sideways'")


def snapshot_row(home: Path) -> pd.Series:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute("SELECT * FROM gold.latest_snapshot").fetchdf().iloc[0]


def signal_reason(home: Path, ts: pd.Timestamp) -> str:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute("SELECT reason FROM gold.live_signals WHERE ts = ?", [ts]).fetchone()[0]


def test_a_runs_snapshot_carries_the_signal_that_run_detected(home, monkeypatch):
    monkeypatch.setattr(calendar, "utc_now", lambda: at("14:59:00"))
    close = previous_close(home)
    _, (run,) = ingest(
        home,
        {"landing/quotes/2024/07/08/b.jsonl": moves(close)["landing/quotes/2024/07/08/b.jsonl"]},
    )
    (materialization,) = run.asset_materializations_for_node("gold__live_signals")
    assert materialization.metadata["new_signals"].value == 1  # detected by this very run
    row = snapshot_row(home)
    assert row.ts == at("14:40:00").replace(tzinfo=None) and row.price == close * 1.06
    assert (row.last_signal, row.last_signal_at) == ("MOVE", row.ts)
    assert row.last_signal_reason == signal_reason(home, row.last_signal_at)


def test_the_snapshot_carries_the_newest_live_signal_by_trigger_time(home, monkeypatch):
    monkeypatch.setattr(calendar, "utc_now", lambda: at("14:59:00"))
    close = previous_close(home)
    files = moves(close)
    newest_move = ("MOVE", at("14:50:00").replace(tzinfo=None))
    # c (MOVEs at 14:50) first: its run's snapshot shows its newest signal.
    cursor, _ = ingest(
        home, {"landing/quotes/2024/07/08/c.jsonl": files["landing/quotes/2024/07/08/c.jsonl"]}
    )
    assert (snapshot_row(home).last_signal, snapshot_row(home).last_signal_at) == newest_move
    # b (a MOVE at 14:40) arrives late: its quote is older, the row does not move.
    cursor, _ = ingest(
        home,
        {"landing/quotes/2024/07/08/b.jsonl": files["landing/quotes/2024/07/08/b.jsonl"]},
        cursor,
    )
    row = snapshot_row(home)
    assert row.ts == at("14:50:00").replace(tzinfo=None)
    assert (row.last_signal, row.last_signal_at) == newest_move
    # Still above the threshold at 14:55: no new crossing, no new signal.
    ingest(
        home, {"landing/quotes/2024/07/08/d.jsonl": [quote("14:55:00", close * 1.065, 500)]}, cursor
    )
    row = snapshot_row(home)
    assert row.ts == at("14:55:00").replace(tzinfo=None) and row.volume == 500
    # Both MOVEs (14:40, 14:50) are stored; the newest by trigger time is the one shown.
    assert (row.last_signal, row.last_signal_at) == newest_move
    assert row.last_signal_reason == signal_reason(home, row.last_signal_at)
