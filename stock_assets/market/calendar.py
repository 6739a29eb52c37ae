"""The NYSE (XNYS) trading calendar: which days are sessions, and why the others are not."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

EXCHANGE = "XNYS"
MARKET_TIMEZONE = "America/New_York"
# The calendar is built over a fixed span so that session indexes (which the simulator
# uses as its clock) never depend on the day the code runs.
CALENDAR_START = dt.date(2000, 1, 3)


@lru_cache(maxsize=1)
def xnys() -> xcals.ExchangeCalendar:
    return xcals.get_calendar(EXCHANGE, start=pd.Timestamp(CALENDAR_START))


def calendar_end() -> dt.date:
    return xnys().last_session.date()


@lru_cache(maxsize=1)
def _session_index() -> pd.DatetimeIndex:
    return xnys().sessions


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days in [start, end], both inclusive."""
    if end < start:
        return []
    index = _session_index()
    lo = index.searchsorted(pd.Timestamp(start), side="left")
    hi = index.searchsorted(pd.Timestamp(end), side="right")
    return [ts.date() for ts in index[lo:hi]]


def is_session(day: dt.date) -> bool:
    index = _session_index()
    pos = index.searchsorted(pd.Timestamp(day))
    return pos < len(index) and index[pos].date() == day


def session_ordinal(day: dt.date) -> int:
    """0-based position of a trading day since CALENDAR_START; raises for non-sessions."""
    index = _session_index()
    pos = int(index.searchsorted(pd.Timestamp(day)))
    if pos >= len(index) or index[pos].date() != day:
        raise ValueError(f"{day.isoformat()} is not an {EXCHANGE} trading day")
    return pos


def session_at(ordinal: int) -> dt.date:
    """The trading day at a 0-based position since CALENDAR_START (inverse of session_ordinal)."""
    return _session_index()[ordinal].date()


def non_session_reason(day: dt.date) -> str | None:
    """None for a trading day, otherwise a sentence saying why the market is closed."""
    if day.weekday() >= 5:
        return f"{day.isoformat()} is a {day.strftime('%A')}: the NYSE is closed on weekends"
    if is_session(day):
        return None
    name = holiday_names().get(day)
    label = f" ({name})" if name else ""
    return f"{day.isoformat()} is an NYSE holiday{label}: no trading session"


@lru_cache(maxsize=1)
def holiday_names() -> dict[dt.date, str]:
    cal = xnys()
    start, end = pd.Timestamp(CALENDAR_START), cal.last_session
    named = cal.regular_holidays.holidays(start, end, return_name=True)
    names = {ts.date(): str(name) for ts, name in named.items()}
    for ts in cal.adhoc_holidays:
        if start <= ts <= end:
            names.setdefault(ts.date(), "special closure")
    return names


def holidays_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays in [start, end] on which the exchange is closed."""
    days = pd.bdate_range(start, end)
    return [d.date() for d in days if not is_session(d.date())]


def market_close_utc(day: dt.date) -> pd.Timestamp:
    """The session's close (16:00 ET, 13:00 on early-close days) as a UTC timestamp."""
    return xnys().session_close(pd.Timestamp(day))


def market_open_utc(day: dt.date) -> pd.Timestamp:
    return xnys().session_open(pd.Timestamp(day))


def trading_day_of(instant: dt.datetime) -> dt.date:
    """The New York calendar date of an instant (naive means UTC)."""
    ts = pd.Timestamp(instant)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert(MARKET_TIMEZONE).date()
