"""Addresses of dashboard pages, the link from each Dagster asset to its page, and back:
from each page to the Dagster asset pages of the tables it shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    import dagster as dg

# url_path of each page in the app; the overview is the app's default page ("/").
PAGE_PATHS = {"overview": "", "symbol": "symbol", "live": "live", "quality": "quality"}
# The page that shows each table's data.
ASSET_PAGES = {
    "bronze/raw_quotes": "quality",
    "silver/price_rejects": "quality",
    "silver/prices": "symbol",
    "gold/adjusted_prices": "symbol",
    "gold/indicators": "symbol",
    "silver/intraday_bars": "symbol",
    "gold/stock_analysis": "symbol",
    "gold/signals": "overview",
    "gold/market_summary": "overview",
    "gold/todays_movers": "overview",
    "gold/todays_signals": "overview",
    "silver/stream_history": "live",
    "gold/latest_snapshot": "live",
    "gold/live_signals": "live",
    "gold/latest_prices": "live",
}


def dagster_asset_url(dagster_url: str, asset: str) -> str:
    """The Dagster UI's page of an asset (`layer/name`) at `dagster_url`."""
    return f"{dagster_url.rstrip('/')}/assets/{asset}"


def page_assets(page: str) -> list[str]:
    """The assets (`layer/name`) whose data a page (a key of PAGE_PATHS) shows."""
    return [asset for asset, shown_on in ASSET_PAGES.items() if shown_on == page]


def dagster_links_markdown(dagster_url: str, page: str) -> str:
    """A line of Markdown linking the Dagster asset pages of the tables a page shows."""
    shown = " · ".join(f"[{a}]({dagster_asset_url(dagster_url, a)})" for a in page_assets(page))
    return f"In Dagster: {shown}"


def page_url(base_url: str, page: str, params: Mapping[str, str] | None = None) -> str:
    """The address of a page (a key of PAGE_PATHS) of the dashboard at `base_url`."""
    url = f"{base_url.rstrip('/')}/{PAGE_PATHS[page]}"
    return f"{url}?{urlencode(params)}" if params else url


def with_dashboard_links(
    assets: Sequence[dg.AssetsDefinition], base_url: str
) -> Sequence[dg.AssetsDefinition]:
    """The assets with a `dashboard` URL (STOCK_ASSETS_DASHBOARD_URL) in their metadata, for
    those a page shows."""
    import dagster as dg

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        page = ASSET_PAGES.get(spec.key.to_user_string())
        if page is None:
            return spec
        return spec.merge_attributes(
            metadata={"dashboard": dg.MetadataValue.url(page_url(base_url, page))}
        )

    return dg.map_asset_specs(apply, assets)
