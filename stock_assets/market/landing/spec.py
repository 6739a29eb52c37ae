"""The specification of one landing record: what a quote is, field by field.

Every rule of the landing contract about a single record lives here, and so does every
reason a record is rejected. The fast tiers (`columns`, `fast`, `arrow`) only recognise
records that are clearly valid by these rules and leave every other record to
RecordChecker, so a fast tier accepts a record only when this module accepts it, to the
same row (the equivalence tests compare them on generated and hostile input).

Numbers are JSON numbers or plain decimal text ("187.5", "1e3"). Thousands separators
("1,234") are rejected, not stripped: the same text means 1.234 in a European export.
Blank text counts as missing, because CSV cannot tell an empty field from an absent one.

Record numbers (``record_no``, 1-based) point at the record in the object:
JSON Lines - the physical line number (blank lines count, so ``sed -n Np`` finds it);
JSON array - the element index + 1 (a lone JSON object is record 1);
CSV - the data row number after the header (blank rows count; a row whose quoted field
spans lines is still one row, so this is not always the line number).

Epoch timestamps: a number (or numeric text) with ``abs(value) >= 1e11`` is milliseconds,
anything smaller is seconds. 1e11 seconds is the year 5138 and 1e11 milliseconds is
1973-03-03; both lie outside the plausible window (1990 to now + tolerance), so no valid
quote can be read in the wrong unit. Microseconds (~1.7e15) read as milliseconds land in
the far future and are rejected rather than misfiled.

Duplicates within one object are kept as separate rows: deduplication on (symbol, ts)
happens downstream, where records from every object meet.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from stock_assets.market.sources.base import TICK_FIELDS
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol

# A record longer than this is rejected unread: no real quote is near it, and parsing it
# would cost memory and time out of proportion to the rest of the object.
MAX_RECORD_CHARS = 1_000_000
RAW_LIMIT = 500  # characters of an offending record kept in its reject
EARLIEST_TS = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)  # older quotes are implausible here
INT64_MAX = 2**63 - 1

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MILLIS_FROM = Decimal("1e11")
# Plain decimal numbers only: float()/Decimal() would also take "1_000", " nan" or "0x1p3".
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_NANOS = re.compile(r"(\.\d{6})\d+")  # ISO fractions finer than datetime's microseconds


@dataclass(frozen=True)
class RecordReject:
    """One record that cannot become a quote; record_no follows the module convention."""

    record_no: int
    reason: str  # names the field and the value
    raw: str  # the record's text, cut to RAW_LIMIT characters


class Problem(ValueError):
    """One field of one record is unusable; the message is the reason shown to people."""


@dataclass(frozen=True)
class TooLong:
    length: int


@dataclass(frozen=True)
class Unreadable:
    reason: str


@dataclass(frozen=True)
class JsonLine:
    line: str


def json_number(text: str) -> Decimal | float:
    """JSON numbers as exact Decimals (epoch fractions, floats round-trip); float on overflow."""
    try:
        return Decimal(text)
    except InvalidOperation:  # exponent beyond Decimal's range: inf, or 0.0 when tiny
        return float(text)


DECODER = json.JSONDecoder(parse_float=json_number, parse_int=json_number)


# -- field rules --------------------------------------------------------------------------


class RecordChecker:
    """Turns one parsed record into a typed row, or raises Problem with every reason."""

    def __init__(self, latest: dt.datetime, default_source: str) -> None:
        self.latest = latest  # now + tolerance: anything later is "in the future"
        self.default_source = default_source

    def check(self, record: object) -> tuple[object, ...]:
        fields = self._fields(record)
        reasons: list[str] = []
        values: dict[str, object] = {}
        for name, rule in (
            ("symbol", self._symbol),
            ("ts", self._ts),
            ("price", self._price),
            ("volume", self._volume),
            ("change", self._change),
            ("change_pct", self._change_pct),
            ("name", self._name),
            ("source", self._source),
        ):
            try:
                values[name] = rule(fields)
            except Problem as problem:
                reasons.append(str(problem))
        if reasons:
            raise Problem("; ".join(reasons))
        return tuple(values[name] for name in TICK_FIELDS)

    @staticmethod
    def _fields(record: object) -> Mapping[str, object]:
        if isinstance(record, JsonLine):
            try:
                record = DECODER.decode(record.line)
            except json.JSONDecodeError as exc:
                raise Problem(f"line is not valid JSON: {exc}") from exc
            except RecursionError as exc:
                raise Problem("line is not usable JSON: nested too deeply") from exc
        if isinstance(record, TooLong):
            raise Problem(
                f"record is {record.length:,} characters long; the limit is {MAX_RECORD_CHARS:,}"
            )
        if isinstance(record, Unreadable):
            raise Problem(record.reason)
        if not isinstance(record, dict):
            raise Problem(f"record is {json_type(record)}, expected a JSON object")
        return record

    def _symbol(self, fields: Mapping[str, object]) -> str:
        value = _required(fields, "symbol")
        try:
            return normalize_symbol(value)
        except InvalidSymbolError as exc:
            if not isinstance(value, str):
                raise Problem(f"symbol must be text, got {show(value)}") from exc
            raise Problem(str(exc)) from exc

    def _ts(self, fields: Mapping[str, object]) -> int:
        given = [name for name in ("ts", "timestamp") if not _missing(fields.get(name))]
        if not given:
            raise Problem("ts is missing (neither ts nor timestamp is given)")
        instants = [self._instant(name, fields[name]) for name in given]
        if len(set(instants)) > 1:
            raise Problem(
                f"ts {show(fields['ts'])} and timestamp {show(fields['timestamp'])} disagree"
            )
        return instants[0]

    def _instant(self, name: str, value: object) -> int:
        """Microseconds since the epoch, UTC, inside the plausible window."""
        if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
            return self._iso_instant(name, value)
        if not isinstance(value, (str, Decimal, float)):
            raise Problem(f"{name} must be ISO-8601 text or epoch seconds, got {show(value)}")
        number = _decimal(name, value)
        # Compare before scaling (no abs() either): Decimal arithmetic overflows on 1e999999.
        millis = number >= MILLIS_FROM or number <= -MILLIS_FROM
        unit, scale = ("milliseconds", 1_000) if millis else ("seconds", 1_000_000)
        shown = f"{name} {show(value)} (read as epoch {unit})"
        if number < Decimal(utc_micros(EARLIEST_TS)) / scale:
            raise Problem(f"{shown} is before {EARLIEST_TS:%Y-%m-%d}: implausible for a quote")
        if number > Decimal(utc_micros(self.latest)) / scale:
            raise Problem(f"{shown} is in the future (limit {self.latest.isoformat()})")
        return int((number * scale).to_integral_value(rounding=ROUND_FLOOR))

    def _iso_instant(self, name: str, value: str) -> int:
        text = _NANOS.sub(r"\1", value.strip(), count=1)  # keep microseconds, drop finer
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise Problem(
                f"{name} is not an ISO-8601 timestamp or epoch number: {show(value)}"
            ) from exc
        if parsed.tzinfo is None:
            raise Problem(f"{name} {show(value)} has no UTC offset (add Z or +HH:MM)")
        try:
            instant = parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise Problem(f"{name} {show(value)} is out of range") from exc
        if instant < EARLIEST_TS:
            raise Problem(
                f"{name} {show(value)} is before {EARLIEST_TS:%Y-%m-%d}: implausible for a quote"
            )
        if instant > self.latest:
            raise Problem(
                f"{name} {show(value)} is in the future (limit {self.latest.isoformat()})"
            )
        return utc_micros(instant)

    @staticmethod
    def _price(fields: Mapping[str, object]) -> float:
        value = _required(fields, "price")
        price = _finite_float("price", value)
        if price <= 0:
            raise Problem(f"price must be positive, got {show(value)}")
        return price

    @staticmethod
    def _volume(fields: Mapping[str, object]) -> int | None:
        value = fields.get("volume")
        if _missing(value):
            return None
        number = _decimal("volume", value)
        if number < 0:
            raise Problem(f"volume must not be negative, got {show(value)}")
        if number > INT64_MAX:
            raise Problem(f"volume is out of range (above {INT64_MAX}), got {show(value)}")
        if number != number.to_integral_value():
            raise Problem(f"volume must be a whole number, got {show(value)}")
        return int(number)

    @staticmethod
    def _change(fields: Mapping[str, object]) -> float | None:
        value = fields.get("change")
        return None if _missing(value) else _finite_float("change", value)

    @staticmethod
    def _change_pct(fields: Mapping[str, object]) -> float | None:
        given = {
            name: _finite_float(name, fields[name])
            for name in ("change_pct", "changesPercentage")
            if not _missing(fields.get(name))
        }
        if len(set(given.values())) > 1:
            raise Problem(
                f"change_pct {show(fields['change_pct'])} and changesPercentage "
                f"{show(fields['changesPercentage'])} disagree"
            )
        return next(iter(given.values()), None)

    @staticmethod
    def _name(fields: Mapping[str, object]) -> str | None:
        return _optional_text(fields, "name")

    def _source(self, fields: Mapping[str, object]) -> str:
        return _optional_text(fields, "source") or self.default_source


def _missing(value: object) -> bool:
    """None and blank text are missing: CSV cannot tell "" from absent, so JSON agrees."""
    return value is None or (isinstance(value, str) and not value.strip())


def _required(fields: Mapping[str, object], name: str) -> object:
    value = fields.get(name)
    if _missing(value):
        raise Problem(f"{name} is missing")
    return value


def _optional_text(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    if _missing(value):
        return None
    if not isinstance(value, str):
        raise Problem(f"{name} must be text, got {show(value)}")
    return value


def _decimal(name: str, value: object) -> Decimal:
    """A finite number from a JSON number or plain decimal text, else a reason."""
    if isinstance(value, float):  # NaN/Infinity literals, or a JSON exponent out of range
        if math.isnan(value):
            raise Problem(f"{name} is NaN")
        if math.isinf(value):
            raise Problem(f"{name} is infinite, got {show(value)}")
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise Problem(f"{name} must be a number, got {show(value)}")
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return _decimal(name, json_number(text))
    word = text.lower().lstrip("+-")
    if word == "nan":
        raise Problem(f"{name} is NaN")
    if word in ("inf", "infinity"):
        raise Problem(f"{name} is infinite, got {show(value)}")
    if _GROUPED.fullmatch(text):
        # "1,234" is 1234 in New York and 1.234 in Frankfurt: refuse to guess a 1000x factor.
        raise Problem(f"{name} {show(value)} has a thousands separator; write plain digits")
    raise Problem(f"{name} is not a number: {show(value)}")


def _finite_float(name: str, value: object) -> float:
    number = float(_decimal(name, value))  # correctly rounded, so text round-trips exactly
    if math.isinf(number):
        raise Problem(f"{name} is too large for a float, got {show(value)}")
    return number


def utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def utc_micros(instant: dt.datetime) -> int:
    return (instant - _EPOCH) // dt.timedelta(microseconds=1)


def json_type(value: object) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (Decimal, float)):
        return "a number"
    return kinds.get(type(value), type(value).__name__)


def show(value: object) -> str:
    """A value as a person reads it in a reason (JSON spelling, cut when long)."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = json.dumps(value)  # NaN, Infinity, -Infinity
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        text = json_type(value)
    return cut(text, 80)


def cut(text: str, limit: int = RAW_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
