"""Upkeep of the Iceberg lake: small files compacted, old snapshots expired, their files freed.

Stream merges append a small file per micro-batch; compaction rewrites a partition holding
many of them as one file, in one commit (readers of the older snapshot keep their files).
Snapshots older than the retention are expired, and only then are the files that no
remaining snapshot references deleted. The retention must outlast any query (Athena's
longest runs for hours; the default keeps a week), since a query reads the snapshot it
started on until it ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyarrow.compute as pc

from stock_assets.io_managers.iceberg import IcebergIOManager, IcebergTable, _days_filter
from stock_assets.io_managers.table_metadata import PARTITION_COLUMN

DEFAULT_RETENTION = dt.timedelta(days=7)
DEFAULT_MIN_FILES = 8  # a partition with this many data files is rewritten as one


@dataclass(frozen=True)
class Upkeep:
    """What one table's maintenance did."""

    table: str
    partitions_compacted: int
    snapshots_expired: int
    files_deleted: int


def compact(
    manager: IcebergIOManager, table: IcebergTable, min_files: int = DEFAULT_MIN_FILES
) -> int:
    """Rewrite each partition with at least `min_files` data files as one file (one commit
    for all of them); returns how many partitions were rewritten."""
    current = manager.load(table)
    if current is None or current.current_snapshot() is None:
        return 0
    files = current.inspect.files()
    if not table.partitioned:
        crowded = [None] if files.num_rows >= min_files else []
    else:
        days = pc.struct_field(files.column("partition"), PARTITION_COLUMN)
        counts = pc.value_counts(days).to_pylist()
        crowded = sorted(c["values"].isoformat() for c in counts if c["counts"] >= min_files)
    if not crowded:
        return 0
    scope = _days_filter(crowded) if table.partitioned else None

    def rewrite(transaction, fresh) -> bool:
        rows = fresh.scan(**({"row_filter": scope} if scope is not None else {})).to_arrow()
        transaction.overwrite(
            rows,
            **({"overwrite_filter": scope} if scope is not None else {}),
            snapshot_properties={"stock_assets.operation": "compaction"},
        )
        return True

    manager.commit(table, current.schema().as_arrow(), rewrite)
    return len(crowded)


def expire(
    manager: IcebergIOManager,
    table: IcebergTable,
    retention: dt.timedelta = DEFAULT_RETENTION,
    now: dt.datetime | None = None,
) -> tuple[int, int]:
    """Expire snapshots older than `retention` (the current one always stays), then delete
    the data and manifest files no remaining snapshot uses and older than the retention
    (so files of a commit still in flight are never touched). Returns (snapshots, files)."""
    current = manager.load(table)
    if current is None:
        return 0, 0
    cutoff = (now or dt.datetime.now(dt.UTC)) - retention
    before = len(current.snapshots())
    current.maintenance.expire_snapshots().older_than(cutoff).commit()
    current = manager.load(table)
    expired = before - len(current.snapshots())
    return expired, _delete_unreferenced(current, cutoff)


def _delete_unreferenced(current, cutoff: dt.datetime) -> int:
    """Delete data/ and manifest files under the table that no snapshot references."""
    import boto3

    used: set[str] = set()
    for snapshot in current.snapshots():
        used.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(current.io):
            used.add(manifest.manifest_path)
            used.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(current.io))
    location = urlsplit(current.location())
    bucket, root = location.netloc, location.path.strip("/") + "/"
    s3 = boto3.client("s3")
    doomed = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root)
        for obj in page.get("Contents", [])
        if obj["Key"].endswith((".parquet", ".avro"))
        and f"s3://{bucket}/{obj['Key']}" not in used
        and obj["LastModified"] < cutoff
    ]
    for start in range(0, len(doomed), 1000):
        chunk = doomed[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk]})
    return len(doomed)


def maintain(
    manager: IcebergIOManager,
    tables: list[str],
    retention: dt.timedelta = DEFAULT_RETENTION,
    min_files: int = DEFAULT_MIN_FILES,
) -> list[Upkeep]:
    """Compact, then expire, each of the `layer.table` names that exists."""
    done = []
    for name in tables:
        stored = manager.load(manager.table(name, partitioned=False))
        if stored is None:
            continue
        table = manager.table(name, partitioned=not stored.spec().is_unpartitioned())
        compacted = compact(manager, table, min_files)
        expired, deleted = expire(manager, table, retention)
        done.append(Upkeep(name, compacted, expired, deleted))
    return done
