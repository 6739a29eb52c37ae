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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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

    def has_seen(self, obj: ObjectInfo) -> bool:
        return (obj.key, obj.version, obj.last_modified) in self.seen

    def to_json(self) -> str:
        return json.dumps(
            {
                "watermark": self.watermark.isoformat() if self.watermark else None,
                "seen": sorted([k, v, at.isoformat()] for k, v, at in self.seen),
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
        )


def new_arrivals(
    objects: Iterable[ObjectInfo],
    cursor: ArrivalCursor,
    limit: int = 1000,
    settle: dt.timedelta = DEFAULT_SETTLE,
) -> tuple[list[ObjectInfo], ArrivalCursor]:
    """New objects (oldest first, at most `limit`) and the cursor that records them."""
    listed = sorted(objects, key=lambda o: (o.last_modified, o.key))
    floor = cursor.watermark - settle if cursor.watermark else None
    fresh = [
        o for o in listed if (floor is None or o.last_modified >= floor) and not cursor.has_seen(o)
    ][:limit]
    if not fresh:
        return [], cursor
    watermark = max(o.last_modified for o in fresh)
    if cursor.watermark and cursor.watermark > watermark:
        watermark = cursor.watermark
    # Remember only what can still be listed inside the window: the cursor stays small.
    seen = {item for item in cursor.seen if item[2] >= watermark - settle}
    seen |= {(o.key, o.version, o.last_modified) for o in fresh}
    return fresh, ArrivalCursor(watermark=watermark, seen=frozenset(seen))


def run_key(objects: Sequence[ObjectInfo]) -> str:
    """Stable identity of a batch of object versions (order-independent)."""
    digest = hashlib.sha256()
    for key, version in sorted((o.key, o.version) for o in objects):
        digest.update(f"{key}\0{version}\n".encode())
    return f"landing-{digest.hexdigest()[:32]}"
