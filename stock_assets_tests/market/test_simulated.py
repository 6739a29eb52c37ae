import datetime as dt
import json

import numpy as np
import pytest

from stock_assets.market import calendar
from stock_assets.market.sources.simulated import FAULT_KINDS, SimulatedSource
from stock_assets.market.watchlist import Listing

START, END = dt.date(2023, 1, 3), dt.date(2024, 12, 31)


@pytest.fixture(scope="module")
def source() -> SimulatedSource:
    return SimulatedSource()


def test_a_day_is_the_same_whatever_range_is_asked(source):
    whole = source.daily_bars("AAPL", START, END).set_index("trade_date")
    for day in (dt.date(2023, 1, 3), dt.date(2024, 2, 29), END):
        alone = source.daily_bars("AAPL", day, day).set_index("trade_date")
        assert alone.loc[day].equals(whole.loc[day])
    # ...and a fresh instance (new process, same seed) gives the same bars.
    assert (
        SimulatedSource()
        .daily_bars("AAPL", START, END)
        .equals(source.daily_bars("AAPL", START, END))
    )


def test_symbols_and_seeds_differ(source):
    a = source.daily_bars("AAPL", START, END).close.to_numpy()
    b = source.daily_bars("MSFT", START, END).close.to_numpy()
    c = SimulatedSource(seed=7).daily_bars("AAPL", START, END).close.to_numpy()
    assert not np.allclose(a, b) and not np.allclose(a, c)


def test_bars_only_on_trading_days_and_ohlc_consistent(source):
    bars = source.daily_bars("NVDA", START, END)
    assert list(bars.trade_date) == calendar.sessions_between(START, END)
    assert (bars.high >= bars[["open", "close", "low"]].max(axis=1)).all()
    assert (bars.low <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert (bars.volume > 0).all()


def test_returns_look_like_a_stock(source):
    closes = np.concatenate(
        [source.daily_bars(s, dt.date(2015, 1, 2), END).close.to_numpy() for s in ("AAPL", "XOM")]
    )
    bars = source.daily_bars("AAPL", dt.date(2015, 1, 2), END)
    log_returns = np.diff(np.log(bars.close.to_numpy()))
    annual_vol = log_returns.std() * np.sqrt(252)
    assert 0.1 < annual_vol < 0.8
    assert np.abs(log_returns).max() > 0.05  # occasional large moves exist...
    assert np.mean(np.abs(log_returns) > 0.05) < 0.05  # ...but are rare
    assert closes.min() > 1 and closes.max() < 10_000


def test_symbol_listed_late_has_no_earlier_bars():
    listings = {"NEWCO": Listing("NEWCO", "New Co", dt.date(2024, 3, 15))}
    bars = SimulatedSource(listings=listings).daily_bars("NEWCO", START, END)
    assert bars.trade_date.min() == dt.date(2024, 3, 15)


def test_intraday_ticks_aggregate_to_the_daily_bar(source):
    day = dt.date(2024, 11, 29)  # an early close (13:00 New York)
    for d in (dt.date(2024, 3, 5), day):
        bar = source.daily_bars("TSLA", d, d).iloc[0]
        ticks = source.intraday_ticks("TSLA", d)
        assert ticks.price.iloc[0] == bar.open and ticks.price.iloc[-1] == bar.close
        assert ticks.price.max() == bar.high and ticks.price.min() == bar.low
        assert ticks.volume.sum() == bar.volume
        assert ticks.ts.iloc[0] == calendar.market_open_utc(d)
        assert ticks.ts.iloc[-1] < calendar.market_close_utc(d)
    assert len(source.intraday_ticks("TSLA", day)) == 210


def test_latest_quote_reports_change_against_previous_close(source):
    as_of = dt.datetime(2024, 3, 5, 15, 0, tzinfo=dt.UTC)
    (quote,) = source.latest_quotes(["TSLA"], as_of)
    prev_close = source.daily_bars("TSLA", dt.date(2024, 3, 4), dt.date(2024, 3, 4)).close.iloc[0]
    assert quote["price"] - prev_close == pytest.approx(quote["change"], abs=1e-3)
    assert dt.datetime.fromisoformat(quote["ts"]) <= as_of


def test_fault_injection_is_deterministic_and_covers_every_kind():
    faulty = SimulatedSource(fault_rate=0.3)
    records = faulty.fetch(["AAPL", "MSFT", "XOM"], START, END).records
    again = SimulatedSource(fault_rate=0.3).fetch(["AAPL", "MSFT", "XOM"], START, END).records
    assert records == again
    kinds = {faulty.fault_for(r.symbol, dt.date.fromisoformat(r.trade_date)) for r in records}
    assert kinds - {None} == set(FAULT_KINDS)
    clean = SimulatedSource().fetch(["AAPL"], START, END).records
    assert all(json.loads(r.payload)["close"] > 0 for r in clean)
    with pytest.raises(ValueError):
        SimulatedSource(fault_rate=1.5)
