"""The landing-zone contract: parse micro-batch quote files, and write them.

Objects under ``landing/quotes/`` are JSON Lines, a JSON array, CSV with a header, or JSON
records concatenated without separators (Kinesis Data Firehose), any of them GZIP-compressed.
Each record is validated on its own, so one bad record is rejected with a reason and never
takes a good one with it; only an object that cannot be read at all is fatal (quarantined
whole).

Modules: `spec` (one record: the rules and every reason; the specification), `framing`
(bytes -> records), `parse` (one object -> quotes and rejects), `encode` (the producer side).
The fast tiers, `fast` (RE2 + column checks, `columns`) and `arrow` (Arrow's JSON reader),
only take records the spec accepts, to the same row, and leave every other record to it.
"""

from stock_assets.market.landing.encode import (
    FORMATS,
    LANDING_QUOTES_PREFIX,
    encode_micro_batch,
    micro_batch_key,
)
from stock_assets.market.landing.frame import STREAM_COLUMNS
from stock_assets.market.landing.parse import (
    LandingParse,
    parse_landing_object,
    quarantine_report,
    reject_message,
)
from stock_assets.market.landing.spec import (
    EARLIEST_TS,
    INT64_MAX,
    MAX_RECORD_CHARS,
    RAW_LIMIT,
    RecordReject,
)

__all__ = [
    "EARLIEST_TS",
    "FORMATS",
    "INT64_MAX",
    "LANDING_QUOTES_PREFIX",
    "MAX_RECORD_CHARS",
    "RAW_LIMIT",
    "STREAM_COLUMNS",
    "LandingParse",
    "RecordReject",
    "encode_micro_batch",
    "micro_batch_key",
    "parse_landing_object",
    "quarantine_report",
    "reject_message",
]
