"""SNS alerts over the loopback moto server: a publish reaches a subscribed SQS queue, once."""

import datetime as dt
import json
import logging

import boto3
import pandas as pd
import pytest

from stock_assets.market.schemas import SIGNALS, conform
from stock_assets.resources.alerts import SnsAlertSink
from stock_assets.resources.lake import S3Lake

DAY = dt.date(2024, 7, 5)


def signal_rows() -> pd.DataFrame:
    rows = [
        ("AAPL", "ANOMALY", -6.81, "Close moved -6.81% in one day"),
        ("MSFT", "BUY", 55.2, "SMA-5 crossed above SMA-20"),
    ]
    frame = pd.DataFrame(rows, columns=["symbol", "signal", "value", "reason"])
    return conform(frame.assign(trade_date=DAY), SIGNALS)


@pytest.fixture
def topic(aws_endpoint) -> dict[str, str]:
    """A topic with two queues: one takes everything, one only ANOMALY (attribute filter)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(Name="stock-alerts")["TopicArn"]
    queues = {}
    for name, policy in (("all", None), ("anomalies", {"signal": ["ANOMALY"]})):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[name] = url
    boto3.client("s3").create_bucket(Bucket="lake")
    return {"arn": topic_arn, **queues}


def received(queue_url: str) -> list[dict]:
    """SNS envelopes waiting in a queue (moto delivers during the publish call)."""
    response = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_each_new_alert_is_published_once_with_filterable_attributes(topic):
    sink = SnsAlertSink(topic_arn=topic["arn"], max_age_days=100_000)
    lake = S3Lake(bucket="lake", prefix="stock-assets")
    log = logging.getLogger("test")

    delivery = sink.deliver(signal_rows(), lake, log, today=DAY)
    assert delivery.sent == 2

    envelopes = sorted(received(topic["all"]), key=lambda e: e["Subject"])
    assert [e["Subject"] for e in envelopes] == ["ANOMALY AAPL 2024-07-05", "BUY MSFT 2024-07-05"]
    assert json.loads(envelopes[0]["Message"]) == {
        "symbol": "AAPL",
        "trade_date": "2024-07-05",
        "signal": "ANOMALY",
        "value": -6.81,
        "reason": "Close moved -6.81% in one day",
    }
    attributes = envelopes[1]["MessageAttributes"]
    assert attributes["symbol"] == {"Type": "String", "Value": "MSFT"}
    assert attributes["signal"] == {"Type": "String", "Value": "BUY"}
    assert [e["Subject"] for e in received(topic["anomalies"])] == ["ANOMALY AAPL 2024-07-05"]

    again = sink.deliver(signal_rows(), lake, log, today=DAY)
    assert (again.sent, again.already_sent) == (0, 2)
    assert received(topic["all"]) == []
