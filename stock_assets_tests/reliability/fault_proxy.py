"""A fault-injecting HTTP proxy on loopback, in front of moto's server.

The code under test talks to it through AWS_ENDPOINT_URL exactly as it talks to AWS; the
proxy forwards every request to moto and fails the ones a `Fault` matches. Faults are
what a real network does to a write: an error answer (the request never applied), a
dropped connection (no answer at all), or a lost reply (applied, but the client sees an
error). Nothing in boto3 is patched.

It also does what moto's Glue leaves out: AWS Glue refuses an UpdateTable whose VersionId
is no longer the table's current version (ConcurrentModificationException), which is the
compare-and-swap Iceberg commits rely on; moto applies every update.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import boto3
import pytest

ERROR = "error"  # answer 500 without forwarding: the request did not apply
DROP = "drop"  # close the connection without an answer: the request did not apply
LOST_REPLY = "lost_reply"  # forward (the request applies), then answer 500
HOLD = "hold"  # hold each match until `rendezvous` of them arrived, then forward them all

PROXIED_BUCKET = "reliability-lake"
# Hop-by-hop headers and those the proxy rewrites; everything else is forwarded verbatim.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "expect", "content-length"}


@dataclass
class Fault:
    """Fail matching requests after the first `after` of them (all later ones, by default)."""

    method: str
    path_contains: str = ""  # a substring of the request path (S3 keys)
    target: str = ""  # the X-Amz-Target header of JSON APIs, e.g. AWSGlue.BatchUpdatePartition
    body_contains: str = ""  # a substring of the request body (which table a Glue call is for)
    after: int = 0
    times: int | None = None  # how many to fail; None: every later match
    action: str = ERROR
    rendezvous: int = 2  # HOLD only: how many requests meet before any goes on
    seen: int = 0
    injected: int = 0

    def __post_init__(self) -> None:
        self._barrier = threading.Barrier(self.rendezvous)

    def hold(self) -> None:
        """Block until `rendezvous` matching requests are here: they then race for real."""
        self._barrier.wait(timeout=60)

    def matches(self, method: str, path: str, target: str, body: bytes) -> bool:
        return (
            method == self.method
            and self.path_contains in path
            and (not self.target or target == self.target)
            and self.body_contains.encode() in body
        )

    def fires(self) -> bool:
        """Count a matching request; True when this one must fail."""
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.injected >= self.times):
            return False
        self.injected += 1
        return True


class FaultProxy:
    """Forwards to `upstream` (moto's URL) and injects the active faults."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname, parts.port)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._glue_updates = threading.Lock()  # one UpdateTable checked and applied at a time
        self.stale_updates_refused = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @contextmanager
    def inject(self, *faults: Fault) -> Iterator[tuple[Fault, ...]]:
        """Activate faults for the duration of a block."""
        with self._lock:
            self._faults.extend(faults)
        try:
            yield faults
        finally:
            with self._lock:
                self._faults = [f for f in self._faults if f not in faults]

    def _fault(self, method: str, path: str, target: str, body: bytes) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, target, body) and fault.fires():
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as boto3 expects

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                connection = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED
                    }
                    headers["Content-Length"] = str(len(body))
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    connection.close()

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _NOT_FORWARDED:
                        self.send_header(name, value)
                # A HEAD answer has no body but the object's length (pyarrow sizes files so).
                upstream = {name.lower(): value for name, value in headers}
                length = upstream.get("content-length", "0") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _stale_glue_update(self, target: str, body: bytes) -> bool:
                """An UpdateTable naming a VersionId that is no longer current (AWS refuses it)."""
                request = json.loads(body or b"{}")
                if target != "AWSGlue.UpdateTable" or "VersionId" not in request:
                    return False
                lookup = {"DatabaseName": request["DatabaseName"]}
                lookup["Name"] = request["TableInput"]["Name"]
                headers = {k: v for k, v in self.headers.items() if k.lower() != "x-amz-target"}
                connection = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    headers |= {"X-Amz-Target": "AWSGlue.GetTable"}
                    payload = json.dumps(lookup).encode()
                    headers["Content-Length"] = str(len(payload))
                    connection.request("POST", self.path, body=payload, headers=headers)
                    current = json.loads(connection.getresponse().read())
                finally:
                    connection.close()
                return current.get("Table", {}).get("VersionId") != request["VersionId"]

            def _handle(self) -> None:
                body = self._body()
                target = self.headers.get("X-Amz-Target", "")
                fault = proxy._fault(self.command, self.path, target, body)
                action = fault.action if fault else None
                if action == HOLD:
                    fault.hold()
                    action = None
                if target != "AWSGlue.UpdateTable":
                    self._apply(action, body)
                    return
                with proxy._glue_updates:
                    if self._stale_glue_update(target, body):
                        proxy.stale_updates_refused += 1
                        refused = {
                            "__type": "ConcurrentModificationException",
                            "message": "the table was updated since VersionId",
                        }
                        content = [("Content-Type", "application/x-amz-json-1.1")]
                        self._reply(400, content, json.dumps(refused).encode())
                        return
                    self._apply(action, body)

            def _apply(self, action: str | None, body: bytes) -> None:
                if action == DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                if action != ERROR:
                    status, headers, answer = self._forward(body)
                    if action is None:
                        self._reply(status, headers, answer)
                        return
                injected = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                self._reply(500, [("Content-Type", "application/xml")], injected)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler


@contextmanager
def proxied_aws(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """AWS mode with a lake bucket behind the proxy; one attempt per call: faults are exact."""
    boto3.client("s3").create_bucket(Bucket=PROXIED_BUCKET)
    proxy = FaultProxy(aws_endpoint).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("STOCK_ASSETS_S3_BUCKET", PROXIED_BUCKET)
    yield proxy
    proxy.stop()
