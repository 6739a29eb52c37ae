"""The live tables' check rules on hand-built rows: each passes on good rows and names the
bad ones."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from stock_assets.market.catalogue_intraday import LIVE_TABLE_CHECKS
from stock_assets.market.rules import Scope, judge

DAY = dt.date(2024, 7, 8)


def outcomes(table: str, check: str, rows: pd.DataFrame) -> list[str]:
    scope = Scope(rows=rows, days=[DAY], now=dt.datetime(2024, 7, 9, tzinfo=dt.UTC))
    (found,) = [c for c in LIVE_TABLE_CHECKS[table] if c.name == check]
    return [judge(rule, scope).description for rule in found.rules]


def signals(**overrides) -> pd.DataFrame:
    rows = {
        "symbol": ["AAPL", "AAPL"],
        "trade_date": [DAY, DAY],
        "ts": pd.to_datetime(["2024-07-08 14:30", "2024-07-08 14:31"]),
        "signal": ["MOVE", "RULE"],
        "rule": [None, "aapl-above-200"],
        "value": [5.5, 201.0],
        "reason": ["moved", "rule"],
        "detected_at": pd.to_datetime(["2024-07-08 14:30:02", "2024-07-08 14:31:02"]),
    }
    return pd.DataFrame({**rows, **overrides})


def test_signal_kinds_and_rule_names_are_checked():
    assert outcomes("gold.live_signals", "values", signals())[0].startswith("signals of")
    for bad in (
        signals(signal=["MOVE", "SIDEWAYS"]),  # unknown kind
        signals(rule=["stray", "aapl-above-200"]),  # a rule name on a MOVE
        signals(rule=[None, None]),  # a RULE without its rule
    ):
        assert outcomes("gold.live_signals", "values", bad)[0].startswith("1 rows have")


def test_profile_minutes_lie_inside_the_session():
    profile = pd.DataFrame(
        {
            "symbol": ["AAPL"] * 3,
            "trade_date": [DAY] * 3,
            "minute": pd.array([0, 389, 390], dtype="Int32"),
            "avg_volume": [1.0, 2.0, 3.0],
            "sessions": pd.array([20, 20, 20], dtype="Int32"),
        }
    )
    volume, minutes = outcomes("gold.minute_volume_profile", "values", profile)
    assert volume == "avg_volume >= 0"
    assert minutes == "1 rows have a minute outside the session (0-389)"
    assert outcomes("gold.minute_volume_profile", "values", profile.iloc[:2])[1].startswith(
        "minutes within"
    )
