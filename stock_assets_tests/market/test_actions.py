"""Corporate actions: parsing, the simulator's splits and dividends, point-in-time
indicators and signals, back-adjusted prices and the action checks (no Dagster)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import talib

from stock_assets.market import calendar, lookback
from stock_assets.market.actions import ActionError, parse_action_list
from stock_assets.market.actions_quality import actions_without_bars, unrecorded_splits
from stock_assets.market.adjust import back_adjusted
from stock_assets.market.indicators import INDICATOR_COLUMNS, indicators_for_days
from stock_assets.market.signals import detect_signals
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets.settings import Settings

EX_DATE = dt.date(2024, 6, 24)  # a day the undisturbed walk has no signal
SPLIT = f"AAPL:{EX_DATE}:split:10"
DIVIDEND = "MSFT:2024-06-12:dividend:0.75"
LATER = "AAPL:2024-07-01:dividend:0.1"
HISTORY = (dt.date(2021, 6, 1), dt.date(2024, 7, 12))
TARGETS = calendar.sessions_between(dt.date(2024, 5, 20), dt.date(2024, 7, 12))
PRICE_COLUMNS = [c for c in INDICATOR_COLUMNS if c.startswith(("sma", "ema", "macd", "bb"))]


def bars(actions: str = "") -> pd.DataFrame:
    source = SimulatedSource(actions=parse_action_list(actions) if actions else None)
    frames = [source.daily_bars(s, *HISTORY) for s in ("AAPL", "MSFT")]
    return pd.concat(frames, ignore_index=True)


def indicators(actions: str = "", days=TARGETS) -> pd.DataFrame:
    found = parse_action_list(actions) if actions else None
    return indicators_for_days(bars(actions), list(days), found)


# -- configuration --------------------------------------------------------------------------


def test_action_list_is_parsed_in_the_contract_form():
    actions = parse_action_list(f" {SPLIT} , {DIVIDEND.lower()},")
    assert actions.values.tolist()[0][:3] == ["AAPL", EX_DATE, "SPLIT"]
    assert actions.ratio.iloc[0] == 10.0 and actions.amount.iloc[1] == 0.75
    assert Settings.from_env({"STOCK_ASSETS_SIMULATED_ACTIONS": SPLIT}).simulated_actions == SPLIT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("AAPL:2024-06-10:split", "entry 1 ('AAPL:2024-06-10:split'): expected SYMBOL:"),
        ("AAPL:2024-06-10:split:1", "a split ratio of 1 changes nothing"),
        ("AAPL:2024-06-31:split:2", "ex-date '2024-06-31' is not a YYYY-MM-DD date"),
        ("AAPL:2024-06-10:spinoff:2", "action 'spinoff' is not split or dividend"),
        ("AAPL:2024-06-10:dividend:-1", "dividend value '-1' must be positive"),
        ("AAPL:2024-06-10:dividend:x", "dividend value 'x' is not a number"),
        ("AA PL:2024-06-10:split:2", "invalid symbol"),
        (f"{SPLIT},{SPLIT}", f"split of AAPL on {EX_DATE} is listed more than once"),
    ],
)
def test_a_bad_action_is_refused_naming_the_variable_and_entry(text, reason):
    with pytest.raises(ActionError, match="STOCK_ASSETS_SIMULATED_ACTIONS") as error:
        Settings.from_env({"STOCK_ASSETS_SIMULATED_ACTIONS": text})
    assert reason in str(error.value)


# -- the simulator --------------------------------------------------------------------------


def test_a_simulated_split_divides_prices_and_multiplies_volume_from_its_ex_date():
    plain, split = (b[b.symbol == "AAPL"].set_index("trade_date") for b in (bars(), bars(SPLIT)))
    before, after = plain.index < EX_DATE, plain.index >= EX_DATE
    pd.testing.assert_frame_equal(
        split[before].drop(columns="adj_close"), plain[before].drop(columns="adj_close")
    )
    for name in ("open", "high", "low", "close"):  # the same walk, a tenth, in whole cents
        np.testing.assert_allclose(split[after][name], plain[after][name] / 10, atol=0.0051)
    assert (abs(split[after].volume - 10 * plain[after].volume) <= 5).all()
    # The vendor's adj_close is on today's basis: the old bars' closes divided by 10.
    np.testing.assert_allclose(split[before].adj_close, plain[before].close / 10, atol=0.0051)
    # Raw prices really jump: the ex-date's close is about a tenth of the day before's.
    day_before = split.index[split.index < EX_DATE][-1]
    assert 0.08 < split.close[EX_DATE] / split.close[day_before] < 0.12


def test_a_simulated_dividend_drops_prices_by_its_factor():
    plain, paid = (b[b.symbol == "MSFT"].set_index("trade_date") for b in (bars(), bars(DIVIDEND)))
    ex = dt.date(2024, 6, 12)
    previous = plain.close[plain.index < ex].iloc[-1]
    after = plain.index >= ex
    np.testing.assert_allclose(
        paid[after].close, plain[after].close * (1 - 0.75 / previous), atol=0.011
    )
    pd.testing.assert_series_equal(paid.close[~after], plain.close[~after])


# -- point-in-time indicators and signals ---------------------------------------------------


def test_split_day_shows_no_move_and_indicators_continue_on_the_new_basis():
    plain = indicators().set_index(["symbol", "trade_date"]).loc["AAPL"]
    split = indicators(SPLIT).set_index(["symbol", "trade_date"]).loc["AAPL"]
    before, after = plain.index < EX_DATE, plain.index >= EX_DATE
    # Before the ex-date nothing changes, bit for bit.
    pd.testing.assert_frame_equal(split[before], plain[before], check_exact=True)
    # From it on: price-like values are the undisturbed ones over ten (up to whole cents),
    # unit-free ones are the same: no artificial -90 % day, RSI or volatility jump.
    for column in PRICE_COLUMNS:
        np.testing.assert_allclose(
            split[after][column], plain[after][column] / 10, rtol=2e-3, atol=2e-3, err_msg=column
        )
    for column, tolerance in (("pct_change", 0.12), ("rsi_14", 0.5), ("volatility_20", 0.01)):
        np.testing.assert_allclose(
            split[after][column], plain[after][column], atol=tolerance, err_msg=column
        )
    assert abs(split["pct_change"][EX_DATE]) < 6


def test_split_day_fires_no_signal_and_signals_match_the_undisturbed_stock():
    actions = parse_action_list(SPLIT)
    plain = detect_signals(indicators())
    split = detect_signals(indicators(SPLIT), actions=actions)
    on_day = split[(split.symbol == "AAPL") & (split.trade_date == EX_DATE)]
    assert on_day.empty, on_day.reason.tolist()
    key = ["symbol", "trade_date", "signal"]
    assert split[key].values.tolist() == plain[key].values.tolist()
    # Without the actions, the stored volumes show the split as a 10x volume spike.
    naive = detect_signals(indicators(SPLIT))
    assert "VOLUME_SPIKE" in set(
        naive[(naive.symbol == "AAPL") & (naive.trade_date == EX_DATE)].signal
    )


def test_a_later_action_leaves_earlier_days_bit_identical():
    first = indicators(SPLIT)
    later = indicators(f"{SPLIT},{LATER}")
    earlier = first.trade_date < dt.date(2024, 7, 1)
    pd.testing.assert_frame_equal(
        later[earlier.to_numpy()].reset_index(drop=True),
        first[earlier].reset_index(drop=True),
        check_exact=True,
    )
    assert not later[~earlier.to_numpy()].equals(first[~earlier].reset_index(drop=True))
    signals = detect_signals(first, actions=parse_action_list(SPLIT))
    more = detect_signals(later, actions=parse_action_list(f"{SPLIT},{LATER}"))
    assert signals[signals.trade_date < dt.date(2024, 7, 1)].equals(
        more[more.trade_date < dt.date(2024, 7, 1)]
    )


def test_days_alone_backwards_equal_the_whole_range_with_actions():
    actions = f"{SPLIT},{DIVIDEND}"
    whole = indicators(actions)
    alone = pd.concat([indicators(actions, [day]) for day in reversed(TARGETS)])
    alone = alone.sort_values(["symbol", "trade_date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, whole.reset_index(drop=True), check_exact=True)


def test_talib_parity_on_the_series_adjusted_to_the_days_basis():
    """Independent: the window's closes with every bar before the ex-date divided by ten,
    and MSFT's before its dividend times 1 - 0.75 / previous close, fed to TA-Lib."""
    raw = bars(f"{SPLIT},{DIVIDEND}")
    got = indicators(f"{SPLIT},{DIVIDEND}").set_index(["symbol", "trade_date"])
    day = TARGETS[-1]
    for symbol, ex in (("AAPL", EX_DATE), ("MSFT", dt.date(2024, 6, 12))):
        history = raw[(raw.symbol == symbol) & (raw.trade_date >= lookback.window_start(day))]
        close = history.close.to_numpy(dtype=float).copy()
        before = (history.trade_date < ex).to_numpy()
        factor = 0.1 if symbol == "AAPL" else 1 - 0.75 / close[before][-1]
        close[before] *= factor
        macd, signal, hist = talib.MACD(close, 12, 26, 9)
        upper, middle, lower = talib.BBANDS(close, 20, 2, 2, 0)
        expected = {
            "sma_50": talib.SMA(close, 50)[-1],
            "ema_26": talib.EMA(close, 26)[-1],
            "macd": macd[-1],
            "macd_signal": signal[-1],
            "macd_hist": hist[-1],
            "bb_middle": middle[-1],
            "bb_upper": upper[-1],
            "bb_lower": lower[-1],
            "rsi_14": talib.RSI(close, 14)[-1],
        }
        for column, value in expected.items():
            assert got.loc[(symbol, day), column] == pytest.approx(value, rel=1e-12), column


# -- back-adjusted prices ---------------------------------------------------------------------


def test_back_adjusted_prices_against_a_hand_computation():
    prices = pd.DataFrame(
        {
            "symbol": ["X"] * 5,
            "trade_date": [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8)],
            "open": [100.0, 102.0, 51.0, 50.0, 49.0],
            "high": [101.0, 103.0, 52.0, 51.0, 50.0],
            "low": [99.0, 101.0, 50.0, 49.0, 48.0],
            "close": [100.0, 102.0, 51.5, 50.0, 49.5],
            "volume": [1000, 1100, 2400, 2000, 2100],
        }
    )
    actions = parse_action_list("X:2024-01-04:split:2,X:2024-01-08:dividend:1,Y:2024-01-03:split:3")
    got = back_adjusted(prices, actions)
    dividend = 1 - 1 / 50.0  # the raw close of the last bar before the ex-date
    factor = [0.5 * dividend, 0.5 * dividend, dividend, dividend, 1.0]
    np.testing.assert_allclose(got.factor, factor, rtol=1e-15)
    np.testing.assert_allclose(got.close, prices.close * factor, rtol=1e-15)
    assert got.volume.tolist() == [2000, 2200, 2400, 2000, 2100]


# -- checks ---------------------------------------------------------------------------------


def test_a_split_sized_move_without_an_action_is_suspected_with_its_ratio():
    naive = indicators_for_days(bars(SPLIT), TARGETS)  # the split not recorded
    outcome = unrecorded_splits(naive)
    assert not outcome.passed
    suspect = outcome.failing.iloc[0]
    assert (suspect.symbol, suspect.trade_date, suspect.suspected_ratio) == ("AAPL", EX_DATE, 10.0)
    assert unrecorded_splits(indicators(SPLIT)).passed  # recorded: adjusted away


def test_an_action_for_a_symbol_without_bars_is_flagged():
    actions = parse_action_list(f"{SPLIT},ZZZZ:2024-06-10:dividend:1").assign(source="csv")
    outcome = actions_without_bars(actions, bars(SPLIT))
    assert outcome.failing.symbol.tolist() == ["ZZZZ"]
    # The orphan adjusts nothing: the indicators are those of the split alone.
    pd.testing.assert_frame_equal(
        indicators_for_days(bars(SPLIT), TARGETS, actions), indicators(SPLIT), check_exact=True
    )


def test_the_configured_actions_reach_the_simulator_through_the_resource():
    from stock_assets.definitions import market_data_resource

    client = market_data_resource(Settings(simulated_actions=SPLIT)).client()
    found = client.corporate_actions(["AAPL", "MSFT"], dt.date(2024, 1, 2), dt.date(2024, 12, 31))
    assert found[["symbol", "ex_date", "action"]].values.tolist() == [["AAPL", EX_DATE, "SPLIT"]]
    assert client.corporate_actions(["AAPL"], dt.date(2024, 7, 1), dt.date(2024, 12, 31)).empty
