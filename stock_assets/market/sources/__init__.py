"""Market data sources, selected by name (STOCK_ASSETS_SOURCE)."""

from __future__ import annotations

from importlib import import_module

from stock_assets.market.sources.base import (
    Extraction,
    MarketDataSource,
    PriceQuery,
    RawRecord,
    RecordError,
    RecordParser,
    SourceError,
)

# name -> "module:Class"; imported lazily so yfinance/requests load only when used.
_SOURCE_CLASSES = {
    "simulated": "stock_assets.market.sources.simulated:SimulatedSource",
    "yahoo": "stock_assets.market.sources.yahoo:YahooSource",
    "alpha_vantage": "stock_assets.market.sources.alpha_vantage:AlphaVantageSource",
    "csv": "stock_assets.market.sources.csv_file:CsvFileSource",
}
SOURCE_NAMES = tuple(_SOURCE_CLASSES)


def source_class(name: str) -> type[MarketDataSource]:
    try:
        module_name, class_name = _SOURCE_CLASSES[name].split(":")
    except KeyError:
        expected = ", ".join(SOURCE_NAMES)
        raise ValueError(f"unknown source {name!r}; expected one of {expected}") from None
    return getattr(import_module(module_name), class_name)


def parser_for(name: str) -> RecordParser:
    """The record parser of a source, used to rebuild silver from bronze payloads."""
    return source_class(name).parse_record


__all__ = [
    "SOURCE_NAMES",
    "Extraction",
    "MarketDataSource",
    "PriceQuery",
    "RawRecord",
    "RecordError",
    "SourceError",
    "parser_for",
    "source_class",
]
