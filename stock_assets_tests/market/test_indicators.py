"""compute_indicators: TA-Lib per symbol, checked against plain numpy/pandas models of the
same definitions, TA-Lib on each symbol alone, and for order independence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import talib

from stock_assets.market.calendar import sessions_between
from stock_assets.market.indicators import (
    HISTORY_BARS_NEEDED,
    INDICATOR_COLUMNS,
    LOOKBACK_BARS,
    OUTPUT_COLUMNS,
    RECURSIVE_COLUMNS,
    compute_indicators,
    compute_indicators_for,
)

RTOL = 1e-6
SESSIONS = sessions_between(dt.date(2022, 1, 3), dt.date(2023, 12, 29))  # 501 NYSE days
HOLIDAY = dt.date(2022, 7, 4)  # Independence Day: a weekday with no bar
HALTED = set(SESSIONS[200:203])  # three sessions the GAPPY symbol did not trade


def _walk(rng: np.random.Generator, n: int, start: float, sigma: float = 0.02) -> np.ndarray:
    return start * np.exp(np.cumsum(rng.normal(0.0002, sigma, n)))


def _prices() -> pd.DataFrame:
    """silver.prices-shaped rows: full histories, a late joiner, a gap, a short listing."""
    rng = np.random.default_rng(20240607)
    series: dict[str, tuple[list[dt.date], np.ndarray]] = {
        "AAPL": (SESSIONS, _walk(rng, len(SESSIONS), 150.0)),
        "MSFT": (SESSIONS, _walk(rng, len(SESSIONS), 300.0, 0.015)),
        "NVDA": (SESSIONS, _walk(rng, len(SESSIONS), 20.0, 0.035)),
        "BRK-A": (SESSIONS, _walk(rng, len(SESSIONS), 450_000.0, 0.01)),  # high price
        "PENNY": (SESSIONS, _walk(rng, len(SESSIONS), 0.85, 0.05)),
    }
    late = SESSIONS[120:]  # joins the watchlist later
    series["LATE"] = (late, _walk(rng, len(late), 42.0))
    gappy = [d for d in SESSIONS if d not in HALTED]
    series["GAPPY"] = (gappy, _walk(rng, len(gappy), 75.0))
    short = SESSIONS[-25:]  # fewer bars than MACD needs: every MACD value stays NULL
    series["SHORT"] = (short, _walk(rng, len(short), 10.0))
    frames = []
    for symbol, (days, close) in series.items():
        n = len(days)
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "trade_date": days,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "adj_close": close,
                    "volume": pd.array(rng.integers(1_000, 5_000_000, n), dtype="Int64"),
                    "source": "test",
                    "ingested_at": pd.Timestamp("2024-01-01"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return _prices()


@pytest.fixture(scope="module")
def result(prices: pd.DataFrame) -> pd.DataFrame:
    return compute_indicators(prices)


def _talib_reference(close: np.ndarray) -> dict[str, np.ndarray]:
    ref = {
        "sma_5": talib.SMA(close, 5),
        "sma_20": talib.SMA(close, 20),
        "sma_50": talib.SMA(close, 50),
        "ema_12": talib.EMA(close, 12),
        "ema_26": talib.EMA(close, 26),
        "rsi_14": talib.RSI(close, 14),
    }
    ref["macd"], ref["macd_signal"], ref["macd_hist"] = talib.MACD(close, 12, 26, 9)
    ref["bb_upper"], ref["bb_middle"], ref["bb_lower"] = talib.BBANDS(
        close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0
    )
    return ref


def _assert_same(actual: np.ndarray, expected: np.ndarray, label: str) -> None:
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{label} NaNs")
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(actual[ok], expected[ok], rtol=RTOL, atol=0, err_msg=label)


def test_fixture_has_the_shapes_we_claim(prices: pd.DataFrame) -> None:
    assert prices["symbol"].nunique() == 8
    assert prices.groupby("symbol").size().min() >= 25
    assert prices.groupby("symbol").size().drop("SHORT").min() >= 380
    assert HOLIDAY not in set(prices["trade_date"])
    late_first = prices.loc[prices["symbol"] == "LATE", "trade_date"].min()
    assert late_first == SESSIONS[120]


def test_output_shape_order_and_columns(prices: pd.DataFrame, result: pd.DataFrame) -> None:
    assert list(result.columns) == list(OUTPUT_COLUMNS)
    assert len(result) == len(prices)
    expected_order = prices.sort_values(["symbol", "trade_date"])[["symbol", "trade_date"]]
    pd.testing.assert_frame_equal(
        result[["symbol", "trade_date"]], expected_order.reset_index(drop=True)
    )
    assert result["volume"].dtype == "Int64"
    assert all(result[c].dtype == "float64" for c in INDICATOR_COLUMNS)
    assert isinstance(result["trade_date"].iloc[0], dt.date)


def test_every_talib_column_matches_per_symbol(result: pd.DataFrame) -> None:
    for symbol, rows in result.groupby("symbol"):
        close = rows["close"].to_numpy()
        for column, expected in _talib_reference(close).items():
            _assert_same(rows[column].to_numpy(), expected, f"{symbol}.{column}")


def test_warm_up_rows_are_null_per_symbol(result: pd.DataFrame) -> None:
    for symbol, rows in result.groupby("symbol"):
        for column, lookback in LOOKBACK_BARS.items():
            values = rows[column].to_numpy()
            leading = min(lookback, len(values))
            assert np.isnan(values[:leading]).all(), (symbol, column)
            assert not np.isnan(values[leading:]).any(), (symbol, column)
    short = result.loc[result["symbol"] == "SHORT"]
    assert short[["macd", "macd_signal", "macd_hist", "sma_50"]].isna().all().all()


def test_rows_around_a_holiday_and_a_gap_are_consecutive_bars(result: pd.DataFrame) -> None:
    """A missing day is not a bar: the day after it uses the day before it."""
    aapl = result.loc[result["symbol"] == "AAPL"].reset_index(drop=True)
    after = aapl.index[aapl["trade_date"] == dt.date(2022, 7, 5)][0]
    before = aapl.loc[after - 1]
    assert before["trade_date"] == dt.date(2022, 7, 1)
    expected = 100.0 * (aapl.loc[after, "close"] / before["close"] - 1.0)
    assert aapl.loc[after, "pct_change"] == pytest.approx(expected, rel=1e-12)

    gappy = result.loc[result["symbol"] == "GAPPY"].reset_index(drop=True)
    assert not HALTED & set(gappy["trade_date"])
    resumed = gappy.index[gappy["trade_date"] == SESSIONS[203]][0]
    assert gappy.loc[resumed - 1, "trade_date"] == SESSIONS[199]


def test_volatility_and_pct_change_match_pandas(result: pd.DataFrame) -> None:
    for symbol, rows in result.groupby("symbol"):
        close = pd.Series(rows["close"].to_numpy())
        pct = 100.0 * (close / close.shift(1) - 1.0)
        log_returns = np.log(close / close.shift(1))
        vol = log_returns.rolling(20, min_periods=20).std(ddof=1) * np.sqrt(252.0)
        _assert_same(rows["pct_change"].to_numpy(), pct.to_numpy(), f"{symbol}.pct_change")
        _assert_same(rows["volatility_20"].to_numpy(), vol.to_numpy(), f"{symbol}.volatility")


def _seeded_ema(values: np.ndarray, n: int, seed_bar: int) -> np.ndarray:
    """TA-Lib's EMA definition written out: seeded on `seed_bar` with the mean of the n
    values before and at it, then ema += (x - ema) * 2 / (n + 1)."""
    out = np.full(len(values), np.nan)
    if len(values) <= seed_bar:
        return out
    out[seed_bar] = values[seed_bar - n + 1 : seed_bar + 1].mean()
    for i in range(seed_bar + 1, len(values)):
        out[i] = out[i - 1] + (values[i] - out[i - 1]) * 2.0 / (n + 1)
    return out


def test_talib_columns_match_their_definitions_in_plain_numpy(result: pd.DataFrame) -> None:
    """An independent model of what TA-Lib computes (the package calls TA-Lib itself)."""
    for symbol, rows in result.groupby("symbol"):
        close = rows["close"].to_numpy()
        rolling = pd.Series(close).rolling(20, min_periods=20)
        middle, sigma = rolling.mean().to_numpy(), rolling.std(ddof=0).to_numpy()
        expected = {
            "sma_5": pd.Series(close).rolling(5, min_periods=5).mean().to_numpy(),
            "bb_upper": middle + 2 * sigma,
            "bb_lower": middle - 2 * sigma,
            "ema_12": _seeded_ema(close, 12, 11),
            "ema_26": _seeded_ema(close, 26, 25),
        }
        # MACD: both EMAs seeded on bar 25, the signal EMA-9 of the line on bar 33.
        line = _seeded_ema(close, 12, 25) - _seeded_ema(close, 26, 25)
        signal = np.full(len(close), np.nan)
        if len(close) > 33:
            signal[25:] = _seeded_ema(line[25:], 9, 8)
            line[:33] = np.nan
        expected |= {"macd": line, "macd_signal": signal}
        for column, values in expected.items():
            got = rows[column].to_numpy()
            assert np.array_equal(np.isnan(got), np.isnan(values)), f"{symbol}.{column} mask"
            ok = ~np.isnan(values)
            np.testing.assert_allclose(got[ok], values[ok], rtol=1e-9, atol=1e-9 * close.max())


def test_shuffled_input_gives_identical_output(prices: pd.DataFrame, result: pd.DataFrame) -> None:
    shuffled = prices.sample(frac=1.0, random_state=7).reset_index(drop=True)
    pd.testing.assert_frame_equal(compute_indicators(shuffled), result, check_exact=True)


def test_datetime64_trade_dates_give_the_same_values(
    prices: pd.DataFrame, result: pd.DataFrame
) -> None:
    as_timestamps = prices.assign(trade_date=pd.to_datetime(prices["trade_date"]))
    other = compute_indicators(as_timestamps)
    pd.testing.assert_frame_equal(
        other[list(INDICATOR_COLUMNS)], result[list(INDICATOR_COLUMNS)], check_exact=True
    )


def test_flat_prices_give_rsi_zero_like_talib() -> None:
    close = np.full(60, 100.0)
    assert np.isnan(talib.RSI(close, 14)[:14]).all()
    assert (talib.RSI(close, 14)[14:] == 0.0).all()  # TA-Lib: no movement -> 0, not 50
    frame = pd.DataFrame(
        {
            "symbol": "FLAT",
            "trade_date": SESSIONS[:60],
            "close": close,
            "volume": pd.array([1_000] * 60, dtype="Int64"),
        }
    )
    out = compute_indicators(frame)
    _assert_same(out["rsi_14"].to_numpy(), talib.RSI(close, 14), "flat rsi")
    assert (out["rsi_14"].iloc[14:] == 0.0).all()
    assert (out["volatility_20"].iloc[20:] == 0.0).all()
    flat_bands = out.iloc[19:]
    assert (flat_bands["bb_upper"] == 100.0).all() and (flat_bands["bb_lower"] == 100.0).all()


def test_flat_then_move_matches_talib_rsi() -> None:
    close = np.r_[np.full(30, 50.0), 51.0, np.full(30, 51.0), 49.5, np.full(10, 49.5)]
    frame = pd.DataFrame(
        {"symbol": "STEP", "trade_date": SESSIONS[: len(close)], "close": close, "volume": 1}
    )
    out = compute_indicators(frame)
    for column, expected in _talib_reference(close).items():
        _assert_same(out[column].to_numpy(), expected, f"STEP.{column}")


def test_compute_indicators_for_returns_only_target_days(
    prices: pd.DataFrame, result: pd.DataFrame
) -> None:
    targets = [SESSIONS[130], SESSIONS[201], SESSIONS[450], HOLIDAY]
    # History up to the last target only, as a partitioned run would read it.
    history = prices.loc[prices["trade_date"] <= SESSIONS[450]]
    got = compute_indicators_for(history, targets)
    assert set(got["trade_date"]) == {SESSIONS[130], SESSIONS[201], SESSIONS[450]}
    expected = result.loc[result["trade_date"].isin(targets)].reset_index(drop=True)
    # GAPPY has no bar on SESSIONS[201]; LATE has one on every target; SHORT on none.
    assert len(got) == len(expected) == 3 * 7 - 1
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert compute_indicators_for(history, []).empty


def test_history_bars_needed_is_enough_for_the_window_indicators(
    prices: pd.DataFrame, result: pd.DataFrame
) -> None:
    """Non-recursive columns need only HISTORY_BARS_NEEDED earlier rows to be exact."""
    aapl = prices.loc[prices["symbol"] == "AAPL"].reset_index(drop=True)
    target = aapl["trade_date"].iloc[-1]
    window = aapl.iloc[-(HISTORY_BARS_NEEDED + 1) :]
    short = compute_indicators(window).iloc[-1]
    full = result.loc[(result["symbol"] == "AAPL") & (result["trade_date"] == target)].iloc[0]
    windowed = [c for c in INDICATOR_COLUMNS if c not in RECURSIVE_COLUMNS]
    np.testing.assert_allclose(
        short[windowed].to_numpy(float), full[windowed].to_numpy(float), rtol=1e-10
    )
    assert np.isnan(short["macd"]) or short["macd"] != full["macd"]  # recursive: re-seeded


def test_empty_input_returns_the_columns() -> None:
    empty = pd.DataFrame(
        {
            "symbol": pd.Series(dtype=object),
            "trade_date": pd.Series(dtype=object),
            "close": pd.Series(dtype="float64"),
            "volume": pd.Series(dtype="Int64"),
        }
    )
    out = compute_indicators(empty)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out.empty


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True), "duplicate"),
        (lambda f: f.assign(close=f["close"].where(f.index != 5)), "positive and finite"),
        (lambda f: f.assign(close=f["close"].where(f.index != 5, -1.0)), "positive and finite"),
        (lambda f: f.drop(columns=["volume"]), "lacks columns"),
    ],
)
def test_bad_input_is_rejected(mutate, message: str) -> None:
    frame = pd.DataFrame(
        {"symbol": "X", "trade_date": SESSIONS[:10], "close": 10.0 + np.arange(10), "volume": 5}
    )
    with pytest.raises(ValueError, match=message):
        compute_indicators(mutate(frame))


def test_long_flat_stretch_after_a_move_matches_talib() -> None:
    """The RSI averages decay towards 0 but never reach it: RSI keeps its last ratio.

    MACD decays to 0 as well; there both sides hold rounding noise (~1e-14), so it is
    compared with an absolute tolerance of 1e-9 instead of a relative one.
    """
    close = np.r_[np.linspace(100.0, 101.0, 20), 100.5, np.full(480, 100.5)]
    frame = pd.DataFrame(
        {"symbol": "HALT", "trade_date": SESSIONS[: len(close)], "close": close, "volume": 1}
    )
    out = compute_indicators(frame)
    expected_rsi = talib.RSI(close, 14)
    # Gains of 1/19 then one loss of 0.5: the ratio 26/45 holds while both averages decay.
    assert expected_rsi[-1] == pytest.approx(100.0 * 26 / 45)  # not 0 after 480 flat bars
    for column, expected in _talib_reference(close).items():
        actual = out[column].to_numpy()
        if column.startswith("macd"):
            np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
            np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9, equal_nan=True)
        else:
            _assert_same(actual, expected, f"HALT.{column}")


def test_low_priced_low_volatility_bands_match_talib() -> None:
    rng = np.random.default_rng(3)
    close = 0.0042 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, 300)))
    frame = pd.DataFrame(
        {"symbol": "SUB", "trade_date": SESSIONS[: len(close)], "close": close, "volume": 1}
    )
    out = compute_indicators(frame)
    for column, expected in _talib_reference(close).items():
        _assert_same(out[column].to_numpy(), expected, f"SUB.{column}")


def test_a_symbols_values_do_not_depend_on_the_rest_of_the_frame(
    prices: pd.DataFrame, result: pd.DataFrame
) -> None:
    """Bit for bit: runs over different symbol sets and histories must agree exactly."""
    for symbol in ("AAPL", "LATE", "GAPPY"):
        alone = compute_indicators(prices.loc[prices["symbol"] == symbol])
        together = result.loc[result["symbol"] == symbol].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, together, check_exact=True)
    # A longer neighbour widens the internal grid; the target symbol must not notice.
    extra_days = sessions_between(dt.date(2019, 1, 2), dt.date(2023, 12, 29))
    longer = pd.DataFrame(
        {
            "symbol": "ZZZ",
            "trade_date": extra_days,
            "close": np.linspace(10.0, 30.0, len(extra_days)),
            "volume": 1,
        }
    )
    mixed = compute_indicators(pd.concat([prices.loc[prices["symbol"] == "MSFT"], longer]))
    pd.testing.assert_frame_equal(
        mixed.loc[mixed["symbol"] == "MSFT"].reset_index(drop=True),
        result.loc[result["symbol"] == "MSFT"].reset_index(drop=True),
        check_exact=True,
    )
