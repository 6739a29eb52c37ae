"""A small file cache for what the code location would otherwise derive at every import.

Dagster starts a fresh process for every run, and that process imports the code location
again. Values that depend only on library versions and files (the exchange calendar, the
tables each SQL view reads) are therefore stored here, each under a key naming everything it
depends on. An entry is one file: a JSON header line with its key and the SHA-256 of the
payload, then the payload. It is used only if the key matches, the digest checks and the
caller's decoder accepts it; otherwise it is rebuilt. Writes go to a temporary file that
replaces the entry atomically, so readers never see half of one, and a folder that cannot be
written only means computing every time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from stock_assets import settings

T = TypeVar("T")
log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """$STOCK_ASSETS_CACHE_DIR, else $XDG_CACHE_HOME/stock_assets or ~/.cache/stock_assets."""
    return settings.cache_dir()


def source_digest(module_file: str) -> str:
    """A digest of a module's source, for keys: its entries are rebuilt when the code changes."""
    return hashlib.sha256(Path(module_file).read_bytes()).hexdigest()


def cached(
    name: str,
    key: Mapping[str, str],
    build: Callable[[], T],
    encode: Callable[[T], bytes],
    decode: Callable[[bytes], T],
) -> T:
    """The value stored under `name` for `key`, or build() (stored for the next process).

    `decode` raises ValueError, LookupError, TypeError or AttributeError on a payload it does
    not accept (what json.loads and reading the parsed payload raise): it is rebuilt.
    """
    folder = cache_dir()
    path = folder / name if folder else None
    if path:
        try:
            return decode(_payload(path.read_bytes(), key))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, LookupError, TypeError, AttributeError) as error:
            log.info("rebuilding the cache entry %s: %s", path, error)
    value = build()
    if path:
        _write(path, _entry(key, encode(value)))
    return value


def _entry(key: Mapping[str, str], payload: bytes) -> bytes:
    header = {"key": dict(key), "sha256": hashlib.sha256(payload).hexdigest()}
    return json.dumps(header).encode() + b"\n" + payload


def _payload(entry: bytes, key: Mapping[str, str]) -> bytes:
    head, _, payload = entry.partition(b"\n")
    header = json.loads(head)
    if not isinstance(header, dict) or header.get("key") != dict(key):
        raise ValueError("stale: written for another key")
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise ValueError("damaged: the payload does not match its digest")
    return payload


def _write(path: Path, entry: bytes) -> None:
    """Write `entry` to a temporary file beside `path`, then rename it over `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        log.info("not caching %s: %s", path, error)
        return
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(entry)
        os.replace(tmp, path)
    except OSError as error:
        log.info("not caching %s: %s", path, error)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
