"""Landing quotes -> stream history rows and the latest snapshot (Dagster-free)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from stock_assets.market import calendar
from stock_assets.market.landing import LandingParse, RecordReject
from stock_assets.market.schemas import LATEST_SNAPSHOT, STREAM_HISTORY, conform


@dataclass(frozen=True)
class StreamBatch:
    rows: pd.DataFrame  # STREAM_HISTORY rows, unique on (symbol, ts)
    rejects: list[tuple[str, RecordReject]]  # (object key, reject)
    duplicates: int  # rows dropped because an earlier row had the same (symbol, ts)


def quote_trading_days(quotes: pd.DataFrame) -> pd.Series:
    """The New York calendar date of each quote (UTC naive timestamps)."""
    local = quotes["ts"].dt.tz_localize("UTC").dt.tz_convert(calendar.MARKET_TIMEZONE)
    return local.dt.date


def stream_batch(parses: Sequence[LandingParse], ingested_at: dt.datetime) -> StreamBatch:
    """Rows for a batch of parsed objects, in arrival order; the first (symbol, ts) wins.

    A quote dated on a day the NYSE is closed has no partition, so it is rejected with
    that reason instead of being filed under a neighbouring day.
    """
    frames = []
    rejects: list[tuple[str, RecordReject]] = []
    for parse in parses:
        rejects.extend((parse.key, r) for r in parse.rejects)
        if parse.quotes.empty:
            continue
        quotes = parse.quotes.assign(
            object_key=parse.key, trade_date=quote_trading_days(parse.quotes)
        )
        reasons = {day: calendar.non_session_reason(day) for day in quotes.trade_date.unique()}
        closed = quotes.trade_date.map(reasons)
        for row, reason in zip(quotes[closed.notna()].itertuples(), closed.dropna(), strict=True):
            raw = f"{row.symbol} {row.ts.isoformat()} {row.price}"
            rejects.append((parse.key, RecordReject(int(row.record_no), f"quote {reason}", raw)))
        frames.append(quotes[closed.isna()])
    if not frames:
        return StreamBatch(STREAM_HISTORY.empty_frame(), rejects, 0)
    rows = pd.concat(frames, ignore_index=True)
    unique = rows.drop_duplicates(["symbol", "ts"], keep="first")
    unique = unique.assign(ingested_at=pd.Timestamp(ingested_at))
    return StreamBatch(conform(unique, STREAM_HISTORY), rejects, len(rows) - len(unique))


def newest_per_symbol(history: pd.DataFrame, updated_at: dt.datetime) -> pd.DataFrame:
    """One row per symbol: the quote with the greatest ts (ties: the later row)."""
    if history.empty:
        return LATEST_SNAPSHOT.empty_frame()
    ordered = history.sort_values(["symbol", "ts"], kind="stable")
    newest = ordered.drop_duplicates("symbol", keep="last")
    return conform(newest.assign(updated_at=pd.Timestamp(updated_at)), LATEST_SNAPSHOT)
