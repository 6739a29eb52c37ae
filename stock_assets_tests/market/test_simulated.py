import datetime as dt
import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stock_assets.market import calendar
from stock_assets.market.actions import parse_action_list
from stock_assets.market.sources.base import RawRecord, SourceError, dumps_record
from stock_assets.market.sources.simulated import (
    FAULT_KINDS,
    SimulatedSource,
    _float_texts,
    _inject,
)
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


@pytest.mark.parametrize(
    "actions",
    ["", "AAPL:2019-06-03:split:4,AAPL:2022-02-04:dividend:0.22"],
    ids=["plain", "actions"],
)
def test_a_day_before_the_price_anchor_or_an_action_is_the_same_whatever_range_is_asked(actions):
    # A backfill cut into ranges asks for ranges that end before PRICE_ANCHOR (2020) and
    # before the symbol's actions: each bar must still be the one the whole range gives.
    source = SimulatedSource(actions=parse_action_list(actions) if actions else None)
    first, last = dt.date(2015, 1, 2), dt.date(2024, 12, 31)
    whole = source.daily_bars("AAPL", first, last).set_index("trade_date")
    for end in (dt.date(2015, 6, 30), dt.date(2017, 7, 3), dt.date(2019, 12, 31)):
        piece = source.daily_bars("AAPL", first, end).set_index("trade_date")
        assert piece.equals(whole.loc[piece.index])


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


# -- payloads are written column-wise, byte for byte as dumps_record writes each bar -------

LATE = {"NEWCO": Listing("NEWCO", "New Co", dt.date(2024, 3, 15))}
PULL = (["AAPL", "BRK.B", "^GSPC", "NEWCO"], START, END)


@pytest.mark.parametrize("fault_rate", [0.0, 0.2, 1.0])
def test_records_are_each_bar_as_dumps_record_writes_it(fault_rate):
    source = SimulatedSource(fault_rate=fault_rate, seed=11, listings=LATE)
    expected = []
    for symbol in PULL[0]:
        bars = source.daily_bars(symbol, START, END)
        for bar in zip(*(bars[c].tolist() for c in bars.columns), strict=True):
            record = dict(zip(["symbol", "date", *bars.columns[2:]], bar, strict=True))
            day, record["date"] = record["date"], record["date"].isoformat()
            fault = source.fault_for(symbol, day)
            payload = dumps_record(record) if fault is None else _inject(fault, record)
            copies = 2 if fault == "duplicate" else 1
            expected += [RawRecord(symbol, record["date"], payload)] * copies
    extraction = source.fetch(*PULL)
    assert extraction.records == expected
    assert extraction.raw_body == "".join(r.payload + "\n" for r in expected).encode()
    assert all(type(v) is str for r in extraction.records for v in r)


@pytest.mark.parametrize(
    ("fault_rate", "digest"),
    [
        (0.0, "2e3b0eb71ee7c1071dbf9fa5757795a273dd20265b3e0cad17800fa8d7e49cf5"),
        (0.2, "9c0fdf46fcf1e5e605d24ce25b2ee7b4f1191d053df4ff49d437c68b7a721c84"),
    ],
)
def test_bronze_bytes_stay_what_they_were(fault_rate, digest):
    """The simulator is deterministic across versions too: silver rebuilt from bronze and
    the tests' expectations rely on it. A change here is a change of every history."""
    source = SimulatedSource(fault_rate=fault_rate, seed=11, listings=LATE)
    assert hashlib.sha256(source.fetch(*PULL).raw_body).hexdigest() == digest


def test_pulls_without_bars_have_no_records():
    weekend = SimulatedSource().fetch(["AAPL"], dt.date(2024, 7, 6), dt.date(2024, 7, 7))
    assert weekend.records == [] and weekend.raw_body == b""
    early = SimulatedSource(listings=LATE).fetch(["NEWCO", "AAPL"], START, dt.date(2024, 3, 14))
    assert {r.symbol for r in early.records} == {"AAPL"}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(),
            st.integers(1, 10**17).map(lambda cents: cents / 100),  # whole cents
            st.sampled_from([0.01, 0.1, 1.0, 10.0, 0.0, -0.0, 1e-5, 1e16, 123456789012.34]),
            # The largest whole cents written from their digits, and beyond: 16 digits no
            # longer name one double each (repr gives ...876.55 for this one).
            st.sampled_from([9999999999999.99, 98765432109876.54, 1234567890123456.7]),
        ),
        min_size=1,
    )
)
def test_prices_are_written_as_repr(values):
    texts = _float_texts(np.array(values, dtype=np.float64)).to_pylist()
    assert texts == [repr(float(v)) for v in values]


def test_intraday_bars_aggregate_to_the_daily_bar_and_match_the_quotes(source):
    day = dt.date(2024, 11, 29)  # an early close: 210 one-minute bars
    pull = source.intraday_bars(["TSLA", "AAPL"], day)
    bars = pull.bars[pull.bars.symbol == "TSLA"]
    bar = source.daily_bars("TSLA", day, day).iloc[0]
    assert len(bars) == 210 and pull.symbol_errors == {}
    assert (bars.open.iloc[0], bars.close.iloc[-1]) == (bar.open, bar.close)
    assert (bars.high.max(), bars.low.min(), bars.volume.sum()) == (bar.high, bar.low, bar.volume)
    # The quote at a minute is that minute's bar close, and its volume the sum so far.
    as_of = dt.datetime(2024, 11, 29, 16, 0, 30, tzinfo=dt.UTC)
    (quote,) = source.latest_quotes(["TSLA"], as_of)
    upto = bars[bars.bar_start <= as_of]
    assert quote["price"] == upto.close.iloc[-1] and quote["volume"] == upto.volume.sum()
    five = source.intraday_bars(["TSLA"], day, interval_minutes=5).bars
    assert len(five) == 42 and five.volume.sum() == bar.volume
    assert source.intraday_bars(["TSLA"], dt.date(2024, 11, 28)).bars.empty  # Thanksgiving


def test_no_daily_bar_is_made_up_for_a_session_still_trading(source, monkeypatch):
    day = dt.date(2024, 7, 3)  # closes early, at 13:00 New York (17:00 UTC)
    monkeypatch.setattr(calendar, "utc_now", lambda: dt.datetime(2024, 7, 3, 16, 0, tzinfo=dt.UTC))
    with pytest.raises(SourceError, match="2024-07-03 closes 13:00 New York"):
        source.fetch(["AAPL"], dt.date(2024, 7, 1), day)
    assert source.fetch(["AAPL"], dt.date(2024, 7, 1), dt.date(2024, 7, 2)).records
    monkeypatch.setattr(calendar, "utc_now", lambda: dt.datetime(2024, 7, 3, 17, 0, tzinfo=dt.UTC))
    assert len(source.fetch(["AAPL"], day, day).records) == 1
