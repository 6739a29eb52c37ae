"""Framing: from an object's bytes to its records, each with its record number and text.

Format comes from the extension (.jsonl/.ndjson, .json, .csv); other objects are sniffed
(text opening with ``[`` or ``{`` is JSON, anything else CSV). JSON text whose first line
is a complete JSON value followed by more lines is JSON Lines, so a mislabelled .json still
loses only its broken lines; a JSON array is one document, so a truncated array is fatal.
Text is UTF-8 (BOM optional) or UTF-16 with a BOM; nothing else is guessed.

Kinesis Data Firehose delivers records as they were put: JSON values one after another,
with no separator, in objects without an extension, optionally GZIP-compressed. A JSON
object followed by more values is therefore a stream of concatenated records, each read
with `raw_decode`; a broken one is cut at the next ``}{`` and rejected on its own.
Compressed objects are recognised by GZIP's magic bytes (``.gz`` is only dropped from
the name before the extension is read) and inflated up to MAX_INFLATED bytes.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator

from stock_assets.market.landing.spec import (
    DECODER,
    MAX_RECORD_CHARS,
    RAW_LIMIT,
    JsonLine,
    TooLong,
    Unreadable,
    cut,
    json_type,
)

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
GZIP_MAGIC = b"\x1f\x8b"
MAX_INFLATED = 1 << 30  # 1 GiB of text from one object: more is a zip bomb, not a batch

JSON_WS = re.compile(r"[ \t\n\r]*")
NON_WS = re.compile(r"\S")


class Fatal(Exception):
    """The whole object is unreadable; the message says why."""


# -- decoding and framing -----------------------------------------------------------------


def inflate(body: bytes) -> bytes:
    """The object's bytes, decompressed when they open with GZIP's magic (members read
    one after another, as gzip concatenates them)."""
    if not body.startswith(GZIP_MAGIC):
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            data = stream.read(MAX_INFLATED + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise Fatal(f"object is GZIP-compressed but cannot be decompressed: {exc}") from exc
    if len(data) > MAX_INFLATED:
        raise Fatal(f"object inflates to more than {MAX_INFLATED} bytes")
    return data


def decode(body: bytes) -> str:
    """Text of the object: UTF-8 (BOM optional) or UTF-16 with a BOM, nothing guessed."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise Fatal(
            f"object is not valid {encoding.upper().removesuffix('-SIG')} text "
            f"({exc.reason} at byte {exc.start}); accepted: UTF-8 with or without BOM, "
            "UTF-16 with BOM"
        ) from exc
    if not NON_WS.search(text):  # a search, not strip(): no copy of a large object
        raise Fatal("empty object")
    # JSON forbids raw NULs and no sane CSV has them: they mean binary data or UTF-16
    # without a BOM, and every "record" read from such text would be garbage.
    if "\x00" in text:
        raise Fatal("object contains NUL characters: binary data or UTF-16 without a BOM?")
    return text


def format_of(key: str, text: str) -> str:
    """Format by extension; unknown extensions are sniffed (JSON opens with [ or {)."""
    name = key.rsplit("/", 1)[-1].lower().removesuffix(".gz")
    dot = name.rfind(".")
    known = _EXTENSIONS.get(name[dot:]) if dot >= 0 else None
    if known:
        return known
    first = NON_WS.search(text)
    return "json" if first and first.group() in ("[", "{") else "csv"


def split_records(fmt: str, text: str) -> Iterator[tuple[int, str, object]]:
    """(record_no, raw text, record) for each record; raises Fatal before the first one."""
    if fmt == "jsonl":
        return _json_lines(text)
    if fmt == "csv":
        return _csv_records(text)
    start = JSON_WS.match(text).end()
    if text[start] == "[":
        return iter(_json_array(text, start))
    if is_json_lines(text):
        return _json_lines(text)
    return _json_values(text, start)


def is_json_lines(text: str) -> bool:
    """A .json file is JSON Lines when its first line is a whole JSON value and more follow."""
    start = JSON_WS.match(text).end()
    end = text.find("\n", start)
    if end < 0 or end - start > MAX_RECORD_CHARS or not NON_WS.search(text, end):
        return False
    try:
        DECODER.decode(text[start:end])
    except (ValueError, RecursionError):
        return False
    return True


def _json_values(text: str, start: int) -> Iterator[tuple[int, str, object]]:
    """One JSON object, or records concatenated with no separator (Firehose). A lone
    document must be a readable object; in a stream each value is a record of its own."""
    try:
        value, end = DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        if _next_record(text, start) is None:
            raise Fatal(f"not valid JSON: {exc}") from exc
        return _concatenated(text, start)
    except RecursionError as exc:
        raise Fatal("not usable JSON: nested too deeply") from exc
    if JSON_WS.match(text, end).end() < len(text):
        return _concatenated(text, start)
    if not isinstance(value, dict):
        raise Fatal(
            f"JSON document is {json_type(value)}, expected an array of records or one record"
        )
    return iter([(1, text, value)])


_RECORD_START = re.compile(r"\}[ \t\n\r]*(\{)")


def _next_record(text: str, pos: int) -> int | None:
    """Where the record after the one starting at `pos` begins (after a ``}{``), if any."""
    found = _RECORD_START.search(text, pos)
    return found.start(1) if found else None


def _concatenated(text: str, pos: int) -> Iterator[tuple[int, str, object]]:
    """Each value of a stream of concatenated JSON records; a broken one is rejected up to
    the next ``}{`` and the stream goes on from there."""
    record_no = 0
    while pos < len(text):
        record_no += 1
        try:
            value, end = DECODER.raw_decode(text, pos)
            record = value if end - pos <= MAX_RECORD_CHARS else TooLong(end - pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            resume = _next_record(text, pos + 1)
            end = len(text) if resume is None else resume
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            record = Unreadable(f"record is not valid JSON: {reason}")
        yield record_no, text[pos : min(end, pos + RAW_LIMIT + 1)].rstrip(), record
        pos = JSON_WS.match(text, end).end()


def _json_array(text: str, start: int) -> list[tuple[int, str, object]]:
    """Elements of a top-level array with their own text; any syntax error is fatal."""
    elements = []
    pos = JSON_WS.match(text, start + 1).end()
    closed = text.startswith("]", pos)
    if closed:
        pos = JSON_WS.match(text, pos + 1).end()
    while not closed:
        try:
            value, end = DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise Fatal(f"JSON array is truncated or malformed: {exc}") from exc
        except RecursionError as exc:
            raise Fatal("JSON array is not usable: nested too deeply") from exc
        raw = text[pos : min(end, pos + RAW_LIMIT + 1)]
        record = value if end - pos <= MAX_RECORD_CHARS else TooLong(end - pos)
        elements.append((len(elements) + 1, raw, record))
        pos = JSON_WS.match(text, end).end()
        separator = text[pos : pos + 1]
        if separator not in (",", "]"):
            found = f"found {separator!r}" if separator else "the text ends"
            raise Fatal(
                f"JSON array is truncated or malformed at {_line_col(text, pos)}: "
                f"expected ',' or ']' after element {len(elements)}, {found}"
            )
        closed = separator == "]"
        pos = JSON_WS.match(text, pos + 1).end()
    if pos < len(text):
        raise Fatal(f"unexpected text after the JSON array at {_line_col(text, pos)}")
    return elements


def _json_lines(text: str) -> Iterator[tuple[int, str, object]]:
    """One record per non-blank line; a broken line is that record's problem only."""
    line_no, pos = 0, 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line_no += 1
        if end - pos > MAX_RECORD_CHARS:  # never sliced whole: memory stays the object's
            yield line_no, text[pos : pos + RAW_LIMIT + 1], TooLong(end - pos)
        elif record := json_line(line_no, text[pos:end]):
            yield record
        pos = end + 1


def json_line(line_no: int, line: str) -> tuple[int, str, object] | None:
    """The record on one line of JSON Lines (without its newline); None when it is blank."""
    return (line_no, line.rstrip("\r"), JsonLine(line)) if line.strip() else None


def _csv_records(text: str) -> Iterator[tuple[int, str, object]]:
    """Rows as {column: text}; the header is checked before the first row is yielded."""
    tap = _LineTap(text)
    reader = csv.reader(tap)
    try:
        header = next(row for row in reader if row)
    except csv.Error as exc:
        raise Fatal(f"CSV header cannot be read: {exc}") from exc
    columns = [name.strip() for name in header]
    check_header(columns, tap.drain())
    return _csv_rows(reader, tap, columns)


def check_header(columns: list[str], raw: str) -> None:
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise Fatal(f"CSV header repeats column(s) {', '.join(repeated)}")
    missing = [c for c in ("symbol", "price") if c not in columns]
    if "ts" not in columns and "timestamp" not in columns:
        missing.append("ts|timestamp")
    if missing:
        raise Fatal(
            f"CSV header lacks required column(s) {', '.join(missing)} "
            f"(first row: {cut(raw.rstrip(), 200)!r}); is the header missing?"
        )


def _csv_rows(
    reader: Iterator[list[str]], tap: _LineTap, columns: list[str]
) -> Iterator[tuple[int, str, object]]:
    row_no = 0
    while True:
        try:
            row = next_row(reader)
        except StopIteration:
            return
        row_no += 1
        if record := csv_record(row_no, tap.drain(), row, columns):
            yield record


def next_row(reader: Iterator[list[str]]) -> object:
    """The reader's next row, or why it cannot be read; StopIteration at the end."""
    try:
        return next(reader)
    except csv.Error as exc:  # e.g. a field over the csv module's limit; reading goes on
        return Unreadable(f"row is not valid CSV: {exc}")


def csv_record(
    row_no: int, raw: str, row: object, columns: list[str]
) -> tuple[int, str, object] | None:
    """The record of one CSV row read from `raw` (its lines); None for a blank row."""
    if row == []:
        return None
    if len(raw) > MAX_RECORD_CHARS:
        row = TooLong(len(raw))
    elif isinstance(row, list):
        if len(row) != len(columns):
            row = Unreadable(f"row has {len(row)} fields but the header has {len(columns)}")
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


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    return f"line {line} column {pos - text.rfind(chr(10), 0, pos)}"
