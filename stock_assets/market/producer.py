"""The demo/intraday producer: latest quotes of the watchlist -> one landing micro-batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from stock_assets.market import calendar
from stock_assets.market.landing import encode_micro_batch, micro_batch_key
from stock_assets.market.sources import MarketDataSource


def market_is_open(at: dt.datetime) -> str | None:
    """None while the NYSE session is trading at `at`, else the reason it is not."""
    day = calendar.trading_day_of(at)
    reason = calendar.non_session_reason(day)
    if reason:
        return reason
    opens, closes = calendar.market_open_utc(day), calendar.market_close_utc(day)
    if not opens <= at < closes:
        return f"{at.isoformat()} is outside the {day} session ({opens:%H:%M}-{closes:%H:%M} UTC)"
    return None


def produce_micro_batch(
    source: MarketDataSource,
    symbols: Sequence[str],
    as_of: dt.datetime,
    put: Callable[[str, bytes], object],
    sequence: int = 0,
    fmt: str = "jsonl",
) -> tuple[str | None, int]:
    """Write the latest quote per symbol as of `as_of`; return (lake key, quote count).

    Nothing is written when there is no quote (an empty object would be quarantined).
    """
    quotes = source.latest_quotes(symbols, as_of)
    if not quotes:
        return None, 0
    key = micro_batch_key(as_of, sequence, fmt)
    put(key, encode_micro_batch(quotes, fmt))
    return key, len(quotes)
