"""Validation of what a user types or puts in the URL, before any of it reaches a query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from stock_assets.market import calendar
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol


class InputError(ValueError):
    """A symbol or date the page cannot show; the message is written for the user."""


def parse_symbol(text: str | None, known: Collection[str]) -> str:
    """The canonical symbol, if it is valid and the warehouse has it."""
    if not text or not text.strip():
        raise InputError("Pick a symbol.")
    try:
        symbol = normalize_symbol(text)
    except InvalidSymbolError as error:
        raise InputError(f"{text!r} is not a ticker symbol (A-Z, 0-9 and . - = ^).") from error
    if symbol not in known:
        raise InputError(f"Unknown symbol {symbol}: the warehouse has no prices for it.")
    return symbol


def parse_day(text: str | dt.date | None, first: dt.date, last: dt.date) -> dt.date:
    """A trading day within [first, last] (the days the warehouse holds)."""
    day = _date(text, "day")
    if not first <= day <= last:
        raise InputError(f"No data for {day}: the warehouse holds {first} to {last}.")
    reason = calendar.non_session_reason(day)
    if reason:
        raise InputError(f"{reason}.")
    return day


def parse_range(
    start: str | dt.date | None, end: str | dt.date | None, first: dt.date, last: dt.date
) -> tuple[dt.date, dt.date]:
    """A date range clipped to the warehouse's days; start must not be after end."""
    low, high = (_date(value, name) for value, name in ((start, "start"), (end, "end")))
    if low > high:
        raise InputError(f"The start {low} is after the end {high}.")
    low, high = max(low, first), min(high, last)
    if low > high:
        raise InputError(
            f"No data between {start} and {end}: the warehouse holds {first} to {last}."
        )
    return low, high


def _date(value: str | dt.date | None, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError as error:
        raise InputError(f"The {name} {value!r} is not a date; use YYYY-MM-DD.") from error
