"""Each signal at the edge of its threshold: hand-built indicator rows exactly on the edge
(nothing fires: every threshold is strict) and one step past it (it fires)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stock_assets.market.calendar import sessions_between
from stock_assets.market.indicators import compute_indicators
from stock_assets.market.signals import (
    ANOMALY,
    BB_BREAKOUT,
    BUY,
    SELL,
    VOLUME_SPIKE,
    SignalThresholds,
    detect_signals,
)

DAYS = sessions_between(dt.date(2024, 1, 2), dt.date(2024, 3, 28))
PAST = np.nextafter  # the next float after a value, away from it towards the second argument
# The crossover and breakout tolerance is 1e-9 relative: 2e-9 is past it, 0.5e-9 inside it.
OUTSIDE, INSIDE = 2e-9, 0.5e-9


def rows(n: int, **columns: object) -> pd.DataFrame:
    """n quiet indicator rows of one symbol (no signal fires), with `columns` replaced."""
    frame = pd.DataFrame(
        {
            "symbol": "EDGE",
            "trade_date": DAYS[:n],
            "close": 100.0,
            "volume": pd.array(np.full(n, 1_000), dtype="Int64"),
            "sma_5": 100.0,
            "sma_20": 100.0,
            "bb_upper": 110.0,
            "bb_lower": 90.0,
            "pct_change": 0.0,
        }
    )
    for name, values in columns.items():
        frame[name] = pd.array(np.broadcast_to(values, n), dtype=frame[name].dtype)
    return frame


def fired(frame: pd.DataFrame, thresholds: SignalThresholds | None = None) -> set[tuple]:
    out = detect_signals(frame, thresholds or SignalThresholds())
    return {(DAYS.index(day), signal) for day, signal in out[["trade_date", "signal"]].values}


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_move_exactly_at_the_anomaly_threshold_is_not_an_anomaly(sign: float) -> None:
    at = sign * 5.0
    past = PAST(at, sign * np.inf)
    assert fired(rows(3, pct_change=[0.0, at, past])) == {(2, ANOMALY)}


def test_a_100_to_105_close_is_exactly_5_percent_and_not_an_anomaly() -> None:
    closes = np.r_[np.full(25, 100.0), 105.0, 100.0, 105.01]
    frame = pd.DataFrame(
        {
            "symbol": "EDGE",
            "trade_date": DAYS[:28],
            "close": closes,
            "volume": pd.array(np.full(28, 1_000), dtype="Int64"),
        }
    )
    indicators = compute_indicators(frame)
    assert indicators["pct_change"].iloc[25] == 5.0
    anomalies = {day for day, signal in fired(indicators) if signal == ANOMALY}
    assert anomalies == {27}  # +5%: not one; -4.76%: not one; 100 -> 105.01: +5.01%


def test_a_custom_anomaly_threshold_is_strict_too() -> None:
    frame = rows(3, pct_change=[0.0, -2.5, PAST(-2.5, -np.inf)])
    assert fired(frame, SignalThresholds(anomaly_pct=2.5)) == {(2, ANOMALY)}


def test_a_crossover_needs_more_than_the_tolerance() -> None:
    # Day 1 is inside the tolerance (equal: no cross), day 2 past it (BUY), day 3 back
    # inside (equal again: no SELL), day 4 past it below (SELL).
    fast = [100.0, 100.0 * (1 + INSIDE), 100.0 * (1 + OUTSIDE), 100.0, 100.0 * (1 - OUTSIDE)]
    assert fired(rows(5, sma_5=fast)) == {(2, BUY), (4, SELL)}


def test_noise_inside_the_tolerance_yesterday_does_not_hide_a_crossing_today() -> None:
    # Yesterday SMA-5 sat a rounding error above SMA-20 (equal), today clearly above: BUY.
    assert fired(rows(3, sma_5=[100.0, 100.0 * (1 + INSIDE), 101.0])) == {(2, BUY)}
    assert fired(rows(3, sma_5=[100.0, 100.0 * (1 - INSIDE), 99.0])) == {(2, SELL)}


def test_a_crossover_is_judged_against_the_slow_average_s_scale() -> None:
    # The tolerance is relative to SMA-20: at 1e6 a difference of 0.5e-3 is still noise.
    slow = 1_000_000.0
    fast = [slow, slow + INSIDE * slow, slow + OUTSIDE * slow]
    assert fired(rows(3, sma_5=fast, sma_20=slow, close=slow, bb_upper=2e6, bb_lower=1.0)) == {
        (2, BUY)
    }


def test_volume_exactly_at_the_spike_ratio_is_not_a_spike() -> None:
    window = 4
    volume = [1_000] * window + [2_000, 1_000, 1_000, 1_000, 1_000, 2_001]
    thresholds = SignalThresholds(volume_window=window)
    # Day 4: 2,000 / 1,000 = exactly 2.0x (nothing); day 9: 2,001 / ((3 x 1,000 + 1,000)/4).
    assert fired(rows(10, volume=volume), thresholds) == {(9, VOLUME_SPIKE)}


def test_volume_just_past_a_fractional_ratio_is_a_spike() -> None:
    window = 2
    # Baseline 1,000; 1,500 is exactly 1.5x (nothing), 1,501 past it (spike).
    volume = [1_000, 1_000, 1_500, 1_000, 1_000, 1_501]
    thresholds = SignalThresholds(volume_spike_ratio=1.5, volume_window=window)
    assert fired(rows(6, volume=volume), thresholds) == {(5, VOLUME_SPIKE)}


def test_a_volume_baseline_needs_the_whole_window() -> None:
    # Day 2 has two earlier rows, the window wants three: no baseline, nothing fires.
    thresholds = SignalThresholds(volume_window=3)
    assert fired(rows(4, volume=[1_000, 1_000, 9_000, 9_000]), thresholds) == {(3, VOLUME_SPIKE)}


@pytest.mark.parametrize(
    ("column", "band", "direction"),
    [("bb_upper", 110.0, 1.0), ("bb_lower", 90.0, -1.0)],
)
def test_a_close_on_the_bollinger_band_is_not_a_breakout(
    column: str, band: float, direction: float
) -> None:
    closes = [100.0, band, band * (1 + direction * INSIDE), band * (1 + direction * OUTSIDE)]
    frame = rows(4, close=closes)
    out = detect_signals(frame)
    assert fired(frame) == {(3, BB_BREAKOUT)}
    (value,) = out["value"]
    assert np.sign(value) == direction
    assert value == pytest.approx(100 * OUTSIDE * direction, rel=1e-6)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"anomaly_pct": -0.1}, "anomaly_pct must be >= 0, got -0.1"),
        ({"volume_spike_ratio": 0.0}, "volume_spike_ratio must be > 0, got 0.0"),
        ({"volume_window": 0}, "volume_window must be a positive integer, got 0"),
        ({"volume_window": 2.5}, "volume_window must be a positive integer, got 2.5"),
    ],
)
def test_thresholds_outside_their_range_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        SignalThresholds(**fields)
    assert str(raised.value) == message


def test_the_smallest_thresholds_are_accepted() -> None:
    smallest = SignalThresholds(anomaly_pct=0.0, volume_spike_ratio=1e-9, volume_window=1)
    assert smallest.history_bars == 1
    # Any move at all is an anomaly; the previous row alone is the volume baseline, and
    # an equal volume is above a ratio that small.
    assert fired(rows(3, pct_change=[0.0, 0.0, 0.01]), smallest) == {
        (1, VOLUME_SPIKE),
        (2, VOLUME_SPIKE),
        (2, ANOMALY),
    }


# At 1e9 the tolerance is 1e-9 x 1e9 = 1.0 exactly, so a difference of exactly 1.0 sits on
# it (equal: nothing fires) and 3.0 is past it.
SCALE = 1e9


@pytest.mark.parametrize(("direction", "signal"), [(1.0, BUY), (-1.0, SELL)])
def test_a_crossover_exactly_at_the_tolerance_is_not_one(direction: float, signal: str) -> None:
    assert SCALE * 1e-9 == 1.0
    fast = [SCALE, SCALE + direction, SCALE + 3 * direction]
    frame = rows(3, sma_5=fast, sma_20=SCALE, close=SCALE, bb_upper=2 * SCALE, bb_lower=1.0)
    assert fired(frame) == {(2, signal)}


@pytest.mark.parametrize(("column", "direction"), [("bb_upper", 1.0), ("bb_lower", -1.0)])
def test_a_close_exactly_at_the_band_tolerance_is_not_a_breakout(
    column: str, direction: float
) -> None:
    bands = {"bb_upper": 2 * SCALE, "bb_lower": 1.0, column: SCALE}
    closes = [SCALE, SCALE + direction, SCALE + 3 * direction]
    frame = rows(3, close=closes, sma_5=SCALE, sma_20=SCALE, **bands)
    assert fired(frame) == {(2, BB_BREAKOUT)}


def test_a_crossover_on_a_symbol_s_second_row_counts() -> None:
    assert fired(rows(2, sma_5=[99.0, 101.0])) == {(1, BUY)}
    assert fired(rows(2, sma_5=[101.0, 99.0])) == {(1, SELL)}
