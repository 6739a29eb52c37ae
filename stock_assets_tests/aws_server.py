"""A real S3/Glue/SNS-compatible HTTP server on loopback: moto's server mode, in a subprocess.

Tests talk to it over HTTP through boto3's standard AWS_ENDPOINT_URL, exactly as the code
talks to AWS; nothing in boto3 is patched.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start `python -m moto.server` on 127.0.0.1 for the test session; yield its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def aws_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every boto3 client at the loopback server, with its state reset for this test."""
    _reset(moto_server)
    for name, value in {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert os.environ["AWS_ENDPOINT_URL"] == moto_server
    return moto_server


@contextlib.contextmanager
def in_process_moto_server() -> Iterator[str]:
    """moto's server on loopback in this process (a thread), so `bulk_put_objects` can seed
    its S3 backend directly; yields its URL. Clients still talk to it over HTTP."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        _reset(url)  # the backends live in this process: start from nothing
        yield url
    finally:
        _reset(url)
        server.stop()


def _reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def bulk_put_objects(bucket: str, keys: list[str], last_modified: dt.datetime) -> None:
    """Objects (same small body) straight into the in-process server's S3 backend, dated
    `last_modified`: 10^5 PUTs over HTTP would take minutes, this takes a second."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    template = backend.put_object(bucket, keys[0], b"{}\n", disable_notification=True)
    store = backend.get_bucket(bucket).keys
    naive_utc = last_modified.astimezone(dt.UTC).replace(tzinfo=None)  # as moto keeps it
    for key in keys:
        item = copy.copy(template)
        item.name, item.last_modified = key, naive_utc
        store.setlist(key, [item])
