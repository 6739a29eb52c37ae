"""Alerts at least once, never twice once delivered: failing sinks, a kill between publish
and mark, the retry sensor and job. Runs on the local lake and on S3 (moto)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pandas as pd
import pytest

from stock_assets.alerting import alert_retry_job, alert_retry_sensor
from stock_assets.market.schemas import SIGNALS, conform
from stock_assets.resources.alerts import (
    PENDING_PREFIX,
    SENT_PREFIX,
    Alert,
    AlertSink,
    Delivery,
    LogAlertSink,
    live_alerts,
    pending_alerts,
)
from stock_assets.resources.lake import LocalLake

DAY = dt.date(2024, 7, 5)
LOG = logging.getLogger("test")


class FlakySink(AlertSink):
    """Refuses the first `failures` publishes, then accepts; records what it accepted."""

    failures: int = 0
    attempts: ClassVar[list[str]] = []
    accepted: ClassVar[list[dict]] = []

    def publish(self, alert: dict, log, alert_id: str) -> None:
        FlakySink.attempts.append(alert_id)
        if len(FlakySink.attempts) <= self.failures:
            raise ConnectionError("sink unavailable")
        FlakySink.accepted.append(alert)


@pytest.fixture(autouse=True)
def _reset_sink():
    FlakySink.attempts.clear()
    FlakySink.accepted.clear()


def signals() -> pd.DataFrame:
    rows = [("AAPL", "ANOMALY", -6.81, "moved"), ("MSFT", "BUY", 55.2, "crossed")]
    frame = pd.DataFrame(rows, columns=["symbol", "signal", "value", "reason"])
    return conform(frame.assign(trade_date=DAY), SIGNALS)


def ledger(lake, prefix: str) -> list[str]:
    return sorted(o.key for o in lake.list_objects(prefix))


def test_a_refused_publish_stays_pending_and_the_next_delivery_sends_it_once(lake):
    sink = FlakySink(failures=1, max_age_days=100_000, retry_after_seconds=0)
    first = sink.deliver(signals(), lake, LOG, today=DAY)
    assert (first.sent, len(first.failed)) == (1, 1)
    assert "ConnectionError: sink unavailable" in first.failed[0]
    assert ledger(lake, PENDING_PREFIX) == [
        f"{PENDING_PREFIX}/trade_date=2024-07-05/AAPL-ANOMALY.json"
    ]
    assert ledger(lake, SENT_PREFIX) == [f"{SENT_PREFIX}/trade_date=2024-07-05/MSFT-BUY.json"]

    second = sink.deliver(signals(), lake, LOG, today=DAY)
    assert (second.redelivered, second.sent, second.already_sent) == (1, 0, 2)
    assert ledger(lake, PENDING_PREFIX) == []
    assert sorted(a["symbol"] for a in FlakySink.accepted) == ["AAPL", "MSFT"]

    sink.deliver(signals(), lake, LOG, today=DAY)
    assert len(FlakySink.accepted) == 2, "a delivered alert is never published again"


def test_a_young_pending_alert_is_left_to_the_run_publishing_it(lake):
    """An outbox entry younger than retry_after_seconds may be mid-publish elsewhere."""
    sink = FlakySink(failures=1, max_age_days=100_000, retry_after_seconds=3600)
    sink.deliver(signals().head(1), lake, LOG, today=DAY)
    assert sink.redeliver_pending(lake, LOG).sent == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert sink.redeliver_pending(lake, LOG, now=later).sent == 1


def test_age_limits_in_days_for_daily_and_minutes_for_live_signals(tmp_path):
    lake = LocalLake(root=str(tmp_path))
    sink = FlakySink(max_age_days=3, live_max_age_minutes=30)
    frame = signals().assign(trade_date=[dt.date(2024, 7, 1), dt.date(2024, 7, 2)])
    # 2024-07-05 minus 3 days is 07-02: the 07-02 signal alerts, the 07-01 one is too old.
    delivery = sink.deliver(frame, lake, LOG, today=DAY)
    assert (delivery.sent, delivery.too_old) == (1, 1)
    live = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL"],
            "trade_date": [DAY, DAY],
            "ts": pd.to_datetime(["2024-07-05 14:00:00", "2024-07-05 14:45:00"]),
            "signal": ["MOVE", "MOVE"],
            "rule": [None, None],
            "value": [5.5, 6.1],
            "reason": ["up", "up"],
        }
    )
    now = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    delivery = sink.deliver_live(live, lake, LOG, now=now)
    assert (delivery.sent, delivery.too_old) == (1, 1)
    assert FlakySink.accepted[-1]["ts"] == "2024-07-05T14:45:00Z"


def test_live_alert_ids_differ_per_crossing_and_rule():
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL"] * 3,
            "trade_date": [DAY] * 3,
            "ts": pd.to_datetime(
                [
                    "2024-07-05 14:00:00.000000",
                    "2024-07-05 14:00:00.500000",
                    "2024-07-05 14:00:00.000000",
                ]
            ),
            "signal": ["MOVE", "MOVE", "RULE"],
            "rule": [None, None, "aapl-200"],
            "value": [5.5, 6.1, 201.0],
            "reason": ["a", "b", "c"],
        }
    )
    ids = [alert.id for alert in live_alerts(frame)]
    assert len(set(ids)) == 3
    assert ids[2].endswith("AAPL-RULE-aapl-200-140000000000")


KILLED_DELIVERY = textwrap.dedent(
    """
    import datetime as dt, logging, os, signal, sys
    import pandas as pd
    from stock_assets.market.schemas import SIGNALS, conform
    from stock_assets.resources.alerts import AlertSink
    from stock_assets.resources.lake import LocalLake

    class KilledAfterPublish(AlertSink):
        def publish(self, alert, log, alert_id):
            with open(sys.argv[2], "a") as sink:
                sink.write(alert_id + "\\n")
            os.kill(os.getpid(), signal.SIGKILL)  # between the publish and the mark

    frame = pd.DataFrame({"symbol": ["AAPL"], "signal": ["ANOMALY"], "value": [-6.8],
                          "reason": ["moved"], "trade_date": [dt.date(2024, 7, 5)]})
    lake, day = LocalLake(root=sys.argv[1]), dt.date(2024, 7, 5)
    KilledAfterPublish(max_age_days=100000).deliver(conform(frame, SIGNALS), lake, None, day)
    """
)


def test_a_kill_between_publish_and_mark_is_redelivered_then_quiet(tmp_path):
    root, published = tmp_path / "lake", tmp_path / "published.txt"
    run = subprocess.run(
        [sys.executable, "-c", KILLED_DELIVERY, str(root), str(published)], timeout=120
    )
    assert run.returncode == -9
    assert published.read_text().split() == ["trade_date=2024-07-05/AAPL-ANOMALY"]
    lake = LocalLake(root=str(root))
    assert [o.key for o in pending_alerts(lake)] == [
        f"{PENDING_PREFIX}/trade_date=2024-07-05/AAPL-ANOMALY.json"
    ]

    sink = FlakySink(retry_after_seconds=0)
    assert sink.redeliver_pending(lake, LOG).sent == 1  # at least once: the second copy
    sent_key = f"{SENT_PREFIX}/trade_date=2024-07-05/AAPL-ANOMALY.json"
    assert FlakySink.accepted == [json.loads(Path(root, sent_key).read_text())]
    assert pending_alerts(lake) == []
    assert sink.redeliver_pending(lake, LOG).sent == 0
    frame = signals().head(1)
    assert sink.deliver(frame, lake, LOG, today=DAY).already_sent == 1
    assert len(FlakySink.accepted) == 1


def test_retry_sensor_requests_a_run_only_for_due_alerts_and_the_job_delivers(tmp_path):
    lake = LocalLake(root=str(tmp_path / "lake"))
    failing = FlakySink(failures=1, max_age_days=100_000, retry_after_seconds=0)
    resources = {"alerts": failing, "lake": lake}
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        assert isinstance(alert_retry_sensor(context), dg.SkipReason)

        failing.deliver(signals().head(1), lake, LOG, today=DAY)
        request = alert_retry_sensor(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
        assert isinstance(request, dg.RunRequest)
        assert request.tags["stock_assets/pending_alerts"] == "1"

        result = alert_retry_job.execute_in_process(instance=instance, resources=resources)
        assert result.success
        assert FlakySink.accepted and pending_alerts(lake) == []
        context = dg.build_sensor_context(instance=instance, resources=resources)
        assert isinstance(alert_retry_sensor(context), dg.SkipReason)


def live_signal(symbol: str, ts: str) -> pd.DataFrame:
    """One live MOVE signal (LIVE_SIGNALS' columns that alerts read)."""
    return pd.DataFrame(
        {
            "symbol": [symbol],
            "trade_date": [DAY],
            "ts": pd.to_datetime([ts]),
            "signal": ["MOVE"],
            "rule": [None],
            "value": [5.5],
            "reason": ["up"],
        }
    )


def pend(lake: LocalLake, alert_id: str, hours_ago: float, sent: bool = False) -> None:
    """An outbox entry written `hours_ago`; with `sent`, one already marked sent too."""
    body = json.dumps({"symbol": "AAPL", "trade_date": "2024-07-05", "signal": alert_id})
    lake.put(f"{PENDING_PREFIX}/{alert_id}.json", body.encode())
    if sent:
        lake.put(f"{SENT_PREFIX}/{alert_id}.json", body.encode())
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).timestamp()
    os.utime(lake.uri(f"{PENDING_PREFIX}/{alert_id}.json"), (stamp, stamp))


def test_redelivery_counts_sends_failures_and_alerts_already_marked_sent(tmp_path):
    lake = LocalLake(root=str(tmp_path))
    pend(lake, "a", hours_ago=5)  # the oldest: the first publish, refused
    pend(lake, "b", hours_ago=4, sent=True)  # marked sent, stopped before the cleanup
    pend(lake, "c", hours_ago=3)
    pend(lake, "d", hours_ago=2, sent=True)
    pend(lake, "e", hours_ago=1)
    delivery = FlakySink(failures=1).redeliver_pending(lake, LOG)
    assert delivery == Delivery(2, 2, 0, ["a: ConnectionError: sink unavailable"])
    assert FlakySink.attempts == ["a", "c", "e"]
    assert ledger(lake, PENDING_PREFIX) == [f"{PENDING_PREFIX}/a.json"]


def test_a_pending_alert_exactly_retry_after_seconds_old_is_due(tmp_path):
    lake = LocalLake(root=str(tmp_path))
    pend(lake, "a", hours_ago=1)
    (entry,) = pending_alerts(lake)
    sink = FlakySink(retry_after_seconds=60)
    assert sink.redeliver_pending(lake, LOG, now=entry.last_modified + dt.timedelta(seconds=60))
    assert FlakySink.attempts == ["a"]


def test_an_alert_exactly_live_max_age_old_is_still_sent(tmp_path):
    lake = LocalLake(root=str(tmp_path))
    live = live_signal("AAPL", "2024-07-05 14:30:00")  # 30 minutes before now
    now = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    delivery = FlakySink(live_max_age_minutes=30).deliver_live(live, lake, LOG, now=now)
    assert (delivery.sent, delivery.too_old) == (1, 0)


def test_a_single_alert_delivery_counts_nothing_as_too_old(tmp_path):
    lake = LocalLake(root=str(tmp_path))
    alert = Alert("runs/1", {"symbol": "AAPL", "trade_date": "2024-07-05", "signal": "RUN"})
    assert FlakySink().deliver_alerts([alert], lake, LOG) == Delivery(1, 0, 0, [], 0)


def test_the_run_s_logger_gets_every_publish_and_refusal(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    lake = LocalLake(root=str(tmp_path))
    FlakySink(failures=1).deliver(signals().head(1), lake, LOG, today=DAY)
    assert caplog.messages == [
        "ALERT ANOMALY AAPL 2024-07-05 not delivered, will retry: sink unavailable"
    ]
    caplog.clear()
    # The local sink logs the retried alert and the live one with the logger it is given.
    sink = LogAlertSink(retry_after_seconds=0, live_max_age_minutes=10**7)
    now = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    sink.deliver_live(live_signal("MSFT", "2024-07-05 14:30:00"), lake, LOG, now=now)
    assert caplog.messages == [
        "ALERT ANOMALY AAPL 2024-07-05: moved",
        "ALERT MOVE MSFT 2024-07-05 14:30:00: up",
    ]
