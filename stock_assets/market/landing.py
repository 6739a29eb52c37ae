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
) -> LandingParse:
    """Parse one landing object into quotes and rejects (naive `now` is taken as UTC)."""
    checker = _RecordChecker(_utc(now) + future_tolerance, default_source)
    try:
        text = _decode(body)
        records = _records(_format_of(key, text), text)
        rows, rejects = [], []
        for record_no, raw, record in records:
            try:
                rows.append((*checker.check(record), record_no))
            except _Problem as problem:
                rejects.append(RecordReject(record_no, str(problem), _cut(raw)))
    except _Fatal as fatal:
        return LandingParse(key, _quotes_frame([]), (), str(fatal))
    return LandingParse(key, _quotes_frame(rows), tuple(rejects), None)


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
        else:
            line = text[pos:end]
            if line.strip():
                yield line_no, line.rstrip("\r"), _JsonLine(line)
        pos = end + 1


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
            row: object = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's limit; reading goes on
            row = _Unreadable(f"row is not valid CSV: {exc}")
        row_no += 1
        raw = tap.drain()
        if row == []:
            continue
        if len(raw) > MAX_RECORD_CHARS:
            row = _TooLong(len(raw))
        elif isinstance(row, list):
            if len(row) != len(columns):
                row = _Unreadable(f"row has {len(row)} fields but the header has {len(columns)}")
            else:
                row = dict(zip(columns, row, strict=True))
        yield row_no, raw.rstrip("\r\n"), row


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


# -- small helpers ------------------------------------------------------------------------


def _quotes_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Rows in STREAM_COLUMNS order -> the typed frame (ts held as epoch microseconds)."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(STREAM_COLUMNS)
    symbol, ts, price, volume, change, change_pct, name, source, record_no = cols
    return pd.DataFrame(
        {
            "symbol": pd.Series(symbol, dtype=object),
            "ts": pd.Series(np.array(ts, dtype=np.int64).astype("datetime64[us]")),
            "price": pd.Series(price, dtype="float64"),
            "volume": pd.Series(pd.array(volume, dtype="Int64")),
            "change": pd.Series([np.nan if v is None else v for v in change], dtype="float64"),
            "change_pct": pd.Series(
                [np.nan if v is None else v for v in change_pct], dtype="float64"
            ),
            "name": pd.Series(name, dtype=object),
            "source": pd.Series(source, dtype=object),
            "record_no": pd.Series(record_no, dtype="int64"),
        },
        columns=list(STREAM_COLUMNS),
    )


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
