"""Ticker validation: the only gate between user input and SQL, file paths and S3 keys."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Letters/digits with the separators real tickers use (BRK-B, BRK.B, ^GSPC, EURUSD=X).
# No slash, no whitespace, no quotes, no "..": a valid symbol is safe in a path or a query.
_SYMBOL = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]{0,14}$")


class InvalidSymbolError(ValueError):
    """A symbol that must not reach SQL, a file path or an S3 key."""


def normalize_symbol(raw: object) -> str:
    """Return the canonical (upper-case, trimmed) symbol or raise InvalidSymbolError."""
    if not isinstance(raw, str):
        raise InvalidSymbolError(f"symbol must be text, got {type(raw).__name__}: {raw!r}")
    symbol = raw.strip().upper()
    if not _SYMBOL.fullmatch(symbol) or ".." in symbol:
        raise InvalidSymbolError(f"invalid symbol {raw!r}: expected 1-16 of A-Z 0-9 . - = ^")
    return symbol


def normalize_symbols(raw: Iterable[object]) -> tuple[str, ...]:
    """Validate a list of symbols, dropping duplicates but keeping the caller's order."""
    seen: dict[str, None] = {}
    for item in raw:
        seen.setdefault(normalize_symbol(item), None)
    if not seen:
        raise InvalidSymbolError("the symbol list is empty")
    return tuple(seen)


def parse_symbol_list(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list such as the STOCK_ASSETS_SYMBOLS variable."""
    return normalize_symbols(part for part in text.split(",") if part.strip())
