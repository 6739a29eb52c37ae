"""One landing object -> its quotes, its rejected records, or why it cannot be read.

The spec (RecordChecker) decides every record; the fast tiers only take the records that
are clearly valid first, in bulk. `_FAST_TIERS` names the tiers in use: tests and
benchmarks narrow it (to none: the spec alone, the reference) to compare results.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd

from stock_assets.market.landing.fast import fast_split
from stock_assets.market.landing.frame import in_record_order, quotes_frame
from stock_assets.market.landing.framing import Fatal, decode, format_of, inflate, split_records
from stock_assets.market.landing.spec import Problem, RecordChecker, RecordReject, cut, utc

# The fast tiers in use, fastest first: "arrow" (JSON Lines read whole) and "regex" (every
# format, record by record in bulk). Tests and benchmarks replace it to compare tiers.
_FAST_TIERS: frozenset[str] = frozenset({"arrow", "regex"})


@dataclass(frozen=True)
class LandingParse:
    """What one landing object holds: typed quotes, rejected records, or a fatal reason."""

    key: str
    quotes: pd.DataFrame  # STREAM_COLUMNS; ts naive UTC datetime64[us]
    rejects: tuple[RecordReject, ...]
    fatal: str | None  # set when the object cannot be parsed at all; quotes is then empty


def parse_landing_object(
    key: str,
    body: bytes,
    *,
    now: dt.datetime,
    future_tolerance: dt.timedelta = dt.timedelta(minutes=5),
    default_source: str = "landing",
) -> LandingParse:
    """Parse one landing object into quotes and rejects (naive `now` is taken as UTC).

    GZIP-compressed objects are inflated first. Records in the producers' usual shape are
    taken column-wise by the fast tiers, every other record is checked one by one by the spec.
    """
    checker = RecordChecker(utc(now) + future_tolerance, default_source)
    try:
        body = inflate(body)
        text = decode(body)
        fmt = format_of(key, text)
        split = fast_split(fmt, text, body, checker, _FAST_TIERS) if _FAST_TIERS else None
        fast, records = split or (None, split_records(fmt, text))
        rows, rejects = [], []
        for record_no, raw, record in records:
            try:
                rows.append((*checker.check(record), record_no))
            except Problem as problem:
                rejects.append(RecordReject(record_no, str(problem), cut(raw)))
    except Fatal as fatal:
        return LandingParse(key, quotes_frame([]), (), str(fatal))
    return LandingParse(key, in_record_order(fast, quotes_frame(rows)), tuple(rejects), None)


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
        "detected_at": utc(detected_at).isoformat(),
    }
    return (json.dumps(report, indent=2) + "\n").encode()
