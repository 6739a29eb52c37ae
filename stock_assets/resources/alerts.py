"""Alert sinks: signals are delivered once, whatever the number of re-runs.

A ledger object per alert (`alerts/sent/trade_date=.../<symbol>-<signal>.json`) is created
with put-if-absent before an alert goes out, so a re-materialization finds it and stays
quiet. The local sink logs and keeps the ledger file as the alert record; the SNS sink of
AWS mode publishes on top of the same ledger.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from stock_assets.resources.lake import LakeResource
from stock_assets.settings import aws_region


@dataclass(frozen=True)
class Delivery:
    sent: int
    already_sent: int
    too_old: int


def alert_key(symbol: str, trade_date: dt.date, signal: str) -> str:
    return f"alerts/sent/trade_date={trade_date.isoformat()}/{symbol}-{signal}.json"


class AlertSink(ConfigurableResource):
    """Base sink: decides what is new and recent; subclasses publish."""

    max_age_days: int = Field(
        default=5, description="Only signals this recent alert (backfills of history stay quiet)"
    )

    def publish(self, alert: dict, log: logging.Logger) -> None:
        raise NotImplementedError

    def deliver(
        self, signals: pd.DataFrame, lake: LakeResource, log: logging.Logger, today: dt.date
    ) -> Delivery:
        sent = already = old = 0
        oldest = today - dt.timedelta(days=self.max_age_days)
        for row in signals.itertuples(index=False):
            if row.trade_date < oldest:
                old += 1
                continue
            alert = {
                "symbol": row.symbol,
                "trade_date": row.trade_date.isoformat(),
                "signal": row.signal,
                "value": None if pd.isna(row.value) else float(row.value),
                "reason": row.reason,
            }
            key = alert_key(row.symbol, row.trade_date, row.signal)
            if not lake.put_if_absent(key, json.dumps(alert).encode()):
                already += 1
                continue
            self.publish(alert, log)
            sent += 1
        return Delivery(sent=sent, already_sent=already, too_old=old)


def headline(alert: dict) -> str:
    """The alert in one line ("BUY MSFT 2024-07-05"): log lines and SNS subjects."""
    return f"{alert['signal']} {alert['symbol']} {alert['trade_date']}"


class LogAlertSink(AlertSink):
    """Local sink: one log line per alert; the ledger file in the lake is the alert record."""

    def publish(self, alert: dict, log: logging.Logger) -> None:
        log.info(f"ALERT {headline(alert)}: {alert['reason']}")


class SnsAlertSink(AlertSink):
    """AWS sink: one SNS message per alert, on top of the same once-only ledger.

    The body is the alert as JSON; `symbol` and `signal` are also message attributes, so
    subscribers can filter (an SQS queue for BUY/SELL only, an e-mail for ANOMALY, ...).
    """

    topic_arn: str = Field(description="The SNS topic alerts are published to")
    region_name: str | None = Field(
        default=None, description="AWS region; unset: AWS_REGION, then boto3's default chain"
    )

    def publish(self, alert: dict, log: logging.Logger) -> None:
        import boto3

        region = self.region_name or aws_region()
        response = boto3.client("sns", region_name=region).publish(
            TopicArn=self.topic_arn,
            # SNS subjects: ASCII, no line breaks, at most 100 characters.
            Subject=headline(alert)[:100],
            Message=json.dumps(alert),
            MessageAttributes={
                "symbol": {"DataType": "String", "StringValue": alert["symbol"]},
                "signal": {"DataType": "String", "StringValue": alert["signal"]},
            },
        )
        log.info(f"ALERT {headline(alert)} published to SNS ({response['MessageId']})")
