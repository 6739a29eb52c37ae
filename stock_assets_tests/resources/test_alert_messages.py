"""What an alert says: ledger keys and ids, message bodies, headlines, the local sink's log
line and the SNS request (a recording client stands in for boto3's)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import numpy as np
import pandas as pd
import pytest

from stock_assets.resources.alerts import (
    LogAlertSink,
    SnsAlertSink,
    alert_key,
    headline,
    live_alerts,
)

DAY = dt.date(2024, 7, 5)
LOG = logging.getLogger("test.alerts")


def test_the_sent_ledger_key_of_a_daily_alert():
    assert alert_key("MSFT", DAY, "BUY") == "alerts/sent/trade_date=2024-07-05/MSFT-BUY.json"


def live_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT", "TSLA"],
            "trade_date": [DAY] * 3,
            "ts": pd.to_datetime(
                ["2024-07-05 14:31:05.250000", "2024-07-05 15:00:00", "2024-07-05 15:30:00"],
                format="ISO8601",
            ),
            "signal": ["RULE", "MOVE", "MOVE"],
            "rule": ["aapl-200", None, ""],
            "value": [201.0, np.nan, 2.5],
            "reason": ["above 200", "moved", "moved again"],
        }
    )


def test_live_alerts_carry_every_field_and_a_rule_only_when_there_is_one():
    alerts = live_alerts(live_rows())
    assert [a.id for a in alerts] == [
        "live/trade_date=2024-07-05/AAPL-RULE-aapl-200-143105250000",
        "live/trade_date=2024-07-05/MSFT-MOVE-150000000000",
        "live/trade_date=2024-07-05/TSLA-MOVE-153000000000",
    ]
    assert [a.body for a in alerts] == [
        {
            "symbol": "AAPL",
            "trade_date": "2024-07-05",
            "ts": "2024-07-05T14:31:05.250000Z",
            "signal": "RULE",
            "rule": "aapl-200",
            "value": 201.0,
            "reason": "above 200",
        },
        {
            "symbol": "MSFT",
            "trade_date": "2024-07-05",
            "ts": "2024-07-05T15:00:00Z",
            "signal": "MOVE",
            "rule": None,
            "value": None,
            "reason": "moved",
        },
        {
            "symbol": "TSLA",
            "trade_date": "2024-07-05",
            "ts": "2024-07-05T15:30:00Z",
            "signal": "MOVE",
            "rule": "",
            "value": 2.5,
            "reason": "moved again",
        },
    ]
    # A missing rule read back from a table is NaN, not None: still no rule.
    (alert,) = live_alerts(live_rows().iloc[[1]].assign(rule=np.nan))
    assert alert.body["rule"] is None and alert.id.endswith("MSFT-MOVE-150000000000")


def test_headlines_name_the_time_and_rule_of_live_alerts():
    first, second, _ = live_alerts(live_rows())
    assert headline(first.body) == "RULE AAPL 2024-07-05 14:31:05 [aapl-200]"
    assert headline(second.body) == "MOVE MSFT 2024-07-05 15:00:00"
    daily = {"symbol": "MSFT", "trade_date": "2024-07-05", "signal": "BUY", "reason": "x"}
    assert headline(daily) == "BUY MSFT 2024-07-05"


def test_the_local_sink_logs_one_line_per_alert(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    body = {"symbol": "MSFT", "trade_date": "2024-07-05", "signal": "BUY", "reason": "crossed"}
    LogAlertSink().publish(body, LOG, "trade_date=2024-07-05/MSFT-BUY")
    assert caplog.messages == ["ALERT BUY MSFT 2024-07-05: crossed"]


class RecordingSns:
    """boto3's SNS client as far as the sink uses it: records each publish request."""

    def __init__(self, region_name: str | None) -> None:
        self.region_name = region_name
        self.requests: list[dict] = []

    def publish(self, **request) -> dict:
        self.requests.append(request)
        return {"MessageId": f"m-{len(self.requests)}"}


@pytest.fixture
def sns(monkeypatch) -> list[RecordingSns]:
    """The SNS clients the sink builds, in order."""
    import boto3

    clients: list[RecordingSns] = []

    def client(service: str, region_name: str | None = None) -> RecordingSns:
        assert service == "sns"
        clients.append(RecordingSns(region_name))
        return clients[-1]

    monkeypatch.setattr(boto3, "client", client)
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    return clients


def test_an_sns_message_has_the_alert_as_body_and_filterable_attributes(sns, caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    (alert,) = live_alerts(live_rows().iloc[:1])
    SnsAlertSink(topic_arn="arn:aws:sns:eu-west-1:1:alerts").publish(alert.body, LOG, alert.id)
    (client,) = sns
    assert client.region_name == "ap-south-1"  # unset in the sink: AWS_REGION
    assert client.requests == [
        {
            "TopicArn": "arn:aws:sns:eu-west-1:1:alerts",
            "Subject": "RULE AAPL 2024-07-05 14:31:05 [aapl-200]",
            "Message": json.dumps(alert.body),
            "MessageAttributes": {
                "symbol": {"DataType": "String", "StringValue": "AAPL"},
                "signal": {"DataType": "String", "StringValue": "RULE"},
                "alert_id": {"DataType": "String", "StringValue": alert.id},
            },
        }
    ]
    assert caplog.messages == [
        "ALERT RULE AAPL 2024-07-05 14:31:05 [aapl-200] published to SNS (m-1)"
    ]


def test_a_fifo_topic_gets_a_deduplication_id_and_a_group_per_symbol(sns):
    (alert,) = live_alerts(live_rows().iloc[:1].assign(rule="r" * 120))
    sink = SnsAlertSink(topic_arn="arn:aws:sns:eu-west-1:1:alerts.fifo", region_name="eu-west-1")
    sink.publish(alert.body, LOG, alert.id)
    (client,) = sns
    (request,) = client.requests
    assert client.region_name == "eu-west-1"  # the sink's own region wins over AWS_REGION
    assert request["MessageDeduplicationId"] == hashlib.sha256(alert.id.encode()).hexdigest()
    assert request["MessageGroupId"] == "AAPL"
    # SNS subjects hold at most 100 characters: the long rule name is cut.
    assert request["Subject"] == ("RULE AAPL 2024-07-05 14:31:05 [" + "r" * 120)[:100]
