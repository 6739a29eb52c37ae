"""summarize_market on a hand-built day of movers with known breadth and rankings."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stock_assets.market.summary import SUMMARY_COLUMNS, summarize_market

D1, D2, D3 = dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)

MOVES = [
    # day 1: two up, two down, one unchanged, one first row (no previous close)
    (D1, "AAPL", 2.0),
    (D1, "MSFT", -1.5),
    (D1, "NVDA", 6.1),
    (D1, "TSLA", -4.2),
    (D1, "IBM", 0.0),
    (D1, "NEW", np.nan),
    # day 2: everything down; IBM and MSFT tie at -3.0 (alphabetical order wins)
    (D2, "AAPL", -1.0),
    (D2, "MSFT", -3.0),
    (D2, "NVDA", -0.5),
    (D2, "TSLA", -2.0),
    (D2, "IBM", -3.0),
    (D2, "NEW", -7.0),
    # day 3: a single symbol on its first row
    (D3, "LATE", np.nan),
]


def _indicators() -> pd.DataFrame:
    frame = pd.DataFrame(MOVES, columns=["trade_date", "symbol", "pct_change"])
    frame["close"] = 100.0
    frame["volume"] = pd.array([1_000] * len(frame), dtype="Int64")
    return frame


def _signals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["NVDA", "AAPL", "TSLA", "NEW", "AAPL"],
            "trade_date": [D1, D1, D1, D2, dt.date(2024, 1, 5)],  # last: no indicator day
            "signal": ["ANOMALY", "BUY", "VOLUME_SPIKE", "ANOMALY", "SELL"],
            "value": [6.1, 100.0, 2.5, -7.0, 100.0],
            "reason": ["r"] * 5,
        }
    )


@pytest.fixture
def summary() -> pd.DataFrame:
    return summarize_market(_indicators(), _signals()).set_index("trade_date")


def test_columns_and_one_row_per_day() -> None:
    out = summarize_market(_indicators(), _signals())
    assert list(out.columns) == list(SUMMARY_COLUMNS)
    assert list(out["trade_date"]) == [D1, D2, D3]


def test_breadth(summary: pd.DataFrame) -> None:
    breadth = summary[["symbols", "advancers", "decliners", "unchanged"]]
    assert breadth.loc[D1].tolist() == [6, 2, 2, 1]  # NEW (first row) counts in symbols only
    assert breadth.loc[D2].tolist() == [6, 0, 6, 0]
    assert breadth.loc[D3].tolist() == [1, 0, 0, 0]
    assert (breadth.dtypes == "int64").all()


def test_top_movers(summary: pd.DataFrame) -> None:
    assert summary.loc[D1, "top_gainers"] == "NVDA +6.1%, AAPL +2.0%"
    assert summary.loc[D1, "top_losers"] == "TSLA -4.2%, MSFT -1.5%"
    assert summary.loc[D2, "top_gainers"] is None
    assert summary.loc[D2, "top_losers"] == "NEW -7.0%, IBM -3.0%, MSFT -3.0%"
    assert summary.loc[D3, "top_gainers"] is None and summary.loc[D3, "top_losers"] is None


def test_best_and_worst(summary: pd.DataFrame) -> None:
    assert (summary.loc[D1, "best_symbol"], summary.loc[D1, "best_pct"]) == ("NVDA", 6.1)
    assert (summary.loc[D1, "worst_symbol"], summary.loc[D1, "worst_pct"]) == ("TSLA", -4.2)
    # A day with no advancers still has a best performer: the smallest loss.
    assert (summary.loc[D2, "best_symbol"], summary.loc[D2, "best_pct"]) == ("NVDA", -0.5)
    assert (summary.loc[D2, "worst_symbol"], summary.loc[D2, "worst_pct"]) == ("NEW", -7.0)
    assert summary.loc[D3, "best_symbol"] is None and np.isnan(summary.loc[D3, "best_pct"])


def test_signal_counts(summary: pd.DataFrame) -> None:
    assert summary["anomaly_count"].tolist() == [1, 1, 0]
    assert summary["signal_count"].tolist() == [3, 1, 0]
    assert summary["signal_count"].dtype == "int64"


def test_top_n_and_input_order() -> None:
    shuffled = _indicators().sample(frac=1.0, random_state=5)
    one = summarize_market(shuffled, _signals(), top_n=1).set_index("trade_date")
    assert one.loc[D1, "top_gainers"] == "NVDA +6.1%"
    assert one.loc[D2, "top_losers"] == "NEW -7.0%"
    pd.testing.assert_frame_equal(
        summarize_market(shuffled, _signals()), summarize_market(_indicators(), _signals())
    )
    with pytest.raises(ValueError):
        summarize_market(_indicators(), _signals(), top_n=0)


def test_empty_inputs() -> None:
    empty = _indicators().iloc[:0]
    out = summarize_market(empty, _signals().iloc[:0])
    assert out.empty and list(out.columns) == list(SUMMARY_COLUMNS)
    no_signals = summarize_market(_indicators(), _signals().iloc[:0])
    assert no_signals["signal_count"].tolist() == [0, 0, 0]
