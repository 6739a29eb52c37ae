"""The landing-zone contract: parse micro-batch quote files, and write them.

Objects under ``landing/quotes/`` are JSON Lines, a JSON array or CSV with a header. Each
record is validated on its own, so one bad record is rejected with a reason and never takes
a good one with it; only an object that cannot be read at all is fatal (quarantined whole).

Format comes from the extension (.jsonl/.ndjson, .json, .csv); other objects are sniffed
(text opening with ``[`` or ``{`` is JSON, anything else CSV). JSON text whose first line
is a complete JSON value followed by more lines is JSON Lines, so a mislabelled .json still
loses only its broken lines; a JSON array is one document, so a truncated array is fatal.
Text is UTF-8 (BOM optional) or UTF-16 with a BOM; nothing else is guessed.

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

import codecs
import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from stock_assets.market.arrowtext import char_positions, text_spans, to_numpy
from stock_assets.market.sources.base import TICK_FIELDS
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol

LANDING_QUOTES_PREFIX = "landing/quotes/"
STREAM_COLUMNS = (
    "symbol", "ts", "price", "volume", "change", "change_pct", "name", "source", "record_no",
)  # fmt: skip
FORMATS = ("jsonl", "json", "csv")
# A record longer than this is rejected unread: no real quote is near it, and parsing it
# would cost memory and time out of proportion to the rest of the object.
MAX_RECORD_CHARS = 1_000_000
RAW_LIMIT = 500  # characters of an offending record kept in its reject
EARLIEST_TS = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)  # older quotes are implausible here
INT64_MAX = 2**63 - 1

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MILLIS_FROM = Decimal("1e11")
# Plain decimal numbers only: float()/Decimal() would also take "1_000", " nan" or "0x1p3".
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_NANOS = re.compile(r"(\.\d{6})\d+")  # ISO fractions finer than datetime's microseconds
_JSON_WS = re.compile(r"[ \t\n\r]*")
_NON_WS = re.compile(r"\S")


@dataclass(frozen=True)
class RecordReject:
    """One record that cannot become a quote; record_no follows the module convention."""

    record_no: int
    reason: str  # names the field and the value
    raw: str  # the record's text, cut to RAW_LIMIT characters


@dataclass(frozen=True)
class LandingParse:
    """What one landing object holds: typed quotes, rejected records, or a fatal reason."""

    key: str
    quotes: pd.DataFrame  # STREAM_COLUMNS; ts naive UTC datetime64[us]
    rejects: tuple[RecordReject, ...]
    fatal: str | None  # set when the object cannot be parsed at all; quotes is then empty


class _Fatal(Exception):
    """The whole object is unreadable; the message says why."""


class _Problem(ValueError):
    """One field of one record is unusable; the message is the reason shown to people."""


def parse_landing_object(
    key: str,
    body: bytes,
    *,
    now: dt.datetime,
    future_tolerance: dt.timedelta = dt.timedelta(minutes=5),
    default_source: str = "landing",
    _fast: bool = True,
    _arrow: bool = True,
) -> LandingParse:
    """Parse one landing object into quotes and rejects (naive `now` is taken as UTC).

    Records in the producers' usual shape are checked column-wise (see _fast_split), the rest
    one by one; `_fast=False` checks every record one by one and `_arrow=False` skips the
    Arrow tier (_arrow_json_lines), so tests and benchmarks can compare the tiers.
    """
    checker = _RecordChecker(_utc(now) + future_tolerance, default_source)
    try:
        text = _decode(body)
        fmt = _format_of(key, text)
        split = _fast_split(fmt, text, body, checker, arrow=_arrow) if _fast else None
        fast, records = split or (None, _records(fmt, text))
        rows, rejects = [], []
        for record_no, raw, record in records:
            try:
                rows.append((*checker.check(record), record_no))
            except _Problem as problem:
                rejects.append(RecordReject(record_no, str(problem), _cut(raw)))
    except _Fatal as fatal:
        return LandingParse(key, _quotes_frame([]), (), str(fatal))
    return LandingParse(key, _merged(fast, _quotes_frame(rows)), tuple(rejects), None)


def reject_message(key: str, reject: RecordReject) -> str:
    """One log line that lets a person find the record: object, record number, reason."""
    return f"{key} record {reject.record_no}: {reject.reason}"


def quarantine_report(parse: LandingParse, *, detected_at: dt.datetime) -> bytes:
    """The JSON report written beside a quarantined object, so it can be fixed and replayed."""
    reason = parse.fatal or f"{len(parse.rejects)} record(s) rejected"
    report = {
        "key": parse.key,
        "reason": reason,
        "accepted": len(parse.quotes),
        "rejects": [
            {"record_no": r.record_no, "reason": r.reason, "raw": r.raw} for r in parse.rejects
        ],
        "detected_at": _utc(detected_at).isoformat(),
    }
    return (json.dumps(report, indent=2) + "\n").encode()


def encode_micro_batch(quotes: Sequence[Mapping[str, object]], fmt: str = "jsonl") -> bytes:
    """Serialize quotes (TICK_FIELDS) for the landing zone, exactly as the parser reads them.

    Datetimes must carry an offset; NaN means missing (pandas' convention) and is written
    as null/empty, while infinity raises here, at the producer, where the bug is. An empty
    batch raises too: an empty JSON Lines object looks like a failed upload and is fatal.
    """
    if not quotes:
        raise ValueError("no quotes to write: an empty landing object would be quarantined")
    records = [{name: _plain(name, quote.get(name)) for name in TICK_FIELDS} for quote in quotes]
    if fmt == "jsonl":
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    elif fmt == "json":
        text = json.dumps(records, separators=(",", ":")) + "\n"
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)  # RFC 4180: CRLF rows, fields with , " CR LF quoted
        writer.writerow(TICK_FIELDS)
        writer.writerows(_csv_row(r) for r in records)
        text = out.getvalue()
    else:
        raise ValueError(f"unknown micro-batch format {fmt!r}: expected one of {FORMATS}")
    return text.encode("utf-8")


def micro_batch_key(produced_at: dt.datetime, sequence: int, fmt: str) -> str:
    """Landing key whose lexical order is time order (naive `produced_at` is taken as UTC)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown micro-batch format {fmt!r}: expected one of {FORMATS}")
    if not 0 <= sequence <= 999_999:
        raise ValueError(f"sequence must be within 0..999999 to keep keys sortable: {sequence}")
    at = _utc(produced_at)
    return f"{LANDING_QUOTES_PREFIX}{at:%Y/%m/%d}/quotes-{at:%Y%m%dT%H%M%SZ}-{sequence:06d}.{fmt}"


# -- decoding and framing -----------------------------------------------------------------


def _decode(body: bytes) -> str:
    """Text of the object: UTF-8 (BOM optional) or UTF-16 with a BOM, nothing guessed."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _Fatal(
            f"object is not valid {encoding.upper().removesuffix('-SIG')} text "
            f"({exc.reason} at byte {exc.start}); accepted: UTF-8 with or without BOM, "
            "UTF-16 with BOM"
        ) from exc
    if not _NON_WS.search(text):  # a search, not strip(): no copy of a large object
        raise _Fatal("empty object")
    # JSON forbids raw NULs and no sane CSV has them: they mean binary data or UTF-16
    # without a BOM, and every "record" read from such text would be garbage.
    if "\x00" in text:
        raise _Fatal("object contains NUL characters: binary data or UTF-16 without a BOM?")
    return text


def _format_of(key: str, text: str) -> str:
    """Format by extension; unknown extensions are sniffed (JSON opens with [ or {)."""
    name = key.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    known = _EXTENSIONS.get(name[dot:]) if dot >= 0 else None
    if known:
        return known
    first = _NON_WS.search(text)
    return "json" if first and first.group() in ("[", "{") else "csv"


def _records(fmt: str, text: str) -> Iterator[tuple[int, str, object]]:
    """(record_no, raw text, record) for each record; raises _Fatal before the first one."""
    if fmt == "jsonl":
        return _json_lines(text)
    if fmt == "csv":
        return _csv_records(text)
    start = _JSON_WS.match(text).end()
    if text[start] == "[":
        return iter(_json_array(text, start))
    if _is_json_lines(text):
        return _json_lines(text)
    return iter([(1, text, _json_document(text))])


def _is_json_lines(text: str) -> bool:
    """A .json file is JSON Lines when its first line is a whole JSON value and more follow."""
    start = _JSON_WS.match(text).end()
    end = text.find("\n", start)
    if end < 0 or end - start > MAX_RECORD_CHARS or not _NON_WS.search(text, end):
        return False
    try:
        _DECODER.decode(text[start:end])
    except (ValueError, RecursionError):
        return False
    return True


def _json_document(text: str) -> object:
    """The single JSON object of a .json file; anything else is not a batch of records."""
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _Fatal(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _Fatal("not usable JSON: nested too deeply") from exc
    if not isinstance(value, dict):
        raise _Fatal(
            f"JSON document is {_json_type(value)}, expected an array of records or one record"
        )
    return value


def _json_array(text: str, start: int) -> list[tuple[int, str, object]]:
    """Elements of a top-level array with their own text; any syntax error is fatal."""
    elements = []
    pos = _JSON_WS.match(text, start + 1).end()
    closed = text.startswith("]", pos)
    if closed:
        pos = _JSON_WS.match(text, pos + 1).end()
    while not closed:
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise _Fatal(f"JSON array is truncated or malformed: {exc}") from exc
        except RecursionError as exc:
            raise _Fatal("JSON array is not usable: nested too deeply") from exc
        raw = text[pos : min(end, pos + RAW_LIMIT + 1)]
        record = value if end - pos <= MAX_RECORD_CHARS else _TooLong(end - pos)
        elements.append((len(elements) + 1, raw, record))
        pos = _JSON_WS.match(text, end).end()
        separator = text[pos : pos + 1]
        if separator not in (",", "]"):
            found = f"found {separator!r}" if separator else "the text ends"
            raise _Fatal(
                f"JSON array is truncated or malformed at {_line_col(text, pos)}: "
                f"expected ',' or ']' after element {len(elements)}, {found}"
            )
        closed = separator == "]"
        pos = _JSON_WS.match(text, pos + 1).end()
    if pos < len(text):
        raise _Fatal(f"unexpected text after the JSON array at {_line_col(text, pos)}")
    return elements


def _json_lines(text: str) -> Iterator[tuple[int, str, object]]:
    """One record per non-blank line; a broken line is that record's problem only."""
    line_no, pos = 0, 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line_no += 1
        if end - pos > MAX_RECORD_CHARS:  # never sliced whole: memory stays the object's
            yield line_no, text[pos : pos + RAW_LIMIT + 1], _TooLong(end - pos)
        elif record := _json_line(line_no, text[pos:end]):
            yield record
        pos = end + 1


def _json_line(line_no: int, line: str) -> tuple[int, str, object] | None:
    """The record on one line of JSON Lines (without its newline); None when it is blank."""
    return (line_no, line.rstrip("\r"), _JsonLine(line)) if line.strip() else None


def _csv_records(text: str) -> Iterator[tuple[int, str, object]]:
    """Rows as {column: text}; the header is checked before the first row is yielded."""
    tap = _LineTap(text)
    reader = csv.reader(tap)
    try:
        header = next(row for row in reader if row)
    except csv.Error as exc:
        raise _Fatal(f"CSV header cannot be read: {exc}") from exc
    columns = [name.strip() for name in header]
    _check_header(columns, tap.drain())
    return _csv_rows(reader, tap, columns)


def _check_header(columns: list[str], raw: str) -> None:
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise _Fatal(f"CSV header repeats column(s) {', '.join(repeated)}")
    missing = [c for c in ("symbol", "price") if c not in columns]
    if "ts" not in columns and "timestamp" not in columns:
        missing.append("ts|timestamp")
    if missing:
        raise _Fatal(
            f"CSV header lacks required column(s) {', '.join(missing)} "
            f"(first row: {_cut(raw.rstrip(), 200)!r}); is the header missing?"
        )


def _csv_rows(
    reader: Iterator[list[str]], tap: _LineTap, columns: list[str]
) -> Iterator[tuple[int, str, object]]:
    row_no = 0
    while True:
        try:
            row = _next_row(reader)
        except StopIteration:
            return
        row_no += 1
        if record := _csv_record(row_no, tap.drain(), row, columns):
            yield record


def _next_row(reader: Iterator[list[str]]) -> object:
    """The reader's next row, or why it cannot be read; StopIteration at the end."""
    try:
        return next(reader)
    except csv.Error as exc:  # e.g. a field over the csv module's limit; reading goes on
        return _Unreadable(f"row is not valid CSV: {exc}")


def _csv_record(
    row_no: int, raw: str, row: object, columns: list[str]
) -> tuple[int, str, object] | None:
    """The record of one CSV row read from `raw` (its lines); None for a blank row."""
    if row == []:
        return None
    if len(raw) > MAX_RECORD_CHARS:
        row = _TooLong(len(raw))
    elif isinstance(row, list):
        if len(row) != len(columns):
            row = _Unreadable(f"row has {len(row)} fields but the header has {len(columns)}")
        else:
            row = dict(zip(columns, row, strict=True))
    return row_no, raw.rstrip("\r\n"), row


class _LineTap:
    """Feeds csv.reader line by line and remembers the lines of the current row (its raw)."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")  # splits on \n, \r\n and \r, as csv wants
        self._taken: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self._taken.append(line)
        return line

    def drain(self) -> str:
        raw = "".join(self._taken)
        self._taken.clear()
        return raw


# Records that failed before field checks; _RecordChecker turns them into reasons.
@dataclass(frozen=True)
class _TooLong:
    length: int


@dataclass(frozen=True)
class _Unreadable:
    reason: str


@dataclass(frozen=True)
class _JsonLine:
    line: str


def _json_number(text: str) -> Decimal | float:
    """JSON numbers as exact Decimals (epoch fractions, floats round-trip); float on overflow."""
    try:
        return Decimal(text)
    except InvalidOperation:  # exponent beyond Decimal's range: inf, or 0.0 when tiny
        return float(text)


_DECODER = json.JSONDecoder(parse_float=_json_number, parse_int=_json_number)


# -- field rules --------------------------------------------------------------------------


class _RecordChecker:
    """Turns one parsed record into a typed row, or raises _Problem with every reason."""

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
            except _Problem as problem:
                reasons.append(str(problem))
        if reasons:
            raise _Problem("; ".join(reasons))
        return tuple(values[name] for name in TICK_FIELDS)

    @staticmethod
    def _fields(record: object) -> Mapping[str, object]:
        if isinstance(record, _JsonLine):
            try:
                record = _DECODER.decode(record.line)
            except json.JSONDecodeError as exc:
                raise _Problem(f"line is not valid JSON: {exc}") from exc
            except RecursionError as exc:
                raise _Problem("line is not usable JSON: nested too deeply") from exc
        if isinstance(record, _TooLong):
            raise _Problem(
                f"record is {record.length:,} characters long; the limit is {MAX_RECORD_CHARS:,}"
            )
        if isinstance(record, _Unreadable):
            raise _Problem(record.reason)
        if not isinstance(record, dict):
            raise _Problem(f"record is {_json_type(record)}, expected a JSON object")
        return record

    def _symbol(self, fields: Mapping[str, object]) -> str:
        value = _required(fields, "symbol")
        try:
            return normalize_symbol(value)
        except InvalidSymbolError as exc:
            if not isinstance(value, str):
                raise _Problem(f"symbol must be text, got {_show(value)}") from exc
            raise _Problem(str(exc)) from exc

    def _ts(self, fields: Mapping[str, object]) -> int:
        given = [name for name in ("ts", "timestamp") if not _missing(fields.get(name))]
        if not given:
            raise _Problem("ts is missing (neither ts nor timestamp is given)")
        instants = [self._instant(name, fields[name]) for name in given]
        if len(set(instants)) > 1:
            raise _Problem(
                f"ts {_show(fields['ts'])} and timestamp {_show(fields['timestamp'])} disagree"
            )
        return instants[0]

    def _instant(self, name: str, value: object) -> int:
        """Microseconds since the epoch, UTC, inside the plausible window."""
        if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
            return self._iso_instant(name, value)
        if not isinstance(value, (str, Decimal, float)):
            raise _Problem(f"{name} must be ISO-8601 text or epoch seconds, got {_show(value)}")
        number = _decimal(name, value)
        # Compare before scaling (no abs() either): Decimal arithmetic overflows on 1e999999.
        millis = number >= _MILLIS_FROM or number <= -_MILLIS_FROM
        unit, scale = ("milliseconds", 1_000) if millis else ("seconds", 1_000_000)
        shown = f"{name} {_show(value)} (read as epoch {unit})"
        if number < Decimal(_micros(EARLIEST_TS)) / scale:
            raise _Problem(f"{shown} is before {EARLIEST_TS:%Y-%m-%d}: implausible for a quote")
        if number > Decimal(_micros(self.latest)) / scale:
            raise _Problem(f"{shown} is in the future (limit {self.latest.isoformat()})")
        return int((number * scale).to_integral_value(rounding=ROUND_FLOOR))

    def _iso_instant(self, name: str, value: str) -> int:
        text = _NANOS.sub(r"\1", value.strip(), count=1)  # keep microseconds, drop finer
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise _Problem(
                f"{name} is not an ISO-8601 timestamp or epoch number: {_show(value)}"
            ) from exc
        if parsed.tzinfo is None:
            raise _Problem(f"{name} {_show(value)} has no UTC offset (add Z or +HH:MM)")
        try:
            instant = parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise _Problem(f"{name} {_show(value)} is out of range") from exc
        if instant < EARLIEST_TS:
            raise _Problem(
                f"{name} {_show(value)} is before {EARLIEST_TS:%Y-%m-%d}: implausible for a quote"
            )
        if instant > self.latest:
            raise _Problem(
                f"{name} {_show(value)} is in the future (limit {self.latest.isoformat()})"
            )
        return _micros(instant)

    @staticmethod
    def _price(fields: Mapping[str, object]) -> float:
        value = _required(fields, "price")
        price = _finite_float("price", value)
        if price <= 0:
            raise _Problem(f"price must be positive, got {_show(value)}")
        return price

    @staticmethod
    def _volume(fields: Mapping[str, object]) -> int | None:
        value = fields.get("volume")
        if _missing(value):
            return None
        number = _decimal("volume", value)
        if number < 0:
            raise _Problem(f"volume must not be negative, got {_show(value)}")
        if number > INT64_MAX:
            raise _Problem(f"volume is out of range (above {INT64_MAX}), got {_show(value)}")
        if number != number.to_integral_value():
            raise _Problem(f"volume must be a whole number, got {_show(value)}")
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
            raise _Problem(
                f"change_pct {_show(fields['change_pct'])} and changesPercentage "
                f"{_show(fields['changesPercentage'])} disagree"
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
        raise _Problem(f"{name} is missing")
    return value


def _optional_text(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    if _missing(value):
        return None
    if not isinstance(value, str):
        raise _Problem(f"{name} must be text, got {_show(value)}")
    return value


def _decimal(name: str, value: object) -> Decimal:
    """A finite number from a JSON number or plain decimal text, else a reason."""
    if isinstance(value, float):  # NaN/Infinity literals, or a JSON exponent out of range
        if math.isnan(value):
            raise _Problem(f"{name} is NaN")
        if math.isinf(value):
            raise _Problem(f"{name} is infinite, got {_show(value)}")
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise _Problem(f"{name} must be a number, got {_show(value)}")
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return _decimal(name, _json_number(text))
    word = text.lower().lstrip("+-")
    if word == "nan":
        raise _Problem(f"{name} is NaN")
    if word in ("inf", "infinity"):
        raise _Problem(f"{name} is infinite, got {_show(value)}")
    if _GROUPED.fullmatch(text):
        # "1,234" is 1234 in New York and 1.234 in Frankfurt: refuse to guess a 1000x factor.
        raise _Problem(f"{name} {_show(value)} has a thousands separator; write plain digits")
    raise _Problem(f"{name} is not a number: {_show(value)}")


def _finite_float(name: str, value: object) -> float:
    number = float(_decimal(name, value))  # correctly rounded, so text round-trips exactly
    if math.isinf(number):
        raise _Problem(f"{name} is too large for a float, got {_show(value)}")
    return number


# -- vectorized fast path -----------------------------------------------------------------
#
# Checking 150,000 records one by one takes seconds, almost all of it on records in the
# producers' usual shape. Those are recognised whole, in C++, by one RE2 pattern per record
# (Arrow), cut into field tokens and checked column-wise. The patterns and column checks
# only ever accept: a record that does not match, or whose values are not clearly valid,
# goes through _RecordChecker like any other, so reasons have one source. Every accepted
# form is one the slow path reads to the very same row (tests compare both on junk).
#
# JSON Lines get one more tier in front: Arrow's JSON reader (C++, multi-threaded) reads
# the whole object with the contract's types. It applies only when every line is one
# object, Arrow reads them all without complaint and every record is clearly valid by the
# same column checks; anything else (one odd record included) leaves the object to the
# tiers below, unchanged, so the tier can only ever be faster, never different.

_WS = r"[ \t\n\r]*"  # JSON whitespace; RE2's \s would also take \f and \v
_FAST_SYMBOL = r"\^?[A-Z0-9][A-Z0-9.=\-]{0,14}"  # symbols._SYMBOL: already canonical
# ISO-8601 spellings that fromisoformat reads (after _NANOS); field ranges checked later.
_FAST_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_FAST_EPOCH = r"[1-9][0-9]{0,14}"  # whole seconds or milliseconds; no int64 overflow in us
# JSON numbers whose magnitude lies within 1e-139..1e129: never inf, never rounded to 0.
_FAST_NUMBER = r"-?(?:0|[1-9][0-9]{0,29})(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,2})?"
_FAST_COUNT = r"0|[1-9][0-9]{0,17}"  # below INT64_MAX
# JSON string content without escapes or control characters, and not blank.
_FAST_TEXT = r'[^"\\\x00-\x1f]*[!#-\[\]-~][^"\\\x00-\x1f]*'


def _json_member(key: str, value: str) -> str:
    return f'{_WS}"{key}"{_WS}:{_WS}(?:{value}){_WS}'


# A flat JSON object with exactly TICK_FIELDS in order (encode_micro_batch's shape). No
# string holds a quote, so the quotes locate every field (_json_fields).
_JSON_RECORD = (
    f"^{_WS}\\{{"
    + ",".join(
        [
            _json_member("symbol", f'"{_FAST_SYMBOL}"'),
            _json_member("ts", f'"{_FAST_ISO}"|{_FAST_EPOCH}'),
            _json_member("price", _FAST_NUMBER),
            _json_member("volume", f"{_FAST_COUNT}|null"),
            _json_member("change", f"{_FAST_NUMBER}|null"),
            _json_member("change_pct", f"{_FAST_NUMBER}|null"),
            _json_member("name", f'"{_FAST_TEXT}"|null'),
            _json_member("source", f'"{_FAST_TEXT}"|null'),
        ]
    )
    + f"\\}}{_WS}$"
)
# A CSV line that is one whole row: quoted fields close on it (csv.reader takes "" as ").
_CSV_FIELD = r'[^",\r\n]*|"(?:[^"\r\n]|"")*"'
_CSV_QUOTED_ROW = f"^(?:{_CSV_FIELD})(?:,(?:{_CSV_FIELD}))*\r?\n?$"
_WS_COLON = " \t\n\r:"
_WS_PUNCT = " \t\n\r:,}"  # what surrounds a bare token (number, null) in a record
_RECORD_QUOTES = 24  # at most, in a _JSON_RECORD match: 16 around keys, 8 around values
_ARRAY_HEAD = re.compile(rb"[ \t\n\r]*\[[ \t\n\r]*")
_ARRAY_TAIL = re.compile(rb"[ \t\n\r]*\][ \t\n\r]*")
_ISO_WIDTH = 35  # longest _FAST_ISO text
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
# What Arrow reads each field as; the ts is text (ISO-8601) or an integer (epoch), guessed
# from the first line (a wrong guess only costs the tier: Arrow refuses the other kind).
_ARROW_TYPES = {
    "symbol": pa.string(), "price": pa.float64(), "volume": pa.int64(), "change": pa.float64(),
    "change_pct": pa.float64(), "name": pa.string(), "source": pa.string(),
}  # fmt: skip
_EPOCH_FIRST = re.compile(rb'"ts"[ \t]*:[ \t]*[-0-9]')
_EPOCH_LIMIT = 10**15  # _FAST_EPOCH's bound: microseconds of larger numbers overflow int64
_NOT_BLANK = "^$|[!-~]"  # empty (missing) or holding a visible ASCII character

_FastSplit = tuple[pd.DataFrame, list[tuple[int, str, object]]]


@dataclass(frozen=True)
class _Fields:
    """Candidate records, column-wise. A row is `usable` when every field is in its fast
    form; other rows go to the checker, whatever their entries here."""

    usable: np.ndarray
    symbol: np.ndarray  # str
    dotted: np.ndarray  # the symbol holds "..", as no symbol may
    ts: pa.Array  # ISO-8601 text or epoch digits
    iso: np.ndarray  # ts is ISO-8601 text
    price: np.ndarray  # float64
    volume: np.ndarray  # int64, 0 where missing
    no_volume: np.ndarray
    change: np.ndarray  # float64, NaN where missing
    change_pct: np.ndarray
    name: np.ndarray  # str or None
    source: np.ndarray  # str or None (the default is the checker's)


def _fast_split(
    fmt: str, text: str, body: bytes, checker: _RecordChecker, *, arrow: bool
) -> _FastSplit | None:
    """Clearly valid records as a frame, and every other record in _records' form for the
    checker; None when the object's shape is not one the fast path reads. JSON Lines try
    the Arrow tier first when `arrow` holds.

    Framing rules (record numbers, blank lines, raw text) are the slow path's own.
    """
    data = _utf8(body, text)
    if fmt == "csv":
        return _fast_csv(data, checker)
    if fmt == "json":
        if text[_JSON_WS.match(text).end()] == "[":
            return _fast_json_array(data, checker)
        if not _is_json_lines(text):
            return None  # one object: nothing to gain
    return _fast_json_lines(data, checker, arrow=arrow)


def _utf8(body: bytes, text: str) -> bytes | memoryview:
    """The object's text as UTF-8 without a BOM, copied only when it was UTF-16."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return text.encode("utf-8")
    return memoryview(body)[len(codecs.BOM_UTF8) :] if body.startswith(codecs.BOM_UTF8) else body


def _fast_json_lines(
    data: bytes | memoryview, checker: _RecordChecker, *, arrow: bool
) -> _FastSplit | None:
    """JSON Lines: each line is a record on its own, so any line may go to the checker."""
    bounds = _line_bounds(data, MAX_RECORD_CHARS)
    if bounds is None:
        return None
    whole = _arrow_json_lines(data, bounds, checker) if arrow else None
    if whole is not None:
        return whole, []
    buffer = pa.py_buffer(data)
    lines = pa.LargeStringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), buffer)
    frame, fast = _fast_json(buffer, lines, 1, bounds[:-1], bounds[1:], checker)
    rest = np.flatnonzero(~fast)
    records = []
    for line_no, line in zip((rest + 1).tolist(), pc.take(lines, rest).to_pylist(), strict=True):
        if record := _json_line(line_no, line.removesuffix("\n")):
            records.append(record)
    return frame, records


def _arrow_json_lines(
    data: bytes | memoryview, bounds: np.ndarray, checker: _RecordChecker
) -> pd.DataFrame | None:
    """Every record of JSON Lines read by Arrow, when each line (bounds) is one object and
    every record is clearly valid; None otherwise.

    Arrow skips blank lines and reads two objects on one line as two rows, so lines must
    open with { and close with } (CRLF, indentation and blank lines fall back) and the row
    count must be the line count: then row i is line i + 1. Arrow refuses duplicate keys,
    lone surrogates, keys outside the contract (timestamp, changesPercentage, ...) and
    values of another JSON type, where the slow path has rules or reasons of its own.
    """
    chars = np.frombuffer(data, np.uint8)
    starts, stops = bounds[:-1], bounds[1:]
    closes = stops - 1 - (chars[stops - 1] == ord("\n"))  # the last character before \n
    if not ((chars[starts] == ord("{")).all() and (chars[closes] == ord("}")).all()):
        return None
    epoch = bool(_EPOCH_FIRST.search(bytes(data[: stops[0]])))
    types = {**_ARROW_TYPES, "ts": pa.int64() if epoch else pa.string()}
    schema = pa.schema([(name, types[name]) for name in TICK_FIELDS])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    try:
        table = pa_json.read_json(pa.BufferReader(pa.py_buffer(data)), parse_options=options)
    except pa.ArrowException:
        return None
    if table.num_rows != len(starts):
        return None
    column = {name: table.column(name).combine_chunks() for name in TICK_FIELDS}
    ts, price, volume = column["ts"], column["price"], column["volume"]
    change, change_pct = column["change"], column["change_pct"]
    if epoch:  # whole seconds or milliseconds, as _FAST_EPOCH
        ts_form = to_numpy(pc.and_(pc.greater(ts, 0), pc.less(ts, _EPOCH_LIMIT)).fill_null(False))
    else:
        ts_form = _fits(ts, f"^{_FAST_ISO}$", null=False)
    usable = (
        _fits(column["symbol"], f"^{_FAST_SYMBOL}$", null=False)
        & ts_form
        & to_numpy(pc.is_finite(price).fill_null(False))
        & to_numpy(pc.greater_equal(volume, 0).fill_null(True))
        & to_numpy(pc.is_finite(change).fill_null(True))
        & to_numpy(pc.is_finite(change_pct).fill_null(True))
        & _fits(column["name"], _NOT_BLANK, null=True)
        & _fits(column["source"], _NOT_BLANK, null=True)
    )
    if not usable.all():
        return None
    fields = _Fields(
        usable,
        *_strings(column["symbol"]),
        ts,
        np.full(len(ts), not epoch),
        _floats(price),
        *_counts(volume),
        _floats(change),
        _floats(change_pct),
        _strings(column["name"])[0],
        _strings(column["source"])[0],
    )
    frame, ok = _fast_frame(fields, np.arange(1, len(starts) + 1), checker)
    return frame if ok.all() else None


def _fast_json_array(data: bytes | memoryview, checker: _RecordChecker) -> _FastSplit | None:
    """A JSON array of flat objects, cut at the braces (None when the cut fails).

    A brace inside a string makes a wrong cut, but then some piece is not a JSON object or
    some separator is not a comma: separators are checked here and every other piece is
    matched or decoded. When all pass, the text is exactly this array, as the slow path
    would read it.
    """
    chars = np.frombuffer(data, np.uint8)
    opens = char_positions(chars, "{")
    ends = char_positions(chars, "}") + 1
    if (
        not len(opens)
        or len(opens) != len(ends)
        or (ends <= opens).any()
        or (ends[:-1] > opens[1:]).any()
        or (ends - opens).max() > MAX_RECORD_CHARS
        or not _ARRAY_HEAD.fullmatch(bytes(data[: opens[0]]))
        or not _ARRAY_TAIL.fullmatch(bytes(data[ends[-1] :]))
    ):
        return None
    bounds = np.empty(2 * len(opens), np.int64)
    bounds[0::2], bounds[1::2] = opens, ends
    buffer = pa.py_buffer(data)
    pieces = pa.LargeStringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), buffer)
    # element, separator, element, ...
    if not to_numpy(pc.match_substring_regex(pieces, f"^{_WS},{_WS}$"))[1::2].all():
        return None
    frame, fast = _fast_json(buffer, pieces, 2, opens, ends, checker)
    rest = np.flatnonzero(~fast)
    records = []
    for number, element in zip(
        (rest + 1).tolist(), pc.take(pieces, 2 * rest).to_pylist(), strict=True
    ):
        try:  # also proves the cut: a piece that is no JSON value means a wrong one
            value = _DECODER.decode(element)
        except (ValueError, RecursionError):
            return None  # the slow path says what is wrong with the array
        records.append((number, element[: RAW_LIMIT + 1], value))
    return frame, records


def _line_bounds(data: bytes | memoryview, limit: int) -> np.ndarray | None:
    """Offsets where lines start, and the end; None when a line is longer than `limit`,
    which the slow path handles without holding it twice."""
    chars = np.frombuffer(data, np.uint8)
    ends = char_positions(chars, "\n") + 1
    if not len(ends) or ends[-1] != len(chars):
        ends = np.append(ends, len(chars))
    bounds = np.concatenate(([0], ends))
    return None if np.diff(bounds).max() > limit else bounds


def _fast_csv(data: bytes | memoryview, checker: _RecordChecker) -> _FastSplit | None:
    """CSV read line by line: right when every line is one row, that is when no quoted field
    spans lines (lines with quotes must be whole rows) and no lone CR ends a row; lines over
    the csv module's field limit are left out too. Lines without quotes are split at their
    commas, as csv.reader does; lines with quotes go to the checker."""
    chars = np.frombuffer(data, np.uint8)
    returns = char_positions(chars, "\r")
    if len(returns) and (returns[-1] + 1 == len(chars) or (chars[returns + 1] != ord("\n")).any()):
        return None
    bounds = _line_bounds(data, min(MAX_RECORD_CHARS, csv.field_size_limit()))
    if bounds is None:
        return None
    lines = pa.LargeStringArray.from_buffers(
        len(bounds) - 1, pa.py_buffer(bounds), pa.py_buffer(data)
    )
    quoting = to_numpy(pc.match_substring(lines, '"'))
    if (
        quoting.any()
        and not to_numpy(pc.match_substring_regex(pc.filter(lines, quoting), _CSV_QUOTED_ROW)).all()
    ):
        return None
    rows = pc.utf8_rtrim(lines, "\r\n")
    filled = np.flatnonzero(to_numpy(pc.not_equal(rows, "")))
    if len(filled) < 2 or quoting[filled[0]]:
        return None  # no header, no data, or a header to leave to the csv module
    head = int(filled[0])
    columns = [name.strip() for name in rows[head].as_py().split(",")]
    try:
        _check_header(columns, "")
    except _Fatal:
        return None  # the slow path reports it, quoting the header
    cells = pc.split_pattern(rows.slice(head + 1), ",")
    good = np.flatnonzero(
        (to_numpy(pc.list_value_length(cells)) == len(columns)) & ~quoting[head + 1 :]
    )
    texts, first = cells.values, cells.offsets.to_numpy()[:-1][good]
    usable = np.ones(len(good), bool)

    def column(name: str) -> pa.Array | None:
        return pc.take(texts, first + columns.index(name)) if name in columns else None

    def field(token: pa.Array | None, pattern: str, *, required: bool = False) -> pa.Array:
        """The tokens in their fast form, null elsewhere; other rows are marked unusable."""
        nonlocal usable
        if token is None:
            usable &= not required
            return pa.nulls(len(good), texts.type)
        fits = to_numpy(pc.match_substring_regex(token, pattern))
        usable &= fits | (not required and to_numpy(pc.equal(token, "")))
        return _where(fits, token)

    def one_of(name: str, alias: str) -> pa.Array | None:
        """The field under whichever spelling is filled; rows filling both are unusable."""
        nonlocal usable
        token, other = column(name), column(alias)
        if token is None or other is None:
            return other if token is None else token
        filled = to_numpy(pc.not_equal(token, ""))
        usable &= ~(filled & to_numpy(pc.not_equal(other, "")))
        return _where(filled, token, other)

    symbol = field(column("symbol"), f"^{_FAST_SYMBOL}$", required=True)
    ts = field(one_of("ts", "timestamp"), f"^(?:{_FAST_ISO}|{_FAST_EPOCH})$", required=True)
    price = field(column("price"), f"^{_FAST_NUMBER}$", required=True)
    volume = field(column("volume"), f"^(?:{_FAST_COUNT})$")
    change = field(column("change"), f"^{_FAST_NUMBER}$")
    change_pct = field(one_of("change_pct", "changesPercentage"), f"^{_FAST_NUMBER}$")
    name = field(column("name"), "[!-~]")  # not blank
    source = field(column("source"), "[!-~]")
    fields = _Fields(
        usable,
        *_strings(symbol),
        ts,
        to_numpy(pc.match_substring_regex(ts, f"^{_FAST_ISO}$").fill_null(False)),
        _floats(price),
        *_counts(volume),
        _floats(change),
        _floats(change_pct),
        _strings(name)[0],
        _strings(source)[0],
    )
    frame, ok = _fast_frame(fields, good + 1, checker)
    fast = np.zeros(len(cells), bool)
    fast[good[ok]] = True
    rest = np.flatnonzero(~fast)
    records = []
    for row_no, raw in zip(
        (rest + 1).tolist(), pc.take(lines, rest + head + 1).to_pylist(), strict=True
    ):
        if record := _csv_record(row_no, raw, _next_row(csv.reader([raw])), columns):
            records.append(record)
    return frame, records


def _fast_json(
    data: pa.Buffer,
    pieces: pa.Array,
    step: int,
    starts: np.ndarray,
    stops: np.ndarray,
    checker: _RecordChecker,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Quotes from the records (every `step`-th piece, at data[starts:stops]) that are
    clearly valid, and a mask of those records."""
    matched = np.flatnonzero(to_numpy(pc.match_substring_regex(pieces, _JSON_RECORD))[::step])
    fast = np.zeros(len(starts), bool)
    if not len(matched):
        return _quotes_frame([]), fast
    frame, ok = _fast_frame(
        _json_fields(data, starts[matched], stops[matched]), matched + 1, checker
    )
    fast[matched[ok]] = True
    return frame, fast


def _json_fields(data: pa.Buffer, starts: np.ndarray, stops: np.ndarray) -> _Fields:
    """The fields of the records at data[starts:stops], all matching _JSON_RECORD.

    No string in such a record holds a quote, so its quotes delimit its strings: keys and
    string values, in TICK_FIELDS order. Where each value lies follows from which values are
    strings: the ts (ISO text, else an epoch number), the name and the source (else null).
    """
    quotes = char_positions(np.frombuffer(data, np.uint8), '"')
    padded = np.append(quotes, np.full(_RECORD_QUOTES, data.size))  # past every record
    # Row r: the positions of record r's quotes, then of later records' ones.
    at = np.lib.stride_tricks.sliding_window_view(padded, _RECORD_QUOTES)[
        np.searchsorted(quotes, starts)
    ]
    rows = np.arange(len(at))

    def quote(k: np.ndarray | int) -> np.ndarray:
        """Where each record's quote number k is (k may differ by record)."""
        return at[:, k] if isinstance(k, int) else at[rows, k]

    def inner(k: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """Where the text between quotes k and k+1 starts and stops, in each record."""
        return quote(k) + 1, quote(k + 1)

    def either(where: np.ndarray, span: tuple, other: tuple) -> tuple[np.ndarray, np.ndarray]:
        return np.where(where, span[0], other[0]), np.where(where, span[1], other[1])

    iso = at[:, 7] - at[:, 6] - 1 != len("price")  # the 4th string: the ts or the next key
    s = _shift(iso)
    # 18 quotes, 2 more for an ISO ts, and 2 for each of name and source given as strings.
    named = sourced = (quote(19 + s) < stops) & (quote(21 + s) < stops)
    one = np.flatnonzero((quote(19 + s) < stops) & ~named)
    if len(one):  # which one: a string is the name's value when only ":" sits before it
        k = 15 + 2 * iso[one]
        gap = pc.ascii_trim(text_spans(data, (at[one, k] + 1, at[one, k + 1])), _WS_COLON)
        named, sourced = named.copy(), named.copy()
        named[one] = to_numpy(pc.equal(gap, ""))
        sourced[one] = ~named[one]
    t = _shift(named)
    symbol = inner(2)
    # A null name or source gets an empty span (read as None) where the one before ends.
    name = either(named, inner(16 + s), (symbol[1], symbol[1]))
    source = either(sourced, inner(18 + s + t), (name[1], name[1]))
    strings, dotted = _strings(text_spans(data, symbol, name, source))
    strings, dotted = strings.reshape(-1, 3), dotted.reshape(-1, 3)
    numbers = pc.ascii_trim(text_spans(data, inner(7 + s), inner(11 + s), inner(13 + s)), _WS_PUNCT)
    price, change, change_pct = _floats(_null_if(numbers, "null")).reshape(-1, 3).T
    volume = _null_if(pc.ascii_trim(text_spans(data, inner(9 + s)), _WS_PUNCT), "null")
    # An ISO ts is a string; an epoch number sits after the ts key (": 1720189800, ").
    ts = pc.ascii_trim(text_spans(data, either(iso, inner(6), inner(5))), _WS_PUNCT)
    return _Fields(
        np.ones(len(at), bool),
        strings[:, 0],
        dotted[:, 0],
        ts,
        iso,
        price,
        *_counts(volume),
        change,
        change_pct,
        strings[:, 1],
        strings[:, 2],
    )


def _shift(later: np.ndarray) -> np.ndarray | int:
    """Two quotes more where `later` holds: per record, or one number when all agree."""
    return 2 * int(later[0]) if (later == later[0]).all() else np.where(later, 2, 0)


def _fast_frame(
    fields: _Fields, record_no: np.ndarray, checker: _RecordChecker
) -> tuple[pd.DataFrame, np.ndarray]:
    """Quotes from the rows that are clearly valid, and a mask of those rows."""
    micros, plausible = _ts_micros(fields.ts, fields.iso, checker.latest)
    ok = fields.usable & plausible & (fields.price > 0) & ~fields.dotted
    keep = slice(None) if ok.all() else np.flatnonzero(ok)
    source = fields.source[keep].copy()
    source[np.equal(source, None)] = checker.default_source
    frame = _frame(
        fields.symbol[keep],
        micros[keep],
        fields.price[keep],
        pd.arrays.IntegerArray(fields.volume[keep], fields.no_volume[keep]),
        fields.change[keep],
        fields.change_pct[keep],
        fields.name[keep],
        source,
        record_no[keep],
    )
    return frame, ok


def _ts_micros(ts: pa.Array, iso: np.ndarray, latest: dt.datetime) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds of each ts token, and whether it is a plausible instant.

    Each distinct token is read once: the quotes of a batch mostly share a few instants.
    """
    micros = np.zeros(len(ts), np.int64)
    real = np.zeros(len(ts), bool)
    given = to_numpy(ts.is_valid())
    for rows, read in (
        (np.flatnonzero(given & iso), _iso_micros),
        (np.flatnonzero(given & ~iso), _epoch_micros),
    ):
        if len(rows):
            distinct, index = _distinct(ts if len(rows) == len(ts) else pc.take(ts, rows))
            instants, exists = read(distinct)
            micros[rows], real[rows] = instants[index], exists[index]
    return micros, real & (micros >= _micros(EARLIEST_TS)) & (micros <= _micros(latest))


def _epoch_micros(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds of _FAST_EPOCH texts (or integers in its range), all real."""
    number = to_numpy(pc.cast(texts, pa.int64()))
    millis = number >= int(_MILLIS_FROM)
    return np.where(millis, number * 1_000, number * 1_000_000), np.ones(len(number), bool)


def _iso_micros(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds of _FAST_ISO texts, and whether each names a real datetime.

    Texts are padded to one width and read as a character grid: the date and time sit at
    fixed columns, then an optional fraction, then Z or an offset ending the text.
    """
    size = to_numpy(pc.utf8_length(texts)).astype(np.int64)
    padded = pc.cast(pc.utf8_rpad(texts, width=_ISO_WIDTH, padding=" "), pa.binary(_ISO_WIDTH))
    grid = np.frombuffer(
        padded.buffers()[1], np.uint8, len(texts) * _ISO_WIDTH, padded.offset * _ISO_WIDTH
    )
    grid = grid.reshape(len(texts), _ISO_WIDTH)
    rows = np.arange(len(grid))

    def digit(column: int | np.ndarray) -> np.ndarray:
        chars = grid[:, column] if isinstance(column, int) else grid[rows, column]
        return chars.astype(np.int64) - ord("0")

    def number(start: int | np.ndarray, digits: int) -> np.ndarray:
        value = digit(start)
        for i in range(1, digits):
            value = value * 10 + digit(start + i)
        return value

    year, month, day = number(0, 4), number(5, 2), number(8, 2)
    hour, minute, second = number(11, 2), number(14, 2), number(17, 2)
    zulu = grid[rows, size - 1] == ord("Z")
    zone = np.where(zulu, size - 1, size - 6)  # where Z or the offset starts
    fraction = np.zeros(len(grid), np.int64)  # the first six digits, as _NANOS keeps them
    for column in range(20, 26):
        fraction = fraction * 10 + np.where(column < zone, digit(column), 0)
    sign = np.where(grid[rows, zone] == ord("-"), -1, 1)
    zone_hours = np.where(zulu, 0, number(size - 5, 2))
    zone_minutes = np.where(zulu, 0, number(size - 2, 2))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    real = (
        (year >= 1)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= month_days)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (zone_hours <= 23)
        & (zone_minutes <= 59)
    )
    seconds = (
        _days_from_civil(year, month, day) * 86_400
        + hour * 3_600
        + minute * 60
        + second
        - sign * (zone_hours * 3_600 + zone_minutes * 60)
    )
    return seconds * 1_000_000 + fraction, real


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _strings(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Python strings of Arrow ones (None for null or empty), made once per distinct value,
    and whether each holds ".." (as no symbol may)."""
    distinct, index = _distinct(texts)
    values = to_numpy(distinct)
    values[to_numpy(pc.equal(distinct, "").fill_null(True))] = None
    return values[index], to_numpy(pc.match_substring(distinct, "..").fill_null(False))[index]


def _fits(texts: pa.Array, pattern: str, *, null: bool) -> np.ndarray:
    """Whether each text holds a match of `pattern` (`null` for null), once per distinct text."""
    distinct, index = _distinct(texts)
    return to_numpy(pc.match_substring_regex(distinct, pattern).fill_null(null))[index]


def _distinct(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The distinct texts (null among them) and where each text is among them."""
    encoded = pc.dictionary_encode(texts, null_encoding="encode")
    return encoded.dictionary, to_numpy(encoded.indices)


def _null_if(tokens: pa.Array, text: str) -> pa.Array:
    return _where(to_numpy(pc.not_equal(tokens, text)), tokens)


def _floats(tokens: pa.Array) -> np.ndarray:
    """float64 of number tokens (NaN for null): Arrow rounds correctly, as float() does."""
    return to_numpy(pc.cast(tokens, pa.float64()))


def _counts(tokens: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """int64 of whole-number tokens (0 for null), and where they are null."""
    number = pc.cast(tokens, pa.int64())
    return to_numpy(number.fill_null(0)), to_numpy(number.is_null())


def _where(mask: np.ndarray, values: pa.Array, other: pa.Array | None = None) -> pa.Array:
    """values where mask holds, else other (null when not given)."""
    fallback = pa.nulls(len(values), values.type) if other is None else other
    return pc.if_else(pa.array(mask), values, fallback)


# -- small helpers ------------------------------------------------------------------------


def _quotes_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Rows in STREAM_COLUMNS order -> the typed frame (ts held as epoch microseconds)."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(STREAM_COLUMNS)
    symbol, ts, price, volume, change, change_pct, name, source, record_no = cols
    return _frame(
        symbol,
        np.array(ts, dtype=np.int64),
        price,
        pd.array(volume, dtype="Int64"),
        [np.nan if v is None else v for v in change],
        [np.nan if v is None else v for v in change_pct],
        name,
        source,
        record_no,
    )


def _frame(
    symbol: Sequence[object],
    ts: np.ndarray,  # epoch microseconds
    price: Sequence[float],
    volume: pd.api.extensions.ExtensionArray,  # Int64
    change: Sequence[float],  # NaN when missing
    change_pct: Sequence[float],
    name: Sequence[object],
    source: Sequence[object],
    record_no: Sequence[int],
) -> pd.DataFrame:
    """The quotes frame from typed columns; both paths build theirs here, so dtypes agree."""
    return pd.DataFrame(
        {
            "symbol": pd.Series(symbol, dtype=object),
            "ts": pd.Series(ts.astype("datetime64[us]")),
            "price": pd.Series(price, dtype="float64"),
            "volume": pd.Series(volume),
            "change": pd.Series(change, dtype="float64"),
            "change_pct": pd.Series(change_pct, dtype="float64"),
            "name": pd.Series(name, dtype=object),
            "source": pd.Series(source, dtype=object),
            "record_no": pd.Series(record_no, dtype="int64"),
        },
        columns=list(STREAM_COLUMNS),
        copy=False,  # the series are new: consolidating them would only copy
    )


def _merged(fast: pd.DataFrame | None, slow: pd.DataFrame) -> pd.DataFrame:
    """Quotes from both paths in record order (each frame is in record order already)."""
    if fast is None or fast.empty:
        return slow
    if slow.empty:
        return fast
    both = pd.concat([fast, slow], ignore_index=True)
    return both.sort_values("record_no", kind="stable", ignore_index=True)


def _plain(name: str, value: object) -> object:
    """A producer value as JSON/CSV can carry it (see encode_micro_batch)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name} {value!r} has no UTC offset; the landing contract needs one")
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return None
        raise ValueError(f"{name} is {value}: not allowed in a landing file")
    return value


def _csv_row(record: Mapping[str, object]) -> list[object]:
    for name, value in record.items():
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{name} {value!r} contains a NUL character, which CSV cannot carry")
    return list(record.values())  # csv writes None as an empty field, floats via repr


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _micros(instant: dt.datetime) -> int:
    return (instant - _EPOCH) // dt.timedelta(microseconds=1)


def _json_type(value: object) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (Decimal, float)):
        return "a number"
    return kinds.get(type(value), type(value).__name__)


def _show(value: object) -> str:
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
        text = _json_type(value)
    return _cut(text, 80)


def _cut(text: str, limit: int = RAW_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    return f"line {line} column {pos - text.rfind(chr(10), 0, pos)}"
