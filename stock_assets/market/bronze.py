"""Source extraction -> bronze rows: every record kept as received, filed by trading day."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_text
from typing import Protocol

import numpy as np
import pandas as pd

from stock_assets.market.arrivals import ObjectInfo
from stock_assets.market.schemas import RAW_QUOTES, conform
from stock_assets.market.sources import Extraction, RawRecord

_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.=-]")
_STAMP = "%Y%m%dT%H%M%SZ"
# The file name batch_object_key gives a pull: <source>-<fetched_at stamp>-<run id prefix>.jsonl
_PULL_NAME = re.compile(r"(?P<source>.+)-(?P<stamp>\d{8}T\d{6}Z)-[^-]*\.jsonl")


def assign_partitions(
    records: list[RawRecord], days: list[dt.date]
) -> dict[dt.date, list[RawRecord]]:
    """Group records by the trading day they claim.

    A record whose date is unreadable or outside the pull is filed under the pull's last
    day, so it is kept (and rejected with its reason in silver) rather than lost. Days are
    read once per distinct text: a history has millions of records over a few thousand.
    """
    wanted, fallback = set(days), days[-1]
    if not records:
        return {}
    codes, texts = pd.factorize(np.array([record.trade_date for record in records], object))
    filed = [claimed if (claimed := _as_date(text)) in wanted else fallback for text in texts]
    target, order = pd.factorize(np.array([*filed, fallback], object)[codes])  # None is -1
    groups = np.split(np.argsort(target, kind="stable"), np.cumsum(np.bincount(target))[:-1])
    return {
        day: [records[i] for i in rows.tolist()] for day, rows in zip(order, groups, strict=True)
    }


def _as_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def batch_object_key(
    table: str, day: dt.date, source: str, fetched_at: dt.datetime, run_id: str
) -> str:
    """Lake key of the verbatim records of one pull for one trading day."""
    name = _KEY_SAFE.sub("_", f"{source}-{fetched_at.strftime(_STAMP)}-{run_id[:8]}")
    return f"{day_prefix(table, day)}{name}.jsonl"


def day_prefix(table: str, day: dt.date) -> str:
    """Lake prefix holding every pull's object for one trading day."""
    return f"bronze/{table}/trade_date={day.isoformat()}/"


def records_body(records: list[RawRecord]) -> bytes:
    """JSON Lines holding each payload text untouched, for audit and replay."""
    # The same text as json.dumps of {"record_no", "symbol", "payload"} (default separators,
    # ensure_ascii=False), written with the C string encoder: a history load has millions.
    lines = (
        f'{{"record_no": {i}, "symbol": {_json_text(r.symbol)}, '
        f'"payload": {_json_text(r.payload)}}}'
        for i, r in enumerate(records)
    )
    return ("\n".join(lines) + "\n").encode() if records else b""


def raw_quote_frame(
    grouped: dict[dt.date, list[RawRecord]],
    object_keys: dict[dt.date, str],
    extraction: Extraction,
    fetched_at: dt.datetime,
) -> pd.DataFrame:
    """bronze.raw_quotes rows: per day, its records numbered as in their lake object."""
    days = sorted(grouped)
    counts = [len(grouped[day]) for day in days]
    if not sum(counts):
        return RAW_QUOTES.empty_frame()
    records = [record for day in days for record in grouped[day]]
    frame = pd.DataFrame(
        {
            "symbol": [record.symbol for record in records],
            "trade_date": np.repeat(np.array(days, dtype=object), counts),
            "record_no": np.concatenate([np.arange(n) for n in counts]),
            "payload": [record.payload for record in records],
            "source": extraction.source,
            "fetched_at": fetched_at,
            "object_key": np.repeat(np.array([object_keys[d] for d in days], object), counts),
        }
    )
    return conform(frame, RAW_QUOTES)


class ObjectStore(Protocol):
    """The lake as carry_forward reads it (the lake resource, local or S3)."""

    def list_objects(self, prefix: str) -> list[ObjectInfo]: ...

    def get(self, key: str) -> bytes: ...


@dataclass(frozen=True)
class PullObject:
    """A bronze lake object, with the source and fetch time its key encodes."""

    key: str
    source: str
    fetched_at: dt.datetime


def pull_object(key: str) -> PullObject | None:
    """Read a key written by batch_object_key; None for any other object."""
    match = _PULL_NAME.fullmatch(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    stamp = dt.datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=dt.UTC)
    return PullObject(key=key, source=match["source"], fetched_at=stamp)


def earlier_pulls(keys: Iterable[str], fetched_at: dt.datetime) -> list[PullObject]:
    """Pulls fetched no later than `fetched_at`, newest first by the fetch time in the key
    (listing order is storage-specific: S3 lists by name, a folder by modification time)."""
    pulls = [p for p in map(pull_object, keys) if p is not None and p.fetched_at <= fetched_at]
    return sorted(pulls, key=lambda p: (p.fetched_at, p.key), reverse=True)


def carry_forward(
    symbol_errors: Mapping[str, str],
    pulled: Mapping[dt.date, list[RawRecord]],
    days: Iterable[dt.date],
    fetched_at: dt.datetime,
    lake: ObjectStore,
) -> pd.DataFrame:
    """bronze.raw_quotes rows kept from earlier pulls for symbols this pull failed on.

    A failed symbol loses none of its days: for each day this pull has no record of it,
    its records are taken verbatim (record_no, payload, source, fetched_at, object_key)
    from the newest earlier pull of that day that holds any. The newest holding one, not
    just the newest: that may itself have failed on the symbol and carried it forward.
    A day with no earlier pull of the symbol keeps no row for it (a first pull).
    """
    rows: list[dict[str, object]] = []
    for day in days:
        pulled_symbols = {record.symbol for record in pulled.get(day, ())}
        wanted = set(symbol_errors) - pulled_symbols
        if not wanted:
            continue
        listed = lake.list_objects(day_prefix(RAW_QUOTES.name, day))
        for pull in earlier_pulls((o.key for o in listed), fetched_at):
            found = [line for line in _stored_lines(lake.get(pull.key)) if line["symbol"] in wanted]
            rows += [
                {
                    **line,
                    "trade_date": day,
                    "source": pull.source,
                    "fetched_at": pull.fetched_at,
                    "object_key": pull.key,
                }
                for line in found
            ]
            wanted -= {line["symbol"] for line in found}
            if not wanted:
                break
    if not rows:
        return RAW_QUOTES.empty_frame()
    return conform(pd.DataFrame(rows), RAW_QUOTES)


def _stored_lines(body: bytes) -> list[dict[str, object]]:
    """The {"record_no", "symbol", "payload"} lines of a records_body object (split on
    newlines only: payload text may hold U+2028 and the like, which splitlines breaks on)."""
    return [json.loads(line) for line in body.decode().split("\n") if line]


def carried_days(carried: pd.DataFrame) -> dict[str, list[str]]:
    """Which trading days each symbol was carried forward for (run metadata)."""
    pairs = carried[["symbol", "trade_date"]].drop_duplicates()
    days: dict[str, list[str]] = defaultdict(list)
    for symbol, day in sorted(pairs.itertuples(index=False)):
        days[symbol].append(day.isoformat())
    return dict(days)
