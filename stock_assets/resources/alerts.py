"""Alert sinks: every signal is delivered at least once, and quiet once delivered.

Each alert has an id and two ledger objects in the lake. Before the publish, the alert is
written to ``alerts/pending/<id>.json`` (the outbox); once the sink has accepted it,
``alerts/sent/<id>.json`` is created (put-if-absent) and the pending object removed. So:

* a publish that fails leaves the alert pending: the next delivery (any run) and the
  ``alert_retry_sensor`` publish it again until the sink accepts it;
* a crash between the publish and the mark also leaves it pending, and it is published a
  second time: the one duplicate at-least-once allows. Subscribers can drop it by the
  ``alert_id`` message attribute (and a FIFO topic does so itself);
* once ``sent`` exists, every later delivery of that alert is quiet.

The local sink logs, the SNS sink of AWS mode publishes; both use the same ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from stock_assets.resources.lake import LakeResource
from stock_assets.settings import aws_region

SENT_PREFIX = "alerts/sent"
PENDING_PREFIX = "alerts/pending"


@dataclass(frozen=True)
class Delivery:
    sent: int
    already_sent: int
    too_old: int
    failed: list[str] = field(default_factory=list)  # ids left pending, with the error
    redelivered: int = 0


@dataclass(frozen=True)
class Alert:
    id: str  # ledger id: a lake key suffix, unique per alert
    body: dict


def alert_key(symbol: str, trade_date: dt.date, signal: str) -> str:
    """The sent-ledger key of a daily signal's alert."""
    return f"{SENT_PREFIX}/{daily_alert_id(symbol, trade_date, signal)}.json"


def daily_alert_id(symbol: str, trade_date: dt.date, signal: str) -> str:
    return f"trade_date={trade_date.isoformat()}/{symbol}-{signal}"


def live_alert_id(row) -> str:
    """symbol, signal, rule and the trigger quote's time: one alert per crossing."""
    stamp = pd.Timestamp(row.ts).strftime("%H%M%S%f")
    rule = f"-{row.rule}" if isinstance(row.rule, str) and row.rule else ""
    day = pd.Timestamp(row.trade_date).date().isoformat()
    return f"live/trade_date={day}/{row.symbol}-{row.signal}{rule}-{stamp}"


def _number(value) -> float | None:
    return None if pd.isna(value) else float(value)


def daily_alerts(signals: pd.DataFrame) -> list[Alert]:
    return [
        Alert(
            daily_alert_id(row.symbol, row.trade_date, row.signal),
            {
                "symbol": row.symbol,
                "trade_date": row.trade_date.isoformat(),
                "signal": row.signal,
                "value": _number(row.value),
                "reason": row.reason,
            },
        )
        for row in signals.itertuples(index=False)
    ]


def live_alerts(signals: pd.DataFrame) -> list[Alert]:
    return [
        Alert(
            live_alert_id(row),
            {
                "symbol": row.symbol,
                "trade_date": pd.Timestamp(row.trade_date).date().isoformat(),
                "ts": pd.Timestamp(row.ts).isoformat() + "Z",
                "signal": row.signal,
                "rule": row.rule if isinstance(row.rule, str) else None,
                "value": _number(row.value),
                "reason": row.reason,
            },
        )
        for row in signals.itertuples(index=False)
    ]


class AlertSink(ConfigurableResource):
    """Base sink: decides what is new and recent and keeps the ledger; subclasses publish."""

    max_age_days: int = Field(
        default=5, description="Only daily signals this recent alert (backfills stay quiet)"
    )
    live_max_age_minutes: int = Field(
        default=60, description="Only live signals this recent alert (replayed files stay quiet)"
    )
    retry_after_seconds: int = Field(
        default=60,
        description="A pending alert this old is retried (younger ones may be mid-publish)",
    )

    def publish(self, alert: dict, log: logging.Logger, alert_id: str) -> None:
        raise NotImplementedError

    def deliver(
        self, signals: pd.DataFrame, lake: LakeResource, log: logging.Logger, today: dt.date
    ) -> Delivery:
        """Alert the daily signals dated within max_age_days of `today`."""
        oldest = today - dt.timedelta(days=self.max_age_days)
        recent = signals[signals.trade_date >= oldest]
        return self.deliver_alerts(
            daily_alerts(recent), lake, log, too_old=len(signals) - len(recent)
        )

    def deliver_live(
        self, signals: pd.DataFrame, lake: LakeResource, log: logging.Logger, now: dt.datetime
    ) -> Delivery:
        """Alert the live signals triggered within live_max_age_minutes of `now` (UTC)."""
        limit = pd.Timestamp(now).tz_convert("UTC").tz_localize(None) - pd.Timedelta(
            minutes=self.live_max_age_minutes
        )
        recent = signals[pd.to_datetime(signals.ts) >= limit]
        return self.deliver_alerts(
            live_alerts(recent), lake, log, too_old=len(signals) - len(recent)
        )

    def deliver_alerts(
        self, alerts: Iterable[Alert], lake: LakeResource, log: logging.Logger, too_old: int = 0
    ) -> Delivery:
        """Publish each alert not yet sent; first retry what earlier deliveries left pending."""
        redelivered = self.redeliver_pending(lake, log)
        sent, already, failed = 0, 0, []
        for alert in alerts:
            if lake.exists(f"{SENT_PREFIX}/{alert.id}.json"):
                already += 1
                continue
            error = self._publish_and_mark(alert, lake, log)
            if error:
                failed.append(f"{alert.id}: {error}")
            else:
                sent += 1
        return Delivery(sent, already, too_old, failed, redelivered.sent)

    def redeliver_pending(
        self, lake: LakeResource, log: logging.Logger, now: dt.datetime | None = None
    ) -> Delivery:
        """Publish the pending alerts older than retry_after_seconds (the outbox)."""
        now = now or dt.datetime.now(dt.UTC)
        cutoff = now - dt.timedelta(seconds=self.retry_after_seconds)
        sent, already, failed = 0, 0, []
        for obj in pending_alerts(lake):
            if obj.last_modified > cutoff:
                continue
            alert_id = obj.key[len(PENDING_PREFIX) + 1 : -len(".json")]
            if lake.exists(f"{SENT_PREFIX}/{alert_id}.json"):
                lake.delete(obj.key)  # marked sent, then stopped before the cleanup
                already += 1
                continue
            alert = Alert(alert_id, json.loads(lake.get(obj.key)))
            error = self._publish_and_mark(alert, lake, log)
            if error:
                failed.append(f"{alert_id}: {error}")
            else:
                sent += 1
        return Delivery(sent, already, 0, failed)

    def _publish_and_mark(self, alert: Alert, lake: LakeResource, log: logging.Logger) -> str:
        """Outbox, publish, mark sent; the error text when the sink refused (alert stays
        pending), else ''."""
        body = json.dumps(alert.body).encode()
        pending = f"{PENDING_PREFIX}/{alert.id}.json"
        lake.put(pending, body)
        try:
            self.publish(alert.body, log, alert.id)
        except Exception as exc:  # any sink failure: keep it pending for the retry
            log.error(f"ALERT {headline(alert.body)} not delivered, will retry: {exc}")
            return f"{type(exc).__name__}: {exc}"
        lake.put_if_absent(f"{SENT_PREFIX}/{alert.id}.json", body)
        lake.delete(pending)
        return ""


def pending_alerts(lake: LakeResource) -> list:
    """The outbox: alerts written before a publish that was never marked sent."""
    return lake.list_objects(PENDING_PREFIX)


def headline(alert: dict) -> str:
    """The alert in one line ("BUY MSFT 2024-07-05", live: "MOVE MSFT 2024-07-05 14:31:05"):
    log lines and SNS subjects."""
    when = alert["trade_date"]
    if alert.get("ts"):
        when += " " + alert["ts"][11:19]
    rule = f" [{alert['rule']}]" if alert.get("rule") else ""
    return f"{alert['signal']} {alert['symbol']} {when}{rule}"


class LogAlertSink(AlertSink):
    """Local sink: one log line per alert; the ledger file in the lake is the alert record."""

    def publish(self, alert: dict, log: logging.Logger, alert_id: str) -> None:
        log.info(f"ALERT {headline(alert)}: {alert['reason']}")


class SnsAlertSink(AlertSink):
    """AWS sink: one SNS message per alert, on top of the same ledger.

    The body is the alert as JSON; `symbol` and `signal` are also message attributes, so
    subscribers can filter (an SQS queue for BUY/SELL only, an e-mail for ANOMALY, ...),
    and `alert_id` lets them drop the rare re-delivery after a crash.
    """

    topic_arn: str = Field(description="The SNS topic alerts are published to")
    region_name: str | None = Field(
        default=None, description="AWS region; unset: AWS_REGION, then boto3's default chain"
    )

    def publish(self, alert: dict, log: logging.Logger, alert_id: str) -> None:
        import boto3

        region = self.region_name or aws_region()
        request = dict(
            TopicArn=self.topic_arn,
            # SNS subjects: ASCII, no line breaks, at most 100 characters.
            Subject=headline(alert)[:100],
            Message=json.dumps(alert),
            MessageAttributes={
                "symbol": {"DataType": "String", "StringValue": alert["symbol"]},
                "signal": {"DataType": "String", "StringValue": alert["signal"]},
                "alert_id": {"DataType": "String", "StringValue": alert_id},
            },
        )
        if self.topic_arn.endswith(".fifo"):
            # A FIFO topic drops a re-publish of the same id within its 5-minute window.
            request["MessageDeduplicationId"] = hashlib.sha256(alert_id.encode()).hexdigest()
            request["MessageGroupId"] = alert["symbol"]
        response = boto3.client("sns", region_name=region).publish(**request)
        log.info(f"ALERT {headline(alert)} published to SNS ({response['MessageId']})")
