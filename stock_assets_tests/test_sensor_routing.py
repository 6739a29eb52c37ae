"""Landing objects routed to trading-day partitions by the arrivals sensor."""

import datetime as dt

from stock_assets.market.arrivals import ObjectInfo
from stock_assets.market.landing import encode_micro_batch
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.lake import LocalLake
from stock_assets.sensors import arrival_run_requests

QUOTE = {
    "symbol": "AAPL",
    "price": 200.0,
    "volume": 100,
    "change": 1.0,
    "change_pct": 0.5,
    "name": "Apple Inc.",
    "source": "test",
}


def test_a_holiday_only_object_runs_in_the_session_it_arrived_on(tmp_path):
    # Every quote is dated 4 July 2024 (NYSE closed); the object arrived on 5 July.
    lake = LocalLake(root=str(tmp_path))
    key = "landing/quotes/2024/07/04/holiday.jsonl"
    quotes = [{**QUOTE, "ts": f"2024-07-04T15:0{n}:00+00:00"} for n in range(3)]
    body = encode_micro_batch(quotes, "jsonl")
    lake.put(key, body)
    arrived = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    (request,) = arrival_run_requests(lake, [ObjectInfo(key, arrived, "v1", len(body))])
    assert request.partition_key == "2024-07-05"
    assert request.partition_key in TRADING_DAYS.get_partition_keys()


def test_an_object_of_one_session_runs_in_that_session(tmp_path):
    lake = LocalLake(root=str(tmp_path))
    key = "landing/quotes/2024/07/03/late.jsonl"
    body = encode_micro_batch([{**QUOTE, "ts": "2024-07-03T15:00:00+00:00"}], "jsonl")
    lake.put(key, body)
    arrived = dt.datetime(2024, 7, 5, 15, 0, tzinfo=dt.UTC)
    (request,) = arrival_run_requests(lake, [ObjectInfo(key, arrived, "v1", len(body))])
    assert request.partition_key == "2024-07-03"
