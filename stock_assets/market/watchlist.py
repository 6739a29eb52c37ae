"""The default watchlist shipped with the package (symbol, company name, listing date)."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from stock_assets.market.symbols import normalize_symbol, parse_symbol_list


@dataclass(frozen=True)
class Listing:
    symbol: str
    name: str
    listed_since: dt.date | None  # None: trading before the simulator's calendar starts


@lru_cache(maxsize=1)
def default_listings() -> dict[str, Listing]:
    text = files("stock_assets").joinpath("watchlist.csv").read_text(encoding="utf-8")
    listings = {}
    for row in csv.DictReader(text.splitlines()):
        symbol = normalize_symbol(row["symbol"])
        since = row.get("listed_since") or ""
        listings[symbol] = Listing(
            symbol=symbol,
            name=row["name"].strip(),
            listed_since=dt.date.fromisoformat(since) if since else None,
        )
    return listings


def resolve_symbols(override: str | None) -> tuple[str, ...]:
    """STOCK_ASSETS_SYMBOLS (comma list) when set, else the packaged watchlist."""
    if override and override.strip():
        return parse_symbol_list(override)
    return tuple(default_listings())
