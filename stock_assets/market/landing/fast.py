"""The regex tier: records in the producers' shape recognised by RE2 and checked by column.

Each JSON record (JSON Lines or array element) or CSV row is matched whole against the
producers' shape; matching records are cut into tokens and checked column-wise
(landing.columns). Every other record is returned, in framing's form, for the spec.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Collection

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stock_assets.market.arrowtext import char_positions, text_spans, to_numpy
from stock_assets.market.landing.arrow import read_json_lines_whole
from stock_assets.market.landing.columns import (
    FAST_COUNT,
    FAST_EPOCH,
    FAST_ISO,
    FAST_NUMBER,
    FAST_SYMBOL,
    FAST_TEXT,
    WS,
    Fields,
    counts,
    fast_frame,
    floats,
    null_if,
    pick,
    py_strings,
)
from stock_assets.market.landing.frame import quotes_frame
from stock_assets.market.landing.framing import (
    JSON_WS,
    Fatal,
    check_header,
    csv_record,
    is_json_lines,
    json_line,
    next_row,
)
from stock_assets.market.landing.spec import DECODER, MAX_RECORD_CHARS, RAW_LIMIT, RecordChecker


def _json_member(key: str, value: str) -> str:
    return f'{WS}"{key}"{WS}:{WS}(?:{value}){WS}'


# A flat JSON object with exactly TICK_FIELDS in order (encode_micro_batch's shape). No
# string holds a quote, so the quotes locate every field (_json_fields).
_JSON_RECORD = (
    f"^{WS}\\{{"
    + ",".join(
        [
            _json_member("symbol", f'"{FAST_SYMBOL}"'),
            _json_member("ts", f'"{FAST_ISO}"|{FAST_EPOCH}'),
            _json_member("price", FAST_NUMBER),
            _json_member("volume", f"{FAST_COUNT}|null"),
            _json_member("change", f"{FAST_NUMBER}|null"),
            _json_member("change_pct", f"{FAST_NUMBER}|null"),
            _json_member("name", f'"{FAST_TEXT}"|null'),
            _json_member("source", f'"{FAST_TEXT}"|null'),
        ]
    )
    + f"\\}}{WS}$"
)
# A CSV line that is one whole row: quoted fields close on it (csv.reader takes "" as ").
_CSV_FIELD = r'[^",\r\n]*|"(?:[^"\r\n]|"")*"'
_CSV_QUOTED_ROW = f"^(?:{_CSV_FIELD})(?:,(?:{_CSV_FIELD}))*\r?\n?$"
_WS_COLON = " \t\n\r:"
_WS_PUNCT = " \t\n\r:,}"  # what surrounds a bare token (number, null) in a record
_RECORD_QUOTES = 24  # at most, in a _JSON_RECORD match: 16 around keys, 8 around values
_ARRAY_HEAD = re.compile(rb"[ \t\n\r]*\[[ \t\n\r]*")
_ARRAY_TAIL = re.compile(rb"[ \t\n\r]*\][ \t\n\r]*")


FastSplit = tuple[pd.DataFrame, list[tuple[int, str, object]]]


def fast_split(
    fmt: str, text: str, body: bytes, checker: RecordChecker, tiers: Collection[str]
) -> FastSplit | None:
    """Clearly valid records as a frame, and every other record in split_records' form for the
    checker; None when the object's shape is not one the fast path reads. JSON Lines try
    the Arrow tier first when `tiers` holds "arrow".

    Framing rules (record numbers, blank lines, raw text) are the slow path's own.
    """
    data = _utf8(body, text)
    if fmt == "csv":
        return _fast_csv(data, checker)
    if fmt == "json":
        if text[JSON_WS.match(text).end()] == "[":
            return _fast_json_array(data, checker)
        if not is_json_lines(text):
            return None  # one object: nothing to gain
    return _fast_json_lines(data, checker, arrow="arrow" in tiers)


def _utf8(body: bytes, text: str) -> bytes | memoryview:
    """The object's text as UTF-8 without a BOM, copied only when it was UTF-16."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return text.encode("utf-8")
    return memoryview(body)[len(codecs.BOM_UTF8) :] if body.startswith(codecs.BOM_UTF8) else body


def _fast_json_lines(
    data: bytes | memoryview, checker: RecordChecker, *, arrow: bool
) -> FastSplit | None:
    """JSON Lines: each line is a record on its own, so any line may go to the checker."""
    bounds = line_bounds(data, MAX_RECORD_CHARS)
    if bounds is None:
        return None
    whole = read_json_lines_whole(data, bounds, checker) if arrow else None
    if whole is not None:
        return whole, []
    buffer = pa.py_buffer(data)
    lines = pa.LargeStringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), buffer)
    frame, fast = _fast_json(buffer, lines, 1, bounds[:-1], bounds[1:], checker)
    rest = np.flatnonzero(~fast)
    records = []
    for line_no, line in zip((rest + 1).tolist(), pc.take(lines, rest).to_pylist(), strict=True):
        if record := json_line(line_no, line.removesuffix("\n")):
            records.append(record)
    return frame, records


def _fast_json_array(data: bytes | memoryview, checker: RecordChecker) -> FastSplit | None:
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
    if not to_numpy(pc.match_substring_regex(pieces, f"^{WS},{WS}$"))[1::2].all():
        return None
    frame, fast = _fast_json(buffer, pieces, 2, opens, ends, checker)
    rest = np.flatnonzero(~fast)
    records = []
    for number, element in zip(
        (rest + 1).tolist(), pc.take(pieces, 2 * rest).to_pylist(), strict=True
    ):
        try:  # also proves the cut: a piece that is no JSON value means a wrong one
            value = DECODER.decode(element)
        except (ValueError, RecursionError):
            return None  # the slow path says what is wrong with the array
        records.append((number, element[: RAW_LIMIT + 1], value))
    return frame, records


def line_bounds(data: bytes | memoryview, limit: int) -> np.ndarray | None:
    """Offsets where lines start, and the end; None when a line is longer than `limit`,
    which the slow path handles without holding it twice."""
    chars = np.frombuffer(data, np.uint8)
    ends = char_positions(chars, "\n") + 1
    if not len(ends) or ends[-1] != len(chars):
        ends = np.append(ends, len(chars))
    bounds = np.concatenate(([0], ends))
    return None if np.diff(bounds).max() > limit else bounds


def _fast_csv(data: bytes | memoryview, checker: RecordChecker) -> FastSplit | None:
    """CSV read line by line: right when every line is one row, that is when no quoted field
    spans lines (lines with quotes must be whole rows) and no lone CR ends a row; lines over
    the csv module's field limit are left out too. Lines without quotes are split at their
    commas, as csv.reader does; lines with quotes go to the checker."""
    chars = np.frombuffer(data, np.uint8)
    returns = char_positions(chars, "\r")
    if len(returns) and (returns[-1] + 1 == len(chars) or (chars[returns + 1] != ord("\n")).any()):
        return None
    bounds = line_bounds(data, min(MAX_RECORD_CHARS, csv.field_size_limit()))
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
        check_header(columns, "")
    except Fatal:
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
        return pick(fits, token)

    def one_of(name: str, alias: str) -> pa.Array | None:
        """The field under whichever spelling is filled; rows filling both are unusable."""
        nonlocal usable
        token, other = column(name), column(alias)
        if token is None or other is None:
            return other if token is None else token
        filled = to_numpy(pc.not_equal(token, ""))
        usable &= ~(filled & to_numpy(pc.not_equal(other, "")))
        return pick(filled, token, other)

    symbol = field(column("symbol"), f"^{FAST_SYMBOL}$", required=True)
    ts = field(one_of("ts", "timestamp"), f"^(?:{FAST_ISO}|{FAST_EPOCH})$", required=True)
    price = field(column("price"), f"^{FAST_NUMBER}$", required=True)
    volume = field(column("volume"), f"^(?:{FAST_COUNT})$")
    change = field(column("change"), f"^{FAST_NUMBER}$")
    change_pct = field(one_of("change_pct", "changesPercentage"), f"^{FAST_NUMBER}$")
    name = field(column("name"), "[!-~]")  # not blank
    source = field(column("source"), "[!-~]")
    fields = Fields(
        usable,
        *py_strings(symbol),
        ts,
        to_numpy(pc.match_substring_regex(ts, f"^{FAST_ISO}$").fill_null(False)),
        floats(price),
        *counts(volume),
        floats(change),
        floats(change_pct),
        py_strings(name)[0],
        py_strings(source)[0],
    )
    frame, ok = fast_frame(fields, good + 1, checker)
    fast = np.zeros(len(cells), bool)
    fast[good[ok]] = True
    rest = np.flatnonzero(~fast)
    records = []
    for row_no, raw in zip(
        (rest + 1).tolist(), pc.take(lines, rest + head + 1).to_pylist(), strict=True
    ):
        if record := csv_record(row_no, raw, next_row(csv.reader([raw])), columns):
            records.append(record)
    return frame, records


def _fast_json(
    data: pa.Buffer,
    pieces: pa.Array,
    step: int,
    starts: np.ndarray,
    stops: np.ndarray,
    checker: RecordChecker,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Quotes from the records (every `step`-th piece, at data[starts:stops]) that are
    clearly valid, and a mask of those records."""
    matched = np.flatnonzero(to_numpy(pc.match_substring_regex(pieces, _JSON_RECORD))[::step])
    fast = np.zeros(len(starts), bool)
    if not len(matched):
        return quotes_frame([]), fast
    frame, ok = fast_frame(
        _json_fields(data, starts[matched], stops[matched]), matched + 1, checker
    )
    fast[matched[ok]] = True
    return frame, fast


def _json_fields(data: pa.Buffer, starts: np.ndarray, stops: np.ndarray) -> Fields:
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
    strings, dotted = py_strings(text_spans(data, symbol, name, source))
    strings, dotted = strings.reshape(-1, 3), dotted.reshape(-1, 3)
    numbers = pc.ascii_trim(text_spans(data, inner(7 + s), inner(11 + s), inner(13 + s)), _WS_PUNCT)
    price, change, change_pct = floats(null_if(numbers, "null")).reshape(-1, 3).T
    volume = null_if(pc.ascii_trim(text_spans(data, inner(9 + s)), _WS_PUNCT), "null")
    # An ISO ts is a string; an epoch number sits after the ts key (": 1720189800, ").
    ts = pc.ascii_trim(text_spans(data, either(iso, inner(6), inner(5))), _WS_PUNCT)
    return Fields(
        np.ones(len(at), bool),
        strings[:, 0],
        dotted[:, 0],
        ts,
        iso,
        price,
        *counts(volume),
        change,
        change_pct,
        strings[:, 1],
        strings[:, 2],
    )


def _shift(later: np.ndarray) -> np.ndarray | int:
    """Two quotes more where `later` holds: per record, or one number when all agree."""
    return 2 * int(later[0]) if (later == later[0]).all() else np.where(later, 2, 0)
