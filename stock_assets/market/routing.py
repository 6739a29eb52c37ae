"""Which trading day an arrival's run is for, from its listing alone (key and time), and
the late-quotes objects that carry a run's quotes of other days to their own runs.

Reading an object to route it would cost a download and a parse per arrival on every
sensor tick, and the run parses it again. The listing says enough for what arrives in
practice, quotes of the moment they are delivered:
- a late-quotes key names its day;
- the producer's key carries its UTC instant (`quotes-YYYYMMDDTHHMMSSZ`) and Firehose's its
  UTC hour (`YYYY/MM/DD/HH/`): the New York date of that instant;
- any other key with a `YYYY/MM/DD/` folder: that date;
- otherwise the New York date of the object's last-modified time.
The run keeps the quotes of its day and writes the others back as one late-quotes object
per day under `landing/late/` (keys that sort by their writing time; the sensor lists that
prefix with a key floor of its own), which the next tick routes to that day: a late or
mixed file takes two runs, and nothing is filed under the wrong partition or dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pandas as pd

from stock_assets.market import calendar
from stock_assets.market.landing.encode import encode_micro_batch
from stock_assets.market.landing.spec import utc
from stock_assets.market.sources.base import TICK_FIELDS

# Late-quotes objects live apart from landing/quotes/: the sensor lists each prefix with a
# key floor of its own, so neither key family (arrivals under any sub-prefix, late keys by
# writing time) can sort below the other's floor.
LATE_QUOTES_PREFIX = "landing/late/"
_LATE = re.compile(r"-late-(\d{4}-\d{2}-\d{2})-[0-9a-f]{16}\.jsonl$")
_PRODUCER_INSTANT = re.compile(r"quotes-(\d{8}T\d{6})Z")
_FIREHOSE_HOUR = re.compile(r"(?:^|/)(\d{4}/\d{2}/\d{2}/\d{2})/")
_DATE_FOLDER = re.compile(r"(?:^|/)(\d{4}/\d{2}/\d{2})/")


def late_quotes_key(written_at: dt.datetime, day: dt.date, digest: str) -> str:
    """The key of a run's quotes of `day` under LATE_QUOTES_PREFIX, sorting by `written_at`
    (naive means UTC)."""
    at = utc(written_at)
    stamp = f"{at:%Y/%m/%d}/quotes-{at:%Y%m%dT%H%M%SZ}"
    return f"{LATE_QUOTES_PREFIX}{stamp}-late-{day.isoformat()}-{digest}.jsonl"


def key_day(key: str) -> dt.date | None:
    """The New York date a key names (see the module docstring), or None."""
    for pattern, layout, utc_instant in _KEY_DAYS:
        found = pattern.search(key)
        if found is None:
            continue
        try:
            named = dt.datetime.strptime(found.group(1), layout)
        except ValueError:  # digits that are no date (2024/13/45): try the next rule
            continue
        return calendar.trading_day_of(named) if utc_instant else named.date()
    return None


# (pattern, strptime layout of its group, whether it is a UTC instant), in order of trust.
_KEY_DAYS = (
    (_LATE, "%Y-%m-%d", False),
    (_PRODUCER_INSTANT, "%Y%m%dT%H%M%S", True),
    (_FIREHOSE_HOUR, "%Y/%m/%d/%H", True),
    (_DATE_FOLDER, "%Y/%m/%d", False),
)


def route_day(key: str, last_modified: dt.datetime, first: dt.date, last: dt.date) -> dt.date:
    """The session whose run ingests an object: the day its key names, else the New York
    date it arrived, moved back to a session and into the partitions [first, last]."""
    day = key_day(key) or calendar.trading_day_of(last_modified)
    day = min(max(day, first), last)
    sessions = calendar.sessions_between(max(first, day - dt.timedelta(days=10)), day)
    return sessions[-1]  # `first` is a session, so there is one


def late_quotes_objects(
    rows: pd.DataFrame, written_at: dt.datetime
) -> dict[str, tuple[bytes, list[str]]]:
    """One JSON Lines landing object per trade_date of `rows` (stream_history rows of other
    days than the run's), keyed by `late_quotes_key`, with the objects its quotes came
    from. The digest covers the quotes and those objects, so the same quotes re-landed
    from the same objects are named alike apart from the time."""
    objects = {}
    for day, quotes in rows.groupby("trade_date"):
        sources = sorted(quotes["object_key"].unique())
        body = encode_micro_batch(_tick_records(quotes), "jsonl")
        digest = hashlib.sha256("\n".join(sources).encode() + b"\0" + body).hexdigest()
        objects[late_quotes_key(written_at, day, digest[:16])] = (body, sources)
    return objects


def _tick_records(quotes: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as the landing contract's fields, with UTC offsets on ts (as objects, missing
    values are None or NaN, which the encoder writes as null)."""
    frame = quotes.loc[:, list(TICK_FIELDS)].astype(object)
    frame["ts"] = [utc(ts.to_pydatetime()) for ts in quotes["ts"]]
    return frame.to_dict("records")
