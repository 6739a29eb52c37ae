"""The NYSE (XNYS) trading calendar: which days are sessions, and why the others are not.

exchange_calendars is the source of truth, but importing it and building XNYS takes about a
second, which Dagster would pay in every run process it starts. What this module needs from
it (sessions, opens and closes, holiday names) is therefore kept in the file cache, keyed by
what determines it: the exchange_calendars version, CALENDAR_START, the calendar's end and
this module's code. A process that finds a valid entry never imports exchange_calendars.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from stock_assets.market import filecache

EXCHANGE = "XNYS"
MARKET_TIMEZONE = "America/New_York"
# The calendar is built over a fixed span so that session indexes (which the simulator
# uses as its clock) never depend on the day the code runs.
CALENDAR_START = dt.date(2000, 1, 3)


@dataclass(frozen=True)
class _Schedule:
    """What the rest of the package needs from an exchange calendar, as plain arrays."""

    sessions: np.ndarray  # datetime64[D], strictly ascending
    opens: np.ndarray  # datetime64[ns] in UTC, one per session
    closes: np.ndarray  # datetime64[ns] in UTC (early closes included)
    holidays: dict[dt.date, str]  # holiday name by date

    def validate(self, end: dt.date) -> None:
        """Raise ValueError unless this is a well-formed calendar from CALENDAR_START to `end`."""
        n = len(self.sessions)
        if not (n and len(self.opens) == n and len(self.closes) == n):
            raise ValueError("sessions, opens and closes differ in length")
        first, last = np.datetime64(CALENDAR_START, "D"), np.datetime64(end, "D")
        if self.sessions[0] < first or self.sessions[-1] > last:
            raise ValueError("sessions outside the calendar's span")
        if not (np.all(np.diff(self.sessions) > 0) and np.all(self.opens < self.closes)):
            raise ValueError("sessions out of order or a session closing before it opens")


def _calendar_end() -> dt.date:
    """exchange_calendars' default end (a year after today): the calendar is built to it."""
    return (pd.Timestamp.now().floor("D") + pd.DateOffset(years=1)).date()


def _build(end: dt.date) -> _Schedule:
    import exchange_calendars as xcals  # the slow import the cache exists to avoid

    cal = xcals.get_calendar(EXCHANGE, start=pd.Timestamp(CALENDAR_START), end=pd.Timestamp(end))
    start, last = pd.Timestamp(CALENDAR_START), cal.last_session
    named = cal.regular_holidays.holidays(start, last, return_name=True)
    names = {ts.date(): str(name) for ts, name in named.items()}
    for ts in cal.adhoc_holidays:
        if start <= ts <= last:
            names.setdefault(ts.date(), "special closure")
    return _Schedule(
        sessions=cal.sessions.to_numpy(dtype="datetime64[D]"),
        opens=cal.opens.to_numpy(dtype="datetime64[ns]"),
        closes=cal.closes.to_numpy(dtype="datetime64[ns]"),
        holidays=names,
    )


def _encode(schedule: _Schedule) -> bytes:
    return json.dumps(
        {
            "sessions": schedule.sessions.astype("int64").tolist(),
            "opens": schedule.opens.astype("int64").tolist(),
            "closes": schedule.closes.astype("int64").tolist(),
            "holidays": {day.isoformat(): name for day, name in schedule.holidays.items()},
        },
        separators=(",", ":"),
    ).encode()


def _decode(payload: bytes, end: dt.date) -> _Schedule:
    data = json.loads(payload)
    schedule = _Schedule(
        sessions=np.array(data["sessions"], dtype="int64").view("datetime64[D]"),
        opens=np.array(data["opens"], dtype="int64").view("datetime64[ns]"),
        closes=np.array(data["closes"], dtype="int64").view("datetime64[ns]"),
        holidays={dt.date.fromisoformat(day): str(n) for day, n in data["holidays"].items()},
    )
    schedule.validate(end)
    return schedule


@lru_cache(maxsize=1)
def _schedule() -> _Schedule:
    end = _calendar_end()
    key = {
        "exchange": EXCHANGE,
        "exchange_calendars": importlib.metadata.version("exchange_calendars"),
        "start": CALENDAR_START.isoformat(),
        "end": end.isoformat(),
        "code": filecache.source_digest(__file__),
    }
    return filecache.cached(
        f"calendar-{EXCHANGE}.json",
        key,
        build=lambda: _build(end),
        encode=_encode,
        decode=lambda payload: _decode(payload, end),
    )


def calendar_end() -> dt.date:
    return _schedule().sessions[-1].item()


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days in [start, end], both inclusive."""
    if end < start:
        return []
    sessions = _schedule().sessions
    lo = sessions.searchsorted(np.datetime64(start, "D"), side="left")
    hi = sessions.searchsorted(np.datetime64(end, "D"), side="right")
    return sessions[lo:hi].tolist()


def _position(day: dt.date) -> int | None:
    sessions = _schedule().sessions
    target = np.datetime64(day, "D")
    pos = int(sessions.searchsorted(target))
    return pos if pos < len(sessions) and sessions[pos] == target else None


def is_session(day: dt.date) -> bool:
    return _position(day) is not None


def session_ordinal(day: dt.date) -> int:
    """0-based position of a trading day since CALENDAR_START; raises for non-sessions."""
    pos = _position(day)
    if pos is None:
        raise ValueError(f"{day.isoformat()} is not an {EXCHANGE} trading day")
    return pos


def session_at(ordinal: int) -> dt.date:
    """The trading day at a 0-based position since CALENDAR_START (inverse of session_ordinal)."""
    return _schedule().sessions[ordinal].item()


def non_session_reason(day: dt.date) -> str | None:
    """None for a trading day, otherwise a sentence saying why the market is closed."""
    if day.weekday() >= 5:
        return f"{day.isoformat()} is a {day.strftime('%A')}: the NYSE is closed on weekends"
    if is_session(day):
        return None
    name = holiday_names().get(day)
    label = f" ({name})" if name else ""
    return f"{day.isoformat()} is an NYSE holiday{label}: no trading session"


def holiday_names() -> dict[dt.date, str]:
    return _schedule().holidays


def holidays_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays in [start, end] on which the exchange is closed."""
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    weekdays = days[np.is_busday(days)]
    return weekdays[~np.isin(weekdays, _schedule().sessions)].tolist()


def market_close_utc(day: dt.date) -> pd.Timestamp:
    """The session's close (16:00 ET, 13:00 on early-close days) as a UTC timestamp."""
    return pd.Timestamp(_schedule().closes[session_ordinal(day)]).tz_localize("UTC")


def market_open_utc(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(_schedule().opens[session_ordinal(day)]).tz_localize("UTC")


def trading_day_of(instant: dt.datetime) -> dt.date:
    """The New York calendar date of an instant (naive means UTC)."""
    ts = pd.Timestamp(instant)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert(MARKET_TIMEZONE).date()


def previous_session(day: dt.date) -> dt.date:
    """The session before a session."""
    return session_at(session_ordinal(day) - 1)


def utc_now() -> dt.datetime:
    """The current instant (one seam, so tests can stand at a chosen moment)."""
    return dt.datetime.now(dt.UTC)


def session_has_closed(day: dt.date, now: dt.datetime) -> bool:
    return pd.Timestamp(now) >= market_close_utc(day)


def last_closed_session(now: dt.datetime) -> dt.date:
    """The newest session whose close has passed (today after 16:00 New York)."""
    today = trading_day_of(pd.Timestamp(now))
    sessions = sessions_between(today - dt.timedelta(days=10), today)
    if sessions[-1] == today and not session_has_closed(today, now):
        return sessions[-2]
    return sessions[-1]


def unclosed_sessions_reason(days: list[dt.date], now: dt.datetime) -> str | None:
    """Why a daily pull of `days` must wait, or None when every session has closed."""
    waiting = [d for d in days if not session_has_closed(d, now)]
    if not waiting:
        return None
    closes = ", ".join(
        f"{d} closes {market_close_utc(d).tz_convert(MARKET_TIMEZONE):%H:%M} New York"
        for d in waiting[:3]
    )
    return (
        f"{len(waiting)} session(s) have not closed yet ({closes}): a daily bar exists only "
        "after the close, so the daily batch pulls closed sessions only (its schedule runs "
        "at 18:30 New York). Pick earlier partitions or run it after the close."
    )
