"""One interface for every market-data source: query -> extract -> transform.

A source turns a request into a ``PriceQuery`` (validated symbols and dates), extracts
the raw records exactly as the provider sent them (kept verbatim in bronze), and parses a
single raw record into the standard bar fields. Parsing is a static function of the
payload alone, so silver can be rebuilt from bronze at any time without the network.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from stock_assets.market.symbols import normalize_symbols

# Fields every parser returns for a daily bar; values may still be text or None
# (cleaning types and validates them, so every source gets the same rules).
BAR_FIELDS = ("symbol", "trade_date", "open", "high", "low", "close", "adj_close", "volume")
# Fields of an intraday quote (the landing-zone contract of DESIGN.md).
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


@dataclass(frozen=True)
class RawRecord:
    """One provider record, untouched. ``trade_date`` is the day it claims, if readable."""

    symbol: str
    trade_date: str | None
    payload: str


@dataclass
class Extraction:
    """What one pull returned: records, the verbatim response body, per-symbol failures."""

    source: str
    records: list[RawRecord] = field(default_factory=list)
    raw_body: bytes = b""
    raw_suffix: str = ".jsonl"
    symbol_errors: dict[str, str] = field(default_factory=dict)


class MarketDataSource(ABC):
    """Base class for sources; subclasses implement ``extract_data`` and ``parse_record``."""

    name: ClassVar[str]

    def transform_query(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> PriceQuery:
        if end < start:
            raise ValueError(f"query end {end} is before start {start}")
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
