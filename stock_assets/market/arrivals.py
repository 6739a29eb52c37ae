"""Which landing objects are new: the sensor's cursor, kept free of Dagster.

The cursor is a last-modified watermark plus the (key, version) pairs seen at or near it.
An object is new when it is newer than the watermark, or within `settle` of it and not
seen in that version. Consequences:
- an unchanged object listed again is never new (its version is in the cursor, or it is
  older than the window);
- the same key re-written with new content has a new version and a newer time: new;
- an object that becomes visible late with a slightly older timestamp (multipart uploads
  carry their start time) is still caught while it is within `settle` of the watermark.
The run key is derived from keys and versions, so even a lost cursor never runs an object
version twice.

The cursor also keeps `start_after`, a key floor: the next listing starts after it (S3's
ListObjectsV2 StartAfter), so a tick costs what arrived lately, not the whole history. It
is the greatest listed key below every object still inside the settle window, so it only
passes keys that can no longer be new. Keys must therefore sort by arrival (the
producer's keys, `YYYY/MM/DD/...-<time>-<sequence>`, and Firehose's `YYYY/MM/DD/HH/...` do):
an object written later under a key below the floor (a re-write of an old key, a late file
filed under an old date folder) is not listed by the sensor; a rescan run picks it up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

DEFAULT_SETTLE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class ObjectInfo:
    """A listed lake object. `version` changes whenever the content may have changed."""

    key: str
    last_modified: dt.datetime  # UTC
    version: str  # S3: the ETag; local folder: size and mtime in nanoseconds
    size: int


@dataclass(frozen=True)
class ArrivalCursor:
    watermark: dt.datetime | None = None
    seen: frozenset[tuple[str, str, dt.datetime]] = frozenset()  # (key, version, modified)
    start_after: str | None = None  # the next listing starts after this key

    def has_seen(self, obj: ObjectInfo) -> bool:
        return (obj.key, obj.version, obj.last_modified) in self.seen

    def to_json(self) -> str:
        return json.dumps(
            {
                "watermark": self.watermark.isoformat() if self.watermark else None,
                "seen": sorted([k, v, at.isoformat()] for k, v, at in self.seen),
                "start_after": self.start_after,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> ArrivalCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            watermark=dt.datetime.fromisoformat(data["watermark"]) if data["watermark"] else None,
            seen=frozenset((k, v, dt.datetime.fromisoformat(at)) for k, v, at in data["seen"]),
            # Cursors written before the key floor existed list everything once.
            start_after=data.get("start_after"),
        )


def new_arrivals(
    objects: Iterable[ObjectInfo],
    cursor: ArrivalCursor,
    limit: int = 1000,
    settle: dt.timedelta = DEFAULT_SETTLE,
) -> tuple[list[ObjectInfo], ArrivalCursor]:
    """New objects (oldest first, at most `limit`) and the cursor that records them.

    `objects` is the listing after `cursor.start_after`; the returned cursor's floor has
    moved past every listed key that can no longer be new.
    """
    listed = sorted(objects, key=lambda o: (o.last_modified, o.key))
    floor = cursor.watermark - settle if cursor.watermark else None
    fresh = [
        o for o in listed if (floor is None or o.last_modified >= floor) and not cursor.has_seen(o)
    ][:limit]
    if not fresh:
        start_after = key_floor(listed, cursor.watermark, settle, cursor.start_after)
        return [], replace(cursor, start_after=start_after)
    watermark = max(o.last_modified for o in fresh)
    if cursor.watermark and cursor.watermark > watermark:
        watermark = cursor.watermark
    # Remember only what can still be listed inside the window: the cursor stays small.
    seen = {item for item in cursor.seen if item[2] >= watermark - settle}
    seen |= {(o.key, o.version, o.last_modified) for o in fresh}
    start_after = key_floor(listed, watermark, settle, cursor.start_after)
    return fresh, ArrivalCursor(watermark=watermark, seen=frozenset(seen), start_after=start_after)


def key_floor(
    listed: Sequence[ObjectInfo],
    watermark: dt.datetime | None,
    settle: dt.timedelta,
    start_after: str | None,
) -> str | None:
    """The greatest listed key below every object inside the settle window (`start_after`
    when there is none). Objects deferred by the limit are newer than the watermark, so
    they are inside the window too; nothing a later tick may take is ever passed."""
    if watermark is None:
        return start_after
    window = [o.key for o in listed if o.last_modified >= watermark - settle]
    lowest = min(window) if window else None
    below = [o.key for o in listed if lowest is None or o.key < lowest]
    return max(below) if below else start_after


def run_key(objects: Sequence[ObjectInfo]) -> str:
    """Stable identity of a batch of object versions (order-independent)."""
    digest = hashlib.sha256()
    for key, version in sorted((o.key, o.version) for o in objects):
        digest.update(f"{key}\0{version}\n".encode())
    return f"landing-{digest.hexdigest()[:32]}"
