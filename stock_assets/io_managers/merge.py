"""Merge writes: how an asset appends without ever duplicating or regressing a row.

Most assets replace their partitions. An asset whose metadata carries `merge_keys` is
merged instead: new rows are matched to stored rows on those columns. With
`merge_newest_by`, a matched row is replaced only by a row with a larger value in that
column (the latest snapshot: newest quote wins); without it the stored row stays (stream
history: each quote is written once, so re-delivered files change nothing). Every IO
manager implements these semantics, so asset code is the same in every mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

MERGE_KEYS = "merge_keys"
MERGE_NEWEST_BY = "merge_newest_by"


@dataclass(frozen=True)
class MergeSpec:
    keys: tuple[str, ...]
    newest_by: str | None = None

    def metadata(self) -> dict[str, object]:
        meta: dict[str, object] = {MERGE_KEYS: list(self.keys)}
        if self.newest_by:
            meta[MERGE_NEWEST_BY] = self.newest_by
        return meta


def merge_spec(metadata: Mapping[str, object] | None) -> MergeSpec | None:
    """The merge spec declared in an asset's definition metadata, if any."""
    if not metadata or MERGE_KEYS not in metadata:
        return None
    keys = metadata[MERGE_KEYS]
    keys = getattr(keys, "value", keys)  # metadata values may arrive wrapped
    newest = metadata.get(MERGE_NEWEST_BY)
    newest = getattr(newest, "value", newest)
    return MergeSpec(keys=tuple(keys), newest_by=newest)


def merge_frames(stored: pd.DataFrame, new: pd.DataFrame, spec: MergeSpec) -> pd.DataFrame:
    """The merged table for stores that rewrite whole files (S3 Parquet)."""
    if stored.empty:
        return new.drop_duplicates(list(spec.keys)).reset_index(drop=True)
    if new.empty:
        return stored.reset_index(drop=True)
    both = pd.concat([stored.assign(_stored=1), new.assign(_stored=0)], ignore_index=True)
    if spec.newest_by:
        # Larger value wins; on a tie the stored row stays.
        both = both.sort_values([spec.newest_by, "_stored"], kind="stable")
        keep = "last"
    else:
        both = both.sort_values("_stored", ascending=False, kind="stable")
        keep = "first"
    merged = both.drop_duplicates(list(spec.keys), keep=keep).drop(columns="_stored")
    return merged.sort_index().reset_index(drop=True)
