"""The configured market-data source and watchlist, as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from stock_assets.market.actions import parse_action_list
from stock_assets.market.sources import SOURCE_NAMES, MarketDataSource, source_class
from stock_assets.market.watchlist import resolve_symbols


class MarketDataResource(dg.ConfigurableResource):
    """Which provider to pull from (STOCK_ASSETS_SOURCE) and for which symbols."""

    source: str = Field(default="simulated", description=f"One of {', '.join(SOURCE_NAMES)}")
    symbols: str = Field(default="", description="Comma list; empty means the watchlist file")
    fault_rate: float = Field(default=0.0, description="Simulator only: share of bad records")
    csv_path: str = Field(default="", description="csv source: a CSV file or folder of CSVs")
    simulated_actions: str = Field(
        default="",
        description="Simulator only: SYMBOL:YYYY-MM-DD:split|dividend:VALUE,... to make happen",
    )
    alpha_vantage_api_key: str | None = Field(
        default=None, description="Set through EnvVar('ALPHA_VANTAGE_API_KEY'); never logged"
    )

    def watchlist(self) -> tuple[str, ...]:
        return resolve_symbols(self.symbols)

    def client(self) -> MarketDataSource:
        cls = source_class(self.source)
        if self.source == "simulated":
            return cls(
                fault_rate=self.fault_rate, actions=parse_action_list(self.simulated_actions)
            )
        if self.source == "alpha_vantage":
            if not self.alpha_vantage_api_key:
                raise dg.Failure(
                    "ALPHA_VANTAGE_API_KEY is not set; the alpha_vantage source needs it"
                )
            return cls(api_key=self.alpha_vantage_api_key)
        if self.source == "csv":
            if not self.csv_path:
                raise dg.Failure("the csv source needs csv_path (STOCK_ASSETS_CSV_PATH)")
            return cls(path=self.csv_path)
        return cls()
