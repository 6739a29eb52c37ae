"""What a user types reaches the queries only as a validated symbol or a trading day."""

from __future__ import annotations

import datetime as dt

import pytest

from stock_assets.dashboard.inputs import InputError, parse_day, parse_range, parse_symbol

KNOWN = {"AAPL", "BRK-B"}
FIRST, LAST = dt.date(2024, 1, 2), dt.date(2024, 12, 31)


def test_a_known_symbol_is_normalized():
    assert parse_symbol(" aapl ", KNOWN) == "AAPL"
    assert parse_symbol("brk-b", KNOWN) == "BRK-B"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Pick a symbol"),
        ("   ", "Pick a symbol"),
        ("AAPL'; DROP TABLE x --", "is not a ticker symbol"),
        ("../etc", "is not a ticker symbol"),
        ("ZZZZ", "Unknown symbol ZZZZ"),
    ],
)
def test_a_bad_symbol_gets_a_message(text, message):
    with pytest.raises(InputError, match=message):
        parse_symbol(text, KNOWN)


def test_a_trading_day_in_range_is_accepted():
    assert parse_day("2024-07-05", FIRST, LAST) == dt.date(2024, 7, 5)
    assert parse_day(dt.date(2024, 7, 5), FIRST, LAST) == dt.date(2024, 7, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-13-01", "is not a date"),
        ("yesterday", "is not a date"),
        ("", "is not a date"),
        ("2024-07-04", "NYSE holiday"),
        ("2024-07-06", "Saturday"),
        ("2023-12-29", "the warehouse holds 2024-01-02 to 2024-12-31"),
    ],
)
def test_a_bad_day_gets_a_message(text, message):
    with pytest.raises(InputError, match=message):
        parse_day(text, FIRST, LAST)


def test_a_range_is_clipped_to_the_warehouse():
    assert parse_range("2020-01-01", "2024-03-01", FIRST, LAST) == (FIRST, dt.date(2024, 3, 1))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-05-01", "2024-04-01", "is after the end"),
        ("2024-02-30", "2024-04-01", "The start '2024-02-30' is not a date"),
        ("2025-02-01", "2025-04-01", "No data between"),
    ],
)
def test_a_bad_range_gets_a_message(start, end, message):
    with pytest.raises(InputError, match=message):
        parse_range(start, end, FIRST, LAST)


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2024-07-05T13:29:59+00:00", False),  # 09:29:59 New York
        ("2024-07-05T13:30:00+00:00", True),
        ("2024-07-05T19:59:59+00:00", True),
        ("2024-07-05T20:00:00+00:00", False),  # the close
        ("2024-07-03T17:30:00+00:00", False),  # after the 13:00 early close
        ("2024-07-04T15:00:00+00:00", False),  # Independence Day
        ("2024-07-06T15:00:00+00:00", False),  # Saturday
    ],
)
def test_the_live_page_refreshes_only_while_the_nyse_is_open(instant, is_open):
    from stock_assets.dashboard.screens.live import market_open

    assert market_open(dt.datetime.fromisoformat(instant)) is is_open


@pytest.mark.parametrize("is_open", [True, False])
def test_the_live_panel_reruns_on_its_own_only_while_the_nyse_is_open(monkeypatch, is_open):
    """render() wraps the panel in a fragment that reruns every LIVE_REFRESH_SECONDS while the
    market is open, and not at all while it is closed."""
    from stock_assets.dashboard.screens import live

    intervals, drawn = [], []

    def fragment(run_every=None):
        intervals.append(run_every)
        return lambda panel: panel

    monkeypatch.setattr(live.st, "fragment", fragment)
    monkeypatch.setattr(live.state, "dagster_links", lambda page: None)
    monkeypatch.setattr(live, "market_open", lambda now: is_open)
    monkeypatch.setattr(live, "_panel", lambda: drawn.append(True))
    live.render()
    assert intervals == [live.LIVE_REFRESH_SECONDS if is_open else None]
    assert drawn == [True]
