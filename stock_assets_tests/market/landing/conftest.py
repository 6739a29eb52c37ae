from __future__ import annotations

import pytest

from stock_assets.market.landing.spec import RecordChecker


@pytest.fixture
def checked(monkeypatch) -> list[object]:
    """Records that reach the spec's record-by-record checker."""
    seen: list[object] = []
    check = RecordChecker.check
    monkeypatch.setattr(
        RecordChecker, "check", lambda self, record: seen.append(record) or check(self, record)
    )
    return seen
