"""The lake: where verbatim payloads, landing files and quarantine reports live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

import dagster as dg


def validate_key(key: str) -> str:
    """Refuse keys that could escape the lake root (absolute, '..', empty parts)."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
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
