"""The VOLUME_SPIKE baseline on hand-built indicator rows: splits inside the window, NULL
and zero volumes, integer-exact window sums, and untyped (object) columns.

A spike ratio of 1e-9 makes every row with a baseline fire, so a row's ``value`` shows its
volume / baseline ratio; the expected ratios are worked out by hand in the comments.
"""

from __future__ import annotations

import pandas as pd
import pytest

from stock_assets.market.actions import parse_action_list
from stock_assets.market.indicators import compute_indicators
from stock_assets.market.signals import VOLUME_SPIKE, SignalThresholds, detect_signals
from stock_assets_tests.market.test_signal_thresholds import DAYS, fired, rows
from stock_assets_tests.market.test_signals import _spike, _volume

EVERY_ROW = 1e-9  # a spike ratio every positive ratio exceeds


def ratios(frame: pd.DataFrame, window: int, actions: pd.DataFrame | None = None) -> dict:
    """(symbol, day number) -> volume / baseline of every row that has a baseline."""
    thresholds = SignalThresholds(volume_spike_ratio=EVERY_ROW, volume_window=window)
    out = detect_signals(frame, thresholds, actions=actions)
    spikes = out[out["signal"] == VOLUME_SPIKE]
    return {
        (symbol, DAYS.index(day)): value
        for symbol, day, value in spikes[["symbol", "trade_date", "value"]].values
    }


def test_a_window_holding_splits_is_moved_to_the_day_s_share_basis() -> None:
    """A 3:2 split on day 4 and a 2:1 split on day 7 (basis 1, 1.5, 3), window 3.

    Day 3: (100 + 200 + 300) / 3 = 200 -> 401 / 200. Day 4: 1.5 x (200 + 300 + 401) / 3 =
    450.5. Day 5: (1.5 x (300 + 401) + 600) / 3 = 550.5. Day 6: (1.5 x 401 + 600 + 900) / 3
    = 700.5. Day 7: 2 x (600 + 900 + 1200) / 3 = 1800. Day 8: (2 x (900 + 1200) + 1500) / 3
    = 1900. ABCD's rows come first (basis 1): the change to EDGE's first row is no split,
    and EDGE's last split is within a window of the frame's end.
    """
    volume = [100, 200, 300, 401, 600, 900, 1200, 1500, 1800]
    split = rows(len(volume), volume=volume)
    other = rows(4, volume=[1000, 1000, 1000, 3000]).assign(symbol="ABCD")
    actions = parse_action_list(f"EDGE:{DAYS[4]}:split:1.5,EDGE:{DAYS[7]}:split:2")
    got = ratios(pd.concat([other, split], ignore_index=True), 3, actions)
    expected = {
        ("EDGE", 3): 401 / 200,
        ("EDGE", 4): 600 / 450.5,
        ("EDGE", 5): 900 / 550.5,
        ("EDGE", 6): 1200 / 700.5,
        ("EDGE", 7): 1500 / 1800,
        ("EDGE", 8): 1800 / 1900,
        ("ABCD", 3): 3.0,
    }
    assert got.keys() == expected.keys()
    for key, ratio in expected.items():
        assert got[key] == pytest.approx(ratio, rel=1e-12), key


def test_window_sums_on_one_share_basis_are_exact_integers() -> None:
    """Volumes near 2**53, where a float sum loses units: 2**53 + 1 + 1 is 2**53 in floats
    but 2**53 + 2 exactly. A 2:1 split on day 4; days 3 and 8 have one-basis windows."""
    big = 2**53
    volume = [big, 1, 1, big + 2, 5, big, 1, 1, big + 2]
    frame = rows(len(volume), volume=volume)
    actions = parse_action_list(f"EDGE:{DAYS[4]}:split:2")
    got = ratios(frame, 3, actions)
    exact = float(big + 2) / (float(big + 2) / 3)  # the exact sum, rounded once
    assert got[("EDGE", 3)] == exact
    assert got[("EDGE", 8)] == exact


def test_a_null_volume_voids_only_the_windows_that_hold_it() -> None:
    # Day 2's window holds day 0's NULL: no baseline, 5,000 fires nothing. Day 3's window
    # (1,000 + 5,000) / 2 = 3,000: 9,000 is 3x. Day 4 has no volume: nothing.
    frame = rows(5, volume=pd.array([None, 1_000, 5_000, 9_000, None], dtype="Int64"))
    assert fired(frame, SignalThresholds(volume_window=2)) == {(3, VOLUME_SPIKE)}
    assert ratios(frame, 2) == {("EDGE", 3): 3.0}


def test_a_zero_baseline_fires_nothing_and_a_fractional_one_does() -> None:
    # Window 2. Days 2 and 5 follow two zero days: no baseline (a ratio would be infinite).
    # Day 6: (0 + 1) / 2 = 0.5, so 3 is 6x. Days 3 and 4 trade nothing: a ratio of 0.
    frame = rows(7, volume=[0, 0, 7, 0, 0, 1, 3])
    assert ratios(frame, 2) == {("EDGE", 6): 6.0}


def test_untyped_columns_with_missing_values_read_as_numbers() -> None:
    """Columns of Python objects (pd.NA and None for missing, as astype(object) and some
    readers give them) yield the signals of the typed frame."""
    volume = _volume()
    volume.loc[3, "volume"] = pd.NA
    typed = compute_indicators(pd.concat([_spike(), volume], ignore_index=True))
    untyped = typed.astype({c: object for c in typed.columns if c not in ("symbol", "trade_date")})
    assert untyped["volume"].isna().sum() == 1 and untyped["volume"].dtype == object
    assert untyped["sma_20"].isna().any()
    expected = detect_signals(typed)
    assert {VOLUME_SPIKE, "BUY"} <= set(expected["signal"])
    pd.testing.assert_frame_equal(detect_signals(untyped), expected)
