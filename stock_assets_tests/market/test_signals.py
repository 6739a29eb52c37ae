"""detect_signals on hand-built price paths whose signals are known by construction."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stock_assets.market.calendar import sessions_between
from stock_assets.market.indicators import compute_indicators
from stock_assets.market.signals import (
    SIGNAL_COLUMNS,
    SignalThresholds,
    detect_signals,
    detect_signals_for,
)

DAYS = sessions_between(dt.date(2024, 1, 2), dt.date(2024, 12, 31))
BASE_VOLUME = 1_000_000


def _frame(symbol: str, close: np.ndarray, volume: np.ndarray | None = None) -> pd.DataFrame:
    n = len(close)
    if volume is None:
        volume = np.full(n, BASE_VOLUME)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "trade_date": DAYS[:n],
            "close": np.asarray(close, dtype=float),
            "volume": pd.array(volume, dtype="Int64"),
        }
    )


def _spike() -> pd.DataFrame:
    """100 for 30 days, one day at 110, then 100 again.

    Day 30: +10% (ANOMALY), SMA-5 102 > SMA-20 100.5 after both were 100 (BUY), and 110 is
    above the upper band 100.5 + 2 * sqrt(4.75) = 104.86 (BB_BREAKOUT). Day 31: -9.09%
    (ANOMALY), still inside the bands. Day 35: the 110 leaves the 5-day window, SMA-5 100 <
    SMA-20 100.5 (SELL). Day 50: SMA-20 is back to 100 = SMA-5: a tie, not a crossing.
    """
    return _frame("SPIKE", np.r_[np.full(30, 100.0), 110.0, np.full(40, 100.0)])


def _drop() -> pd.DataFrame:
    """100 for 30 days, then 94 for good.

    Day 30: -6% (ANOMALY), SMA-5 98.8 < SMA-20 99.7 (SELL), 94 below the lower band 97.08
    (BB_BREAKOUT). The lower band is 95.8 on day 31 and 94.81 on day 32 (breakouts) and
    exactly 94.0 on day 33 (a tie: no breakout). SMA-5 and SMA-20 meet at 94 on day 49
    and stay equal: no BUY.
    """
    return _frame("DROP", np.r_[np.full(30, 100.0), np.full(40, 94.0)])


def _volume() -> pd.DataFrame:
    """A flat price with volume events against a 1,000,000 baseline, each event outside
    the previous event's 20-day window.

    Day 10: 5,000,000 but only 10 earlier days (no baseline yet: nothing). Day 40:
    2,500,000 = 2.5x (spike). Day 65: 2,000,000 = exactly 2.0x (not above: nothing).
    Day 100: 2,000,021 = 2.000021x (spike). Day 101: 2,100,000 against a baseline that
    now holds day 100: (19,000,000 + 2,000,021) / 20 = 1,050,001.05 -> 1.99999x (nothing).
    """
    volume = np.full(110, BASE_VOLUME)
    volume[10] = 5_000_000
    volume[40] = 2_500_000
    volume[65] = 2_000_000
    volume[100] = 2_000_021
    volume[101] = 2_100_000
    return _frame("VOL", np.full(110, 50.0), volume)


def _signals(frame: pd.DataFrame, thresholds: SignalThresholds | None = None) -> set[tuple]:
    indicators = compute_indicators(frame)
    out = detect_signals(indicators, thresholds or SignalThresholds())
    return {(s, DAYS.index(d), sig) for s, d, sig in out[["symbol", "trade_date", "signal"]].values}


def test_spike_signals_exactly() -> None:
    assert _signals(_spike()) == {
        ("SPIKE", 30, "ANOMALY"),
        ("SPIKE", 30, "BUY"),
        ("SPIKE", 30, "BB_BREAKOUT"),
        ("SPIKE", 31, "ANOMALY"),
        ("SPIKE", 35, "SELL"),
    }


def test_drop_signals_exactly() -> None:
    assert _signals(_drop()) == {
        ("DROP", 30, "ANOMALY"),
        ("DROP", 30, "SELL"),
        ("DROP", 30, "BB_BREAKOUT"),
        ("DROP", 31, "BB_BREAKOUT"),
        ("DROP", 32, "BB_BREAKOUT"),
    }


def test_volume_spikes_exactly() -> None:
    assert _signals(_volume()) == {("VOL", 40, "VOLUME_SPIKE"), ("VOL", 100, "VOLUME_SPIKE")}


def test_thresholds_are_configurable() -> None:
    strict = SignalThresholds(anomaly_pct=7.0, volume_spike_ratio=1.9, volume_window=5)
    # -6% is no longer an anomaly; +10% and -9.09% still are.
    assert ("DROP", 30, "ANOMALY") not in _signals(_drop(), strict)
    assert {("SPIKE", 30, "ANOMALY"), ("SPIKE", 31, "ANOMALY")} <= _signals(_spike(), strict)
    # With a 5-day window day 10 has a baseline (5x), and the 2.0x day now exceeds 1.9x.
    # Day 101's 5-day baseline holds day 100: (4,000,000 + 2,000,021) / 5 = 1.2M -> 1.75x.
    assert _signals(_volume(), strict) == {
        ("VOL", 10, "VOLUME_SPIKE"),
        ("VOL", 40, "VOLUME_SPIKE"),
        ("VOL", 65, "VOLUME_SPIKE"),
        ("VOL", 100, "VOLUME_SPIKE"),
    }


def test_values_and_reasons() -> None:
    frame = pd.concat([_spike(), _drop(), _volume()], ignore_index=True)
    out = detect_signals(compute_indicators(frame))
    assert list(out.columns) == list(SIGNAL_COLUMNS)

    def first(symbol: str, signal: str) -> pd.Series:
        return out.loc[(out["symbol"] == symbol) & (out["signal"] == signal)].iloc[0]

    buy = first("SPIKE", "BUY")
    assert buy["value"] == 110.0
    assert buy["reason"] == "SMA-5 (102.00) crossed above SMA-20 (100.50)"
    sell = first("DROP", "SELL")
    assert sell["reason"] == "SMA-5 (98.80) crossed below SMA-20 (99.70)"

    anomaly = first("DROP", "ANOMALY")
    assert anomaly["value"] == pytest.approx(-6.0)
    assert anomaly["reason"].startswith("Close moved -6.00% in one day (100.00 -> 94.00)")

    spike = first("VOL", "VOLUME_SPIKE")
    assert spike["value"] == pytest.approx(2.5)
    assert spike["reason"].startswith("Volume 2,500,000 is 2.50x the 20-day average (1,000,000)")

    upper = first("SPIKE", "BB_BREAKOUT")
    band = 100.5 + 2 * np.sqrt(4.75)
    assert upper["value"] == pytest.approx(100 * (110 - band) / band) and upper["value"] > 0
    assert "above the upper Bollinger band (104.86)" in upper["reason"]
    lower = first("DROP", "BB_BREAKOUT")
    assert lower["value"] < 0
    assert "below the lower Bollinger band (97.08)" in lower["reason"]


def test_order_is_deterministic_and_input_order_free() -> None:
    frame = pd.concat([_volume(), _drop(), _spike()], ignore_index=True)
    indicators = compute_indicators(frame)
    out = detect_signals(indicators)
    keys = list(zip(out["symbol"], out["trade_date"], out["signal"], strict=True))
    assert keys == sorted(keys)
    shuffled = indicators.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(detect_signals(shuffled), out)


def test_no_crossover_across_a_symbol_boundary() -> None:
    """A's last row has SMA-5 below SMA-20, B's first row above: not a crossing."""
    rows = pd.DataFrame(
        {
            "symbol": ["A", "A", "B", "B"],
            "trade_date": [DAYS[0], DAYS[1], DAYS[0], DAYS[1]],
            "close": [10.0, 10.0, 20.0, 20.0],
            "volume": pd.array([1, 1, 1, 1], dtype="Int64"),
            "sma_5": [9.0, 9.0, 21.0, 21.0],
            "sma_20": [10.0, 10.0, 20.0, 20.0],
            "bb_upper": [11.0, 11.0, 22.0, 22.0],
            "bb_lower": [9.0, 9.0, 18.0, 18.0],
            "pct_change": [np.nan, 0.0, np.nan, 0.0],
        }
    )
    assert detect_signals(rows).empty


def test_null_previous_day_is_not_a_crossing() -> None:
    rows = pd.DataFrame(
        {
            "symbol": ["A"] * 3,
            "trade_date": DAYS[:3],
            "close": [10.0] * 3,
            "volume": pd.array([1, 1, 1], dtype="Int64"),
            "sma_5": [9.0, np.nan, 11.0],
            "sma_20": [10.0, 10.0, 10.0],
            "bb_upper": [np.nan] * 3,
            "bb_lower": [np.nan] * 3,
            "pct_change": [np.nan, 0.0, 0.0],
        }
    )
    assert detect_signals(rows).empty


def test_detect_signals_for_keeps_target_days() -> None:
    indicators = compute_indicators(_spike())
    got = detect_signals_for(indicators, [DAYS[31], DAYS[35]])
    assert list(zip(got["trade_date"], got["signal"], strict=True)) == [
        (DAYS[31], "ANOMALY"),
        (DAYS[35], "SELL"),
    ]


def test_empty_and_invalid() -> None:
    empty = compute_indicators(_spike()).iloc[:0]
    out = detect_signals(empty)
    assert out.empty and list(out.columns) == list(SIGNAL_COLUMNS)
    with pytest.raises(ValueError):
        SignalThresholds(volume_window=0)
    with pytest.raises(ValueError):
        SignalThresholds(volume_spike_ratio=0)
    with pytest.raises(ValueError, match="lacks columns"):
        detect_signals(empty.drop(columns=["sma_5"]))


def test_a_level_shift_fires_once_and_then_stays_quiet() -> None:
    """a for 30 days, then b for good, over many price levels.

    Expected by construction: the crossover on day 30, BB breakouts on days 30-32 (the
    new level is beyond 2 sigma while it holds < 4 of the 20 closes; with 4 it sits exactly
    on the band) and an anomaly on day 30 if the step is > 5%. Afterwards both averages
    equal b and the bands collapse onto it: rounding noise must not fire anything.
    """
    rng = np.random.default_rng(11)
    for a, b in np.round(rng.uniform(1.0, 500.0, size=(40, 2)), 2):
        close = np.r_[np.full(30, a), np.full(60, b)]
        got = _signals(_frame("LVL", close))
        expected = {("LVL", 30, "BUY" if b > a else "SELL")}
        expected |= {("LVL", day, "BB_BREAKOUT") for day in (30, 31, 32)}
        if abs(100.0 * (b / a - 1.0)) > 5.0:
            expected.add(("LVL", 30, "ANOMALY"))
        assert got == expected, (a, b)


SIGNAL_DTYPES = {"signal": object, "value": "float64", "reason": object}


def test_no_signal_keeps_the_output_s_column_types() -> None:
    """Empty input keeps its symbol and trade_date types; quiet rows give the same columns."""
    empty = compute_indicators(_spike()).iloc[:0]
    empty = empty.astype({"symbol": "string", "trade_date": "datetime64[ns]"})
    out = detect_signals(empty)
    assert out.dtypes.to_dict() == {
        "symbol": pd.StringDtype(),
        "trade_date": np.dtype("datetime64[ns]"),
        **{name: np.dtype(dtype) for name, dtype in SIGNAL_DTYPES.items()},
    }
    quiet = detect_signals(compute_indicators(_frame("FLAT", np.full(30, 50.0))))
    assert quiet.empty and list(quiet.columns) == list(SIGNAL_COLUMNS)
    assert {name: quiet[name].dtype for name in SIGNAL_DTYPES} == {
        name: np.dtype(dtype) for name, dtype in SIGNAL_DTYPES.items()
    }


def test_detect_signals_for_applies_the_thresholds_and_renumbers_rows() -> None:
    # Day 30 of the drop: -6% is no anomaly at 7%, the SELL and the breakout remain.
    got = detect_signals_for(
        compute_indicators(_drop()), [DAYS[30]], SignalThresholds(anomaly_pct=7.0)
    )
    assert list(got.columns) == list(SIGNAL_COLUMNS)
    assert list(got["signal"]) == ["BB_BREAKOUT", "SELL"]
    pd.testing.assert_index_equal(got.index, pd.RangeIndex(2))
