"""The Arrow tier: a whole JSON Lines object read by Arrow's JSON reader, or nothing.

It answers only when every line is one object, Arrow reads them all with the contract's
types and every record is clearly valid by the column checks; anything else (one odd
record included) leaves the object to the regex tier, unchanged, so the tier can only ever
be faster, never different.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from stock_assets.market.arrowtext import to_numpy
from stock_assets.market.landing.columns import (
    FAST_ISO,
    FAST_SYMBOL,
    Fields,
    counts,
    fast_frame,
    fits,
    floats,
    py_strings,
)
from stock_assets.market.landing.spec import RecordChecker
from stock_assets.market.sources.base import TICK_FIELDS

# What Arrow reads each field as; the ts is text (ISO-8601) or an integer (epoch), guessed
# from the first line (a wrong guess only costs the tier: Arrow refuses the other kind).
_ARROW_TYPES = {
    "symbol": pa.string(), "price": pa.float64(), "volume": pa.int64(), "change": pa.float64(),
    "change_pct": pa.float64(), "name": pa.string(), "source": pa.string(),
}  # fmt: skip
_EPOCH_FIRST = re.compile(rb'"ts"[ \t]*:[ \t]*[-0-9]')
_EPOCH_LIMIT = 10**15  # FAST_EPOCH's bound: microseconds of larger numbers overflow int64
_NOT_BLANK = "^$|[!-~]"  # empty (missing) or holding a visible ASCII character


def read_json_lines_whole(
    data: bytes | memoryview, bounds: np.ndarray, checker: RecordChecker
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
    if epoch:  # whole seconds or milliseconds, as FAST_EPOCH
        ts_form = to_numpy(pc.and_(pc.greater(ts, 0), pc.less(ts, _EPOCH_LIMIT)).fill_null(False))
    else:
        ts_form = fits(ts, f"^{FAST_ISO}$", null=False)
    usable = (
        fits(column["symbol"], f"^{FAST_SYMBOL}$", null=False)
        & ts_form
        & to_numpy(pc.is_finite(price).fill_null(False))
        & to_numpy(pc.greater_equal(volume, 0).fill_null(True))
        & to_numpy(pc.is_finite(change).fill_null(True))
        & to_numpy(pc.is_finite(change_pct).fill_null(True))
        & fits(column["name"], _NOT_BLANK, null=True)
        & fits(column["source"], _NOT_BLANK, null=True)
    )
    if not usable.all():
        return None
    fields = Fields(
        usable,
        *py_strings(column["symbol"]),
        ts,
        np.full(len(ts), not epoch),
        floats(price),
        *counts(volume),
        floats(change),
        floats(change_pct),
        py_strings(column["name"])[0],
        py_strings(column["source"])[0],
    )
    frame, ok = fast_frame(fields, np.arange(1, len(starts) + 1), checker)
    return frame if ok.all() else None
