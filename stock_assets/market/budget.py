"""Pieces of a history load that fit a memory budget.

A run over N sessions of S symbols holds, at its largest step, the tables of its own
S x N symbol-sessions, and the indicators step also reads up to MAX_LOOKBACK_SESSIONS
earlier sessions of `silver.prices` (the anchored windows of market.lookback). So the peak
memory of a run is about

    PROCESS_BYTES + S x N x ROW_BYTES + S x (N + MAX_LOOKBACK_SESSIONS) x HISTORY_ROW_BYTES

and a history load stays under a budget by running pieces of at most
:func:`sessions_per_piece` consecutive sessions, one run each (a backfill policy of that
many partitions per run, and `stock-assets run` cutting its range the same way). The
constants are measured (benchmarks/run.py --only history_scaling; README "Performance")
and rounded up, so the model over-estimates a little.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from stock_assets.market import calendar
from stock_assets.market.lookback import MAX_LOOKBACK_SESSIONS

GIB = 1024**3
# The run process before it holds a table: Python, pandas, pyarrow, DuckDB, TA-Lib,
# Dagster and the code location.
PROCESS_BYTES = int(0.45 * GIB)
# Per symbol-session of the run's own days: the bronze records and payloads, the cleaned
# bars and the wide indicator rows held together by the largest step. 1,000 in the first
# series (2026-12-07), where one run of 2,000 symbols x 600 sessions peaked at 1.89 GiB
# (about 1,400 bytes per row with its history): raised for headroom.
ROW_BYTES = 1_300
# Per symbol-session of silver history the indicators step reads (its lookback window).
HISTORY_ROW_BYTES = 160


def sessions_per_piece(budget_bytes: float, symbols: int) -> int:
    """The most sessions of `symbols` symbols one run may hold within `budget_bytes`.

    ValueError, naming the budget and the symbol count, when not even one session fits."""
    symbols = max(symbols, 1)
    fixed = PROCESS_BYTES + symbols * MAX_LOOKBACK_SESSIONS * HISTORY_ROW_BYTES
    per_session = symbols * (ROW_BYTES + HISTORY_ROW_BYTES)
    sessions = int((budget_bytes - fixed) // per_session)
    if sessions < 1:
        needed = (fixed + per_session) / GIB
        raise ValueError(
            f"a memory budget of {budget_bytes / GIB:.2f} GiB does not hold one session of "
            f"{symbols} symbols with its indicator history (about {needed:.2f} GiB): raise "
            "STOCK_ASSETS_MEMORY_BUDGET_GB or load fewer symbols"
        )
    return sessions


def pieces(days: Sequence[dt.date], per_piece: int) -> list[list[dt.date]]:
    """`days` (NYSE sessions) cut into runs of consecutive sessions, at most `per_piece`
    each, in date order: a gap (a session not among `days`) always ends a piece, so each
    piece is one partition range."""
    if per_piece < 1:
        raise ValueError(f"a piece holds at least one session, not {per_piece}")
    out: list[list[dt.date]] = []
    previous = None
    for day in sorted(set(days)):
        ordinal = calendar.session_ordinal(day)
        if out and previous == ordinal - 1 and len(out[-1]) < per_piece:
            out[-1].append(day)
        else:
            out.append([day])
        previous = ordinal
    return out
