"""The producer side of the landing contract: micro-batch files and their keys."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Mapping, Sequence

import numpy as np

from stock_assets.market.landing.spec import utc
from stock_assets.market.sources.base import TICK_FIELDS

LANDING_QUOTES_PREFIX = "landing/quotes/"

FORMATS = ("jsonl", "json", "csv")


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
    at = utc(produced_at)
    return f"{LANDING_QUOTES_PREFIX}{at:%Y/%m/%d}/quotes-{at:%Y%m%dT%H%M%SZ}-{sequence:06d}.{fmt}"


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
