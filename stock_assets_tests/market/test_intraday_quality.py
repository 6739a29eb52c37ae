"""The intraday data-quality rules on hand-built bars whose faults are known."""

import datetime as dt

import pandas as pd

from stock_assets.market.intraday_quality import (
    agree_with_daily,
    bars_inside_session,
    minutes_complete,
)

DAY = dt.date(2024, 11, 29)  # closes at 13:00 New York (18:00 UTC)
AFTER = dt.datetime(2024, 12, 2, tzinfo=dt.UTC)


def bars(starts: list[str], symbol: str = "IBM", day: dt.date = DAY, **values) -> pd.DataFrame:
    n = len(starts)
    frame = pd.DataFrame(
        {
            "symbol": symbol,
            "trade_date": day,
            "bar_start": pd.to_datetime(starts).as_unit("us"),
            "open": 10.0,
            "high": 11.0,
            "low": 9.0,
            "close": 10.5,
            "volume": pd.array([100] * n, dtype="Int64"),
            "source": "yahoo",
        }
    )
    return frame.assign(**values)


def full_session(symbol: str = "IBM") -> pd.DataFrame:
    starts = pd.date_range("2024-11-29 14:30", "2024-11-29 17:59", freq="1min")
    return bars([str(s) for s in starts], symbol)


def test_bars_outside_the_session_or_on_a_holiday_are_reported():
    frame = pd.concat(
        [
            bars(["2024-11-29 14:29", "2024-11-29 14:30", "2024-11-29 17:59", "2024-11-29 18:00"]),
            bars(["2024-11-28 15:00"], day=dt.date(2024, 11, 28)),  # Thanksgiving
        ],
        ignore_index=True,
    )
    failing = bars_inside_session(frame).failing
    assert failing["bar_start"].dt.strftime("%m-%d %H:%M").tolist() == [
        "11-29 14:29", "11-29 18:00", "11-28 15:00",
    ]  # fmt: skip


def test_missing_minutes_are_listed_in_new_york_time_for_the_short_session():
    complete = full_session("AAPL")
    gappy = full_session("IBM").drop(index=[0, 1, 100])
    outcome = minutes_complete(pd.concat([complete, gappy], ignore_index=True), AFTER)
    (row,) = outcome.failing.to_dict("records")
    assert (row["symbol"], row["missing"], row["expected"]) == ("IBM", 3, 210)
    assert row["missing_minutes"] == "09:30, 09:31, 11:10"
    # While the session runs, only the minutes so far count.
    running = minutes_complete(complete.iloc[:60], dt.datetime(2024, 11, 29, 15, 30, tzinfo=dt.UTC))
    assert running.passed


def test_bars_are_compared_with_the_daily_bar_of_the_same_source_only():
    frame = full_session()
    daily = pd.DataFrame(
        {
            "symbol": ["IBM", "IBM"],
            "trade_date": [DAY, DAY],
            "source": ["yahoo", "simulated"],
            "open": [10.0, 99.0],
            "high": [11.0, 99.0],
            "low": [9.0, 99.0],
            "close": [10.5, 99.0],
            "volume": [210 * 100, 1],
        }
    )
    assert agree_with_daily(frame, daily).passed
    daily.loc[0, "high"] = 11.5
    daily.loc[0, "volume"] = 21_500
    (row,) = agree_with_daily(frame, daily).failing.to_dict("records")
    assert row["high_diff_pct"] == 100 * (11.0 - 11.5) / 11.5
    assert row["volume_diff"] == -500
