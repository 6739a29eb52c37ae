import datetime as dt

import pytest

from stock_assets.market import calendar
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol, parse_symbol_list
from stock_assets.market.watchlist import default_listings, resolve_symbols


@pytest.mark.parametrize(
    "raw,expected", [(" aapl ", "AAPL"), ("BRK-B", "BRK-B"), ("^GSPC", "^GSPC")]
)
def test_valid_symbols_are_normalized(raw, expected):
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "../etc", "A/B", "AAPL;DROP", "A'B", "A B", "..", "TOO-LONG-SYMBOL-XX", 42, None]
)
def test_unsafe_symbols_are_refused(raw):
    with pytest.raises(InvalidSymbolError):
        normalize_symbol(raw)


def test_symbol_list_keeps_order_and_drops_duplicates():
    assert parse_symbol_list("msft, aapl,MSFT,,") == ("MSFT", "AAPL")
    with pytest.raises(InvalidSymbolError):
        parse_symbol_list(" , ")


def test_watchlist_has_at_least_ten_symbols_and_override_wins():
    assert len(resolve_symbols(None)) >= 10
    assert resolve_symbols("nvda,tsla") == ("NVDA", "TSLA")
    assert default_listings()["TMUS"].name == "T-Mobile US, Inc."


def test_calendar_knows_holidays_and_weekends():
    assert calendar.is_session(dt.date(2024, 7, 3))
    assert not calendar.is_session(dt.date(2024, 7, 4))
    assert "July 4th" in calendar.non_session_reason(dt.date(2024, 7, 4))
    assert "weekend" in calendar.non_session_reason(dt.date(2024, 7, 6))
    assert "special closure" in calendar.non_session_reason(dt.date(2025, 1, 9))
    assert calendar.non_session_reason(dt.date(2024, 7, 5)) is None
    days = calendar.sessions_between(dt.date(2024, 7, 1), dt.date(2024, 7, 8))
    assert days == [dt.date(2024, 7, d) for d in (1, 2, 3, 5, 8)]
    assert calendar.holidays_between(dt.date(2024, 7, 1), dt.date(2024, 7, 8)) == [
        dt.date(2024, 7, 4)
    ]
