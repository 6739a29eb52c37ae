"""History windows for recursive indicators, chosen so results never depend on run shape.

EMA, MACD and Wilder's RSI are recursions: a value depends on every earlier bar, with
weights that decay geometrically. We compute each target day from a window that starts at
a fixed anchor: the first session of the block of BLOCK_SESSIONS sessions lying
WARMUP_BLOCKS blocks before the target's own block. The anchor is a function of the day
alone, so a day computed alone, in a backfill or in any order gives bit-identical values,
and each window holds 500-749 earlier sessions: enough for the seeds' influence to decay
below 1e-12 of the value (EMA-26: (25/27)^500 ~ 1e-17), so values equal TA-Lib over the full
history within that tolerance while a daily run reads a bounded, constant amount of history.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from stock_assets.market import calendar

BLOCK_SESSIONS = 250
WARMUP_BLOCKS = 2
MAX_LOOKBACK_SESSIONS = (WARMUP_BLOCKS + 1) * BLOCK_SESSIONS  # for the partition mapping


def window_start(day: dt.date) -> dt.date:
    block = calendar.session_ordinal(day) // BLOCK_SESSIONS
    return calendar.session_at(max(0, (block - WARMUP_BLOCKS) * BLOCK_SESSIONS))


def windows_for(days: list[dt.date]) -> dict[dt.date, list[dt.date]]:
    """Group target days by the window start they share (one computation per group)."""
    groups: dict[dt.date, list[dt.date]] = defaultdict(list)
    for day in sorted(days):
        groups[window_start(day)].append(day)
    return dict(groups)
