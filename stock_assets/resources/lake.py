"""The lake: where verbatim payloads, landing files and quarantine reports live."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import dagster as dg

from stock_assets.market.arrivals import ObjectInfo
from stock_assets.settings import aws_endpoint_url, aws_region


def s3_client():
    """A shared S3 client (clients are thread-safe and costly to build) for this endpoint."""
    return _cached_s3_client(aws_endpoint_url(), aws_region())


@lru_cache(maxsize=4)
def _cached_s3_client(endpoint: str | None, region: str | None):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=region)


def validate_key(key: str) -> str:
    """Refuse keys that could escape the lake root (absolute, '..', empty parts)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid lake key {key!r}")
    return key


class LakeResource(dg.ConfigurableResource):
    """Key/value access to the lake; keys are lake-relative ('bronze/raw_quotes/...')."""

    def uri(self, key: str) -> str:
        """Where the object lives, for people: a file path or an s3:// URI."""
        raise NotImplementedError

    def put(self, key: str, data: bytes) -> str:
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when there is none (either implementation)."""
        raise NotImplementedError

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the object only if no object has the key; True when this call created it."""
        raise NotImplementedError

    def list_objects(self, prefix: str, start_after: str | None = None) -> list[ObjectInfo]:
        """Every object under a lake prefix whose key sorts after `start_after` (all pages),
        oldest first. Keys compare as S3 orders them (by UTF-8 bytes, i.e. code points)."""
        raise NotImplementedError

    def move(self, key: str, new_key: str) -> None:
        """Move an object (quarantine); the source is gone once the copy is complete."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove an object; removing one that is not there is not an error."""
        raise NotImplementedError


class LocalLake(LakeResource):
    """The lake as a local folder ($STOCK_ASSETS_DATA_DIR/lake)."""

    root: str

    def uri(self, key: str) -> str:
        return str(Path(self.root) / validate_key(key))

    def put(self, key: str, data: bytes) -> str:
        """Write atomically (temp file + rename): readers never see half a file."""
        target = Path(self.uri(key))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        return Path(self.uri(key)).read_bytes()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = Path(self.uri(key))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.link(tmp, target)  # atomic, and fails if the key exists: first writer wins
            return True
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)

    def list_objects(self, prefix: str, start_after: str | None = None) -> list[ObjectInfo]:
        root = Path(self.root)
        base = root / validate_key(prefix.rstrip("/"))
        found = []
        for path in _walk_after(base, base.relative_to(root).as_posix(), start_after):
            stat = path.stat()
            found.append(
                ObjectInfo(
                    key=path.relative_to(root).as_posix(),
                    last_modified=dt.datetime.fromtimestamp(stat.st_mtime_ns / 1e9, dt.UTC),
                    version=f"{stat.st_size}-{stat.st_mtime_ns}",
                    size=stat.st_size,
                )
            )
        return sorted(found, key=lambda o: (o.last_modified, o.key))

    def move(self, key: str, new_key: str) -> None:
        target = Path(self.uri(new_key))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.uri(key), target)

    def exists(self, key: str) -> bool:
        return Path(self.uri(key)).is_file()

    def delete(self, key: str) -> None:
        Path(self.uri(key)).unlink(missing_ok=True)


def _walk_after(folder: Path, key: str, start_after: str | None) -> Iterator[Path]:
    """Files under `folder` (lake key `key`) whose keys sort after `start_after`, skipping
    every sub-folder whose keys all sort before it: with date folders a listing reads the
    latest days' folders, not the history."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        child = f"{key}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            inside = f"{child}/"
            if start_after is None or inside > start_after or start_after.startswith(inside):
                yield from _walk_after(Path(entry.path), child, start_after)
        elif (
            entry.is_file()
            and not entry.name.startswith(".tmp-")
            and (start_after is None or child > start_after)
        ):
            yield Path(entry.path)


class S3Lake(LakeResource):
    """The lake as s3://bucket/prefix (AWS mode). Clients honour AWS_ENDPOINT_URL."""

    bucket: str
    prefix: str = "stock-assets"

    def s3_key(self, key: str) -> str:
        return f"{self.prefix.strip('/')}/{validate_key(key)}" if self.prefix else validate_key(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.s3_key(key)}"

    def client(self):
        return s3_client()

    def put(self, key: str, data: bytes) -> str:
        # A single PUT is atomic in S3: readers see the old object or the new one.
        self.client().put_object(Bucket=self.bucket, Key=self.s3_key(key), Body=data)
        return key

    def get(self, key: str) -> bytes:
        client = self.client()
        try:
            response = client.get_object(Bucket=self.bucket, Key=self.s3_key(key))
        except client.exceptions.NoSuchKey:
            raise FileNotFoundError(self.uri(key)) from None
        return response["Body"].read()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client().put_object(
                Bucket=self.bucket, Key=self.s3_key(key), Body=data, IfNoneMatch="*"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return False
            raise
        return True

    def list_objects(self, prefix: str, start_after: str | None = None) -> list[ObjectInfo]:
        root = self.s3_key(prefix.rstrip("/")) + "/"
        strip = len(self.s3_key("x")) - 1  # length of "<prefix>/"
        found = []
        after = {"StartAfter": self.s3_key(start_after)} if start_after else {}
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=root, **after)
        )
        for page in pages:  # 1,000 keys a page
            for item in page.get("Contents", []):
                found.append(
                    ObjectInfo(
                        key=item["Key"][strip:],
                        last_modified=item["LastModified"].astimezone(dt.UTC),
                        version=item["ETag"].strip('"'),
                        size=item["Size"],
                    )
                )
        return sorted(found, key=lambda o: (o.last_modified, o.key))

    def move(self, key: str, new_key: str) -> None:
        client = self.client()
        source = {"Bucket": self.bucket, "Key": self.s3_key(key)}
        client.copy_object(Bucket=self.bucket, Key=self.s3_key(new_key), CopySource=source)
        client.delete_object(**source)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client().head_object(Bucket=self.bucket, Key=self.s3_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client().delete_object(Bucket=self.bucket, Key=self.s3_key(key))
