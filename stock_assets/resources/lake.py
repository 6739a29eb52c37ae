"""The lake: where verbatim payloads, landing files and quarantine reports live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dagster as dg


def validate_key(key: str) -> str:
    """Refuse keys that could escape the lake root (absolute, '..', empty parts)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid lake key {key!r}")
    return key


class LakeResource(dg.ConfigurableResource):
    """Key/value access to the lake; keys are lake-relative ('bronze/raw_quotes/...')."""

    def put(self, key: str, data: bytes) -> str:
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        raise NotImplementedError

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the object only if no object has the key; True when this call created it."""
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


class S3Lake(LakeResource):
    """The lake as s3://bucket/prefix (AWS mode). Clients honour AWS_ENDPOINT_URL."""

    bucket: str
    prefix: str = "stock-assets"

    def s3_key(self, key: str) -> str:
        return f"{self.prefix.strip('/')}/{validate_key(key)}" if self.prefix else validate_key(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.s3_key(key)}"

    def client(self):
        import boto3

        return boto3.client("s3")

    def put(self, key: str, data: bytes) -> str:
        # A single PUT is atomic in S3: readers see the old object or the new one.
        self.client().put_object(Bucket=self.bucket, Key=self.s3_key(key), Body=data)
        return key

    def get(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=self.s3_key(key))["Body"].read()

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
