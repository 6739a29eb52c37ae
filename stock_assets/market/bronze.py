"""Source extraction -> bronze rows: every record kept as received, filed by trading day."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict

import pandas as pd

from stock_assets.market.schemas import RAW_QUOTES, conform
from stock_assets.market.sources import Extraction, RawRecord

_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.=-]")


def assign_partitions(
    records: list[RawRecord], days: list[dt.date]
) -> dict[dt.date, list[RawRecord]]:
    """Group records by the trading day they claim.

    A record whose date is unreadable or outside the pull is filed under the pull's last
    day, so it is kept (and rejected with its reason in silver) rather than lost.
    """
    wanted = set(days)
    fallback = days[-1]
    grouped: dict[dt.date, list[RawRecord]] = defaultdict(list)
    for record in records:
        claimed = _as_date(record.trade_date)
        grouped[claimed if claimed in wanted else fallback].append(record)
    return grouped


def _as_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def batch_object_key(
    table: str, day: dt.date, source: str, fetched_at: dt.datetime, run_id: str
) -> str:
    """Lake key of the verbatim records of one pull for one trading day."""
    stamp = fetched_at.strftime("%Y%m%dT%H%M%SZ")
    name = _KEY_SAFE.sub("_", f"{source}-{stamp}-{run_id[:8]}")
    return f"bronze/{table}/trade_date={day.isoformat()}/{name}.jsonl"


def records_body(records: list[RawRecord]) -> bytes:
    """JSON Lines holding each payload text untouched, for audit and replay."""
    lines = (
        json.dumps({"record_no": i, "symbol": r.symbol, "payload": r.payload}, ensure_ascii=False)
        for i, r in enumerate(records)
    )
    return ("\n".join(lines) + "\n").encode() if records else b""


def raw_quote_frame(
    grouped: dict[dt.date, list[RawRecord]],
    object_keys: dict[dt.date, str],
    extraction: Extraction,
    fetched_at: dt.datetime,
) -> pd.DataFrame:
    rows = [
        {
            "symbol": record.symbol,
            "trade_date": day,
            "record_no": i,
            "payload": record.payload,
            "source": extraction.source,
            "fetched_at": fetched_at,
            "object_key": object_keys[day],
        }
        for day, records in sorted(grouped.items())
        for i, record in enumerate(records)
    ]
    if not rows:
        return RAW_QUOTES.empty_frame()
    return conform(pd.DataFrame(rows), RAW_QUOTES)
