"""The producer side and the quarantine report."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from stock_assets.market.landing import (
    FORMATS,
    encode_micro_batch,
    micro_batch_key,
    quarantine_report,
)
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets_tests.market.landing.helpers import (
    GOOD,
    NOW,
    line,
    parse,
)

# -- quarantine report, producer side, keys -----------------------------------------------


def test_quarantine_report_says_what_where_and_when():
    fatal = parse(b"[{", "landing/quotes/x.json")
    report = json.loads(quarantine_report(fatal, detected_at=dt.datetime(2024, 7, 5, 20, 1)))
    assert report == {
        "key": "landing/quotes/x.json",
        "reason": "JSON array is truncated or malformed: Expecting property name enclosed in "
        "double quotes: line 1 column 3 (char 2)",
        "accepted": 0,
        "rejects": [],
        "detected_at": "2024-07-05T20:01:00+00:00",
    }
    partial = parse("\n".join([line(), line(price=0)]))
    report = json.loads(quarantine_report(partial, detected_at=NOW))
    assert (report["reason"], report["accepted"]) == ("1 record(s) rejected", 1)
    assert report["rejects"] == [
        {"record_no": 2, "reason": "price must be positive, got 0", "raw": line(price=0)}
    ]


def test_micro_batch_keys_follow_the_contract_and_sort_by_time():
    assert micro_batch_key(dt.datetime(2024, 7, 5, 14, 30, tzinfo=dt.UTC), 1, "jsonl") == (
        "landing/quotes/2024/07/05/quotes-20240705T143000Z-000001.jsonl"
    )
    new_york = dt.timezone(dt.timedelta(hours=-4))
    moments = [dt.datetime(2024, 7, 5, 21, 59, 59, tzinfo=new_york), dt.datetime(2024, 7, 6, 2)]
    keys = [micro_batch_key(m, s, "csv") for m in moments for s in (2, 10)]
    assert keys == sorted(keys)
    assert keys[0] == "landing/quotes/2024/07/06/quotes-20240706T015959Z-000002.csv"
    with pytest.raises(ValueError, match="sequence"):
        micro_batch_key(NOW, 1_000_000, "csv")
    with pytest.raises(ValueError, match="format"):
        micro_batch_key(NOW, 1, "parquet")


def test_encoder_refuses_what_the_contract_cannot_carry():
    with pytest.raises(ValueError, match="has no UTC offset"):
        encode_micro_batch([{**GOOD, "ts": dt.datetime(2024, 7, 5, 14, 30)}])
    with pytest.raises(ValueError, match="price is inf"):
        encode_micro_batch([{**GOOD, "price": float("inf")}], "json")
    with pytest.raises(ValueError, match="NUL"):
        encode_micro_batch([{**GOOD, "name": "a\x00b"}], "csv")
    with pytest.raises(ValueError, match="no quotes to write"):
        encode_micro_batch([], "json")
    with pytest.raises(ValueError, match="unknown micro-batch format"):
        encode_micro_batch([GOOD], "xml")


def test_encoder_writes_nan_as_missing_and_numpy_scalars_as_numbers():
    quote = {**GOOD, "price": np.float64(2.5), "volume": np.int64(7), "change": float("nan")}
    assert encode_micro_batch([quote]).decode() == (
        '{"symbol":"AAPL","ts":"2024-07-05T14:30:00Z","price":2.5,"volume":7,"change":null,'
        '"change_pct":null,"name":"Apple Inc.","source":null}\n'
    )
    assert encode_micro_batch([quote], "csv").decode() == (
        "symbol,ts,price,volume,change,change_pct,name,source\r\n"
        "AAPL,2024-07-05T14:30:00Z,2.5,7,,,Apple Inc.,\r\n"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_simulated_producer_quotes_round_trip(fmt):
    quotes = SimulatedSource().latest_quotes(["AAPL", "TMUS", "BRK-B"], NOW)
    result = parse(encode_micro_batch(quotes, fmt), micro_batch_key(NOW, 1, fmt))
    assert result.fatal is None and result.rejects == ()
    assert "T-Mobile US, Inc." in result.quotes["name"].tolist()
    landed = result.quotes.drop(columns=["record_no"]).astype(object)
    landed["ts"] = [ts.tz_localize("UTC").isoformat() for ts in landed["ts"]]
    assert landed.to_dict("records") == quotes
