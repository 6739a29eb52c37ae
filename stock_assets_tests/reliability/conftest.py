"""Reliability fixtures: `reliability_record` adds a row to the report; `fault_proxy` puts
the fault-injecting proxy in front of moto."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator

import pytest

from stock_assets_tests.reliability.fault_proxy import FaultProxy, proxied_aws
from stock_assets_tests.reliability.plugin import RECORD_KEY


@pytest.fixture
def reliability_record(request: pytest.FixtureRequest) -> Callable[[str, str, str], None]:
    """Return `record(area, case, outcome)`; rows reach the report only if the test passes.

    The outcome must come from values the test observed (counts, reason text) and be
    deterministic, so the generated report is byte-for-byte stable: machine paths are refused.
    """
    machine_paths = (tempfile.gettempdir(), str(request.config.rootpath))

    def record(area: str, case: str, outcome: str) -> None:
        for text in (area, case, outcome):
            if not text.strip():
                raise ValueError("reliability records need an area, a case and an outcome")
            if any(path in text for path in machine_paths):
                raise ValueError(f"reliability record contains a machine path: {text!r}")
        request.node.user_properties.append((RECORD_KEY, (area, case, outcome)))

    return record


@pytest.fixture
def fault_proxy(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """AWS mode through the fault-injecting proxy (see `proxied_aws`)."""
    with proxied_aws(aws_endpoint, monkeypatch) as proxy:
        yield proxy
