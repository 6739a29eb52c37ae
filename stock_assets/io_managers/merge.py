"""Merge writes: how an asset appends without ever duplicating or regressing a row.

Most assets replace their partitions. An asset whose metadata carries `merge_keys` is
merged instead: new rows are matched to stored rows on those columns. With
`merge_newest_by`, a matched row is replaced only by a row with a larger value in that
column (the latest snapshot: newest quote wins); without it the stored row stays (stream
history: each quote is written once, so re-delivered files change nothing). With
`fallback` = (column, value) and a `scope`, rows carrying that value only stand in for
better rows: in a scope (symbol and day) where any row has another value, stored or new,
the fallback rows are removed and new ones are not written (vendor bars replace the
stream-derived bars of a closed session, and a late stream file never brings them back).
A batch that repeats a key writes one row for it, as if its rows came one at a time: the
first, or with `merge_newest_by` the first of the largest.
Every IO manager implements these semantics, so asset code is the same in every mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

MERGE_KEYS = "merge_keys"
MERGE_NEWEST_BY = "merge_newest_by"
MERGE_SCOPE = "merge_scope"
MERGE_FALLBACK = "merge_fallback"


@dataclass(frozen=True)
class MergeSpec:
    keys: tuple[str, ...]
    newest_by: str | None = None
    scope: tuple[str, ...] = ()
    fallback: tuple[str, str] | None = None  # (column, value) of rows that yield in a scope

    def __post_init__(self) -> None:
        if bool(self.scope) != bool(self.fallback):
            raise ValueError("a merge fallback needs a scope, and a scope a fallback")

    def metadata(self) -> dict[str, object]:
        meta: dict[str, object] = {MERGE_KEYS: list(self.keys)}
        if self.newest_by:
            meta[MERGE_NEWEST_BY] = self.newest_by
        if self.fallback:
            meta[MERGE_SCOPE] = list(self.scope)
            meta[MERGE_FALLBACK] = list(self.fallback)
        return meta


def merge_spec(metadata: Mapping[str, object] | None) -> MergeSpec | None:
    """The merge spec declared in an asset's definition metadata, if any."""
    if not metadata or MERGE_KEYS not in metadata:
        return None

    def value(name: str) -> object:
        item = metadata.get(name)
        return getattr(item, "value", item)  # metadata values may arrive wrapped

    fallback = value(MERGE_FALLBACK)
    return MergeSpec(
        keys=tuple(value(MERGE_KEYS)),
        newest_by=value(MERGE_NEWEST_BY),
        scope=tuple(value(MERGE_SCOPE) or ()),
        fallback=(str(fallback[0]), str(fallback[1])) if fallback else None,
    )


def drop_fallback_rows(
    stored: pd.DataFrame, new: pd.DataFrame, spec: MergeSpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames without the fallback rows of scopes that have any other row."""
    if spec.fallback is None:
        return stored, new
    column, value = spec.fallback
    scope = list(spec.scope)
    better = pd.concat([f.loc[f[column] != value, scope] for f in (stored, new)])
    covered = pd.MultiIndex.from_frame(better.drop_duplicates())

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        inside = pd.MultiIndex.from_frame(frame[scope]).isin(covered)
        return frame[~(inside & (frame[column] == value).to_numpy())]

    return keep(stored), keep(new)


def one_row_per_key(new: pd.DataFrame, spec: MergeSpec) -> pd.DataFrame:
    """The batch with one row per key: the first, or the first of the newest (every writer
    merges this, so a batch that repeats a key lands the same in every store)."""
    keys = list(spec.keys)
    if not spec.newest_by:
        return new.drop_duplicates(keys)
    newest_first = new.sort_values(spec.newest_by, ascending=False, kind="stable")
    return newest_first.drop_duplicates(keys).sort_index()


def merge_frames(stored: pd.DataFrame, new: pd.DataFrame, spec: MergeSpec) -> pd.DataFrame:
    """The merged table for stores that rewrite whole files (S3 Parquet)."""
    stored, new = drop_fallback_rows(stored, one_row_per_key(new, spec), spec)
    if stored.empty:
        return new.reset_index(drop=True)
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
