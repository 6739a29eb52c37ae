import datetime as dt
import json

import pandas as pd

from stock_assets.market.cleaning import clean_prices
from stock_assets.market.schemas import PRICES

DAY = dt.date(2024, 7, 3)
FETCHED = pd.Timestamp("2024-07-03 22:00:00")
GOOD = {
    "symbol": "AAPL",
    "date": "2024-07-03",
    "open": 10.0,
    "high": 11.0,
    "low": 9.5,
    "close": 10.5,
    "adj_close": 10.4,
    "volume": 1000,
}


def bronze(*payloads: str | dict, symbol: str = "AAPL", day: dt.date = DAY, fetched=FETCHED):
    rows = [
        {
            "symbol": symbol,
            "trade_date": day,
            "record_no": i,
            "payload": p if isinstance(p, str) else json.dumps(p),
            "source": "simulated",
            "fetched_at": fetched,
            "object_key": "bronze/raw_quotes/trade_date=2024-07-03/x.jsonl",
        }
        for i, p in enumerate(payloads)
    ]
    return pd.DataFrame(rows)


def clean(frame):
    return clean_prices(frame, ingested_at=dt.datetime(2024, 7, 3, 23, tzinfo=dt.UTC))


def test_good_record_becomes_a_typed_price_row():
    result = clean(bronze(GOOD))
    assert result.rejects.empty
    row = result.prices.iloc[0]
    assert list(result.prices.columns) == PRICES.column_names
    assert (row.symbol, row.trade_date, row.close, row.adj_close, row.volume) == (
        "AAPL",
        DAY,
        10.5,
        10.4,
        1000,
    )
    assert str(result.prices.volume.dtype) == "Int64"


def test_bad_records_are_rejected_with_reasons_and_good_ones_kept():
    bad = {
        "close is missing": {k: v for k, v in GOOD.items() if k != "close"},
        "not a number": {**GOOD, "close": "N/A"},
        "must be positive": {**GOOD, "open": 0},
        "high 9.0 is below low 9.5": {**GOOD, "high": 9.0},
        "low 10.6 is above open/close": {**GOOD, "low": 10.6, "high": 11.0},
        "high is NaN": {**GOOD, "high": float("nan")},
        "low is infinite": {**GOOD, "low": float("inf")},
        "volume must not be negative": {**GOOD, "volume": -5},
        "volume must be a whole number": {**GOOD, "volume": 10.5},
        "not valid JSON": '{"symbol": "AAPL", "date": "2024-07',
        "does not match": {**GOOD, "symbol": "MSFT"},
        "not a YYYY-MM-DD date": {**GOOD, "date": "July 3rd"},
        "pulled for 2024-07-03": {**GOOD, "date": "2024-07-02"},
    }
    result = clean(bronze(GOOD, *bad.values()))
    assert len(result.prices) == 1 and result.prices.close.iloc[0] == 10.5
    assert len(result.rejects) == len(bad)
    for (expected, _), (_, reject) in zip(bad.items(), result.rejects.iterrows(), strict=True):
        assert expected in reject.reason, (expected, reject.reason)
        assert reject.object_key.endswith("x.jsonl") and reject.record_no >= 1


def test_holiday_records_are_rejected_with_the_holiday_name():
    holiday = dt.date(2024, 7, 4)
    result = clean(bronze({**GOOD, "date": "2024-07-04"}, day=holiday))
    assert result.prices.empty
    assert "July 4th" in result.rejects.reason.iloc[0]


def test_latest_record_for_a_day_wins():
    first = bronze(GOOD, fetched=FETCHED)
    correction = bronze({**GOOD, "close": 10.9}, fetched=FETCHED + pd.Timedelta(hours=1))
    result = clean(pd.concat([correction, first]))
    assert len(result.prices) == 1 and result.prices.close.iloc[0] == 10.9
    assert result.superseded == 1


def test_adj_close_defaults_to_close_when_the_source_has_none():
    result = clean(bronze({k: v for k, v in GOOD.items() if k != "adj_close"}))
    assert result.prices.adj_close.iloc[0] == 10.5


def test_empty_input_gives_empty_typed_frames():
    result = clean(bronze())
    assert result.prices.empty and list(result.prices.columns) == PRICES.column_names
