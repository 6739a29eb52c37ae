"""One interface for every market-data source: query -> extract -> transform.

A source turns a request into a ``PriceQuery`` (validated symbols and dates), extracts
the raw records exactly as the provider sent them (kept verbatim in bronze), and parses a
single raw record into the standard bar fields. Parsing is a static function of the
payload alone, so silver can be rebuilt from bronze at any time without the network.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import pandas as pd

from stock_assets.market import calendar
from stock_assets.market.actions import empty_actions
from stock_assets.market.symbols import normalize_symbols

# Fields every parser returns for a daily bar; values may still be text or None
# (cleaning types and validates them, so every source gets the same rules).
BAR_FIELDS = ("symbol", "trade_date", "open", "high", "low", "close", "adj_close", "volume")
# Fields of an intraday quote (the landing-zone contract, docs/ARCHITECTURE.md).
TICK_FIELDS = ("symbol", "ts", "price", "volume", "change", "change_pct", "name", "source")


class SourceError(RuntimeError):
    """The provider failed for the whole request (auth, throttling after retries, outage)."""


class RecordError(ValueError):
    """One record cannot be used; the message is the reason shown to people."""


@dataclass(frozen=True)
class PriceQuery:
    symbols: tuple[str, ...]
    start: dt.date
    end: dt.date  # inclusive


class RawRecord(NamedTuple):
    """One provider record, untouched. ``trade_date`` is the day it claims, if readable.

    A named tuple rather than a dataclass: a ten-year pull makes millions of them."""

    symbol: str
    trade_date: str | None
    payload: str


# JSON tokens of a PayloadLayout member, by kind. Text has no escapes, control characters
# or commas (so commas cut members apart); a float has a fraction or an exponent and a
# magnitude below 1e130 and, unless zero, above 1e-140 (so never inf or rounded to 0); a
# count fits in an int64.
_LAYOUT_TOKENS = {
    "text": r'"[^"\\\x00-\x1f,]*"',
    "float": r"-?(?:0|[1-9][0-9]{0,29})"
    + r"(?:\.[0-9]{1,40}(?:[eE][-+]?[0-9]{1,2})?|[eE][-+]?[0-9]{1,2})",
    "count": r"-?(?:0|[1-9][0-9]{0,17})",
}
_LAYOUT_KEY = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class PayloadLayout:
    """The shape of a plain record as a source writes it, so that many can be read at once.

    A payload in the layout is one compact JSON object (no whitespace anywhere) holding
    exactly `members` in order, each a (JSON key, BAR_FIELDS name, kind) whose value is a
    token of that kind (_LAYOUT_TOKENS). A source declaring a layout promises that its
    parse_record returns, for such a payload, each member's JSON value under its field
    name, as json.loads reads it: str for text, float for a float, int for a count.
    """

    members: tuple[tuple[str, str, str], ...]

    def __post_init__(self) -> None:
        if sorted(name for _, name, _ in self.members) != sorted(BAR_FIELDS):
            raise ValueError("a payload layout must hold every bar field once")
        if not all(_LAYOUT_KEY.fullmatch(key) for key, _, _ in self.members):
            raise ValueError("payload layout keys must be plain words")

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The text before each member's value: '{"key":' for the first, ',"key":' after."""
        return tuple(f'{"," if i else "{"}"{key}":' for i, (key, _, _) in enumerate(self.members))

    @property
    def pattern(self) -> str:
        """A regular expression (RE2 and Python alike) whose full matches are exactly the
        payloads in the layout."""
        members = (
            re.escape(prefix) + f"(?:{_LAYOUT_TOKENS[kind]})"
            for prefix, (_, _, kind) in zip(self.prefixes, self.members, strict=True)
        )
        return "".join(members) + r"\}"


@dataclass
class Extraction:
    """What one pull returned: records, the verbatim response body, per-symbol failures."""

    source: str
    records: list[RawRecord] = field(default_factory=list)
    raw_body: bytes = b""
    raw_suffix: str = ".jsonl"
    symbol_errors: dict[str, str] = field(default_factory=dict)


INTRADAY_BAR_COLUMNS = ("symbol", "bar_start", "open", "high", "low", "close", "volume")


@dataclass
class IntradayPull:
    """A vendor's minute bars for one session: bar_start is the bar's first instant
    (tz-aware), and each symbol the pull failed on has its reason."""

    source: str
    bars: pd.DataFrame
    symbol_errors: dict[str, str] = field(default_factory=dict)


def empty_intraday_bars() -> pd.DataFrame:
    return pd.DataFrame({name: [] for name in INTRADAY_BAR_COLUMNS})


class MarketDataSource(ABC):
    """Base class for sources; subclasses implement ``extract_data`` and ``parse_record``."""

    name: ClassVar[str]
    # Set by a source whose plain records share one PayloadLayout: cleaning then reads
    # payloads in it column-wise and leaves only the others to parse_record.
    payload_layout: ClassVar[PayloadLayout | None] = None

    def transform_query(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> PriceQuery:
        if end < start:
            raise ValueError(f"query end {end} is before start {start}")
        reason = calendar.unclosed_sessions_reason(
            calendar.sessions_between(start, end), calendar.utc_now()
        )
        if reason:  # no source makes up a daily bar for a session still trading
            raise SourceError(reason)
        return PriceQuery(symbols=normalize_symbols(symbols), start=start, end=end)

    @abstractmethod
    def extract_data(self, query: PriceQuery) -> Extraction:
        """Fetch daily bars for the query, returning records exactly as received."""

    @staticmethod
    @abstractmethod
    def parse_record(payload: str) -> dict[str, object]:
        """Map one raw record to BAR_FIELDS, raising RecordError with a reason if unusable."""

    def fetch(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> Extraction:
        return self.extract_data(self.transform_query(symbols, start, end))

    def latest_quotes(self, symbols: Sequence[str], as_of: dt.datetime) -> list[dict[str, object]]:
        """Latest intraday quote per symbol as TICK_FIELDS dicts (for the landing producer)."""
        raise SourceError(f"source {self.name!r} does not provide intraday quotes")

    def intraday_bars(
        self, symbols: Sequence[str], day: dt.date, interval_minutes: int = 1
    ) -> IntradayPull:
        """The vendor's regular-and-extended-hours bars of one session (1 or 5 minutes)."""
        raise SourceError(f"source {self.name!r} does not provide intraday bars")

    def corporate_actions(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Splits and dividends of `symbols` with ex-dates in [start, end], as
        market.actions.ACTION_COLUMNS rows (none for a source that reports none)."""
        return empty_actions()


def load_json_object(payload: str) -> Mapping[str, object]:
    """Parse a record payload that must be a JSON object, with a reason on failure."""
    try:
        value = json.loads(payload)
    except (json.JSONDecodeError, TypeError) as exc:
        raise RecordError(f"payload is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise RecordError(f"payload is a JSON {type(value).__name__}, expected an object")
    return value


def dumps_record(obj: Mapping[str, object]) -> str:
    """Serialize a record the same way every time (stable bronze payloads)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=True, default=str)


RecordParser = Callable[[str], dict[str, object]]
