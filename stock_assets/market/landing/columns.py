"""Column-wise checks of candidate records: the fast tiers' shared half.

The tiers cut records into field tokens; this module keeps the rows whose every token is in
a fast form (FAST_* below, each a subset of what the spec reads to the same value) and whose
values pass the spec's range rules, and builds their quotes. Any other row goes to the spec.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stock_assets.market.arrowtext import to_numpy
from stock_assets.market.landing.frame import build_frame
from stock_assets.market.landing.spec import EARLIEST_TS, MILLIS_FROM, RecordChecker, utc_micros

WS = r"[ \t\n\r]*"  # JSON whitespace; RE2's \s would also take \f and \v
FAST_SYMBOL = r"\^?[A-Z0-9][A-Z0-9.=\-]{0,14}"  # symbols._SYMBOL: already canonical
# ISO-8601 spellings that fromisoformat reads (after _NANOS); field ranges checked later.
FAST_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
FAST_EPOCH = r"[1-9][0-9]{0,14}"  # whole seconds or milliseconds; no int64 overflow in us
# JSON numbers whose magnitude lies within 1e-139..1e129: never inf, never rounded to 0.
FAST_NUMBER = r"-?(?:0|[1-9][0-9]{0,29})(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,2})?"
FAST_COUNT = r"0|[1-9][0-9]{0,17}"  # below INT64_MAX
# JSON string content without escapes or control characters, and not blank.
FAST_TEXT = r'[^"\\\x00-\x1f]*[!#-\[\]-~][^"\\\x00-\x1f]*'


_ISO_WIDTH = 35  # longest FAST_ISO text
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass(frozen=True)
class Fields:
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


def fast_frame(
    fields: Fields, record_no: np.ndarray, checker: RecordChecker
) -> tuple[pd.DataFrame, np.ndarray]:
    """Quotes from the rows that are clearly valid, and a mask of those rows."""
    micros, plausible = _ts_micros(fields.ts, fields.iso, checker.latest)
    ok = fields.usable & plausible & (fields.price > 0) & ~fields.dotted
    keep = slice(None) if ok.all() else np.flatnonzero(ok)
    source = fields.source[keep].copy()
    source[np.equal(source, None)] = checker.default_source
    frame = build_frame(
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
    return micros, real & (micros >= utc_micros(EARLIEST_TS)) & (micros <= utc_micros(latest))


def _epoch_micros(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds of FAST_EPOCH texts (or integers in its range), all real."""
    number = to_numpy(pc.cast(texts, pa.int64()))
    millis = number >= int(MILLIS_FROM)
    return np.where(millis, number * 1_000, number * 1_000_000), np.ones(len(number), bool)


def _iso_micros(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds of FAST_ISO texts, and whether each names a real datetime.

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


def py_strings(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Python strings of Arrow ones (None for null or empty), made once per distinct value,
    and whether each holds ".." (as no symbol may)."""
    distinct, index = _distinct(texts)
    values = to_numpy(distinct)
    values[to_numpy(pc.equal(distinct, "").fill_null(True))] = None
    return values[index], to_numpy(pc.match_substring(distinct, "..").fill_null(False))[index]


def fits(texts: pa.Array, pattern: str, *, null: bool) -> np.ndarray:
    """Whether each text holds a match of `pattern` (`null` for null), once per distinct text."""
    distinct, index = _distinct(texts)
    return to_numpy(pc.match_substring_regex(distinct, pattern).fill_null(null))[index]


def _distinct(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The distinct texts (null among them) and where each text is among them."""
    encoded = pc.dictionary_encode(texts, null_encoding="encode")
    return encoded.dictionary, to_numpy(encoded.indices)


def null_if(tokens: pa.Array, text: str) -> pa.Array:
    return pick(to_numpy(pc.not_equal(tokens, text)), tokens)


def floats(tokens: pa.Array) -> np.ndarray:
    """float64 of number tokens (NaN for null): Arrow rounds correctly, as float() does."""
    return to_numpy(pc.cast(tokens, pa.float64()))


def counts(tokens: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """int64 of whole-number tokens (0 for null), and where they are null."""
    number = pc.cast(tokens, pa.int64())
    return to_numpy(number.fill_null(0)), to_numpy(number.is_null())


def pick(mask: np.ndarray, values: pa.Array, other: pa.Array | None = None) -> pa.Array:
    """values where mask holds, else other (null when not given)."""
    fallback = pa.nulls(len(values), values.type) if other is None else other
    return pc.if_else(pa.array(mask), values, fallback)
