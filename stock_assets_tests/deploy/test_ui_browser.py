"""The Dagster UI of a running stack, driven in headless Chromium (Debian's, never downloaded).

Opens the global asset lineage and an asset's checks tab after the daily run, asserts what a
user should see there (our assets, our checks, passed) and saves screenshots to
$STOCK_ASSETS_DATA_DIR/screenshots/ (docs/img/ holds copies for the README).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from stock_assets.definitions import defs
from stock_assets_tests.deploy.conftest import PARTITION, Stack

pytestmark = pytest.mark.slow

DAILY_ASSETS = ["raw_quotes", "prices", "price_rejects", "indicators", "signals", "market_summary"]


def screenshot(page, name: str) -> Path:
    folder = Path(os.environ.get("STOCK_ASSETS_DATA_DIR", "data")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def test_asset_graph_shows_our_assets(page, local_stack: Stack, daily_run):
    page.goto(f"{local_stack.url}/asset-groups")
    page.get_by_text("Materialize all").wait_for()
    page.locator("foreignObject.group").first.wait_for()  # groups start collapsed
    page.locator("button:has([aria-label=settings])").last.click()  # the graph's settings
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.get_by_text("raw_quotes", exact=True).first.wait_for()
    page.reload()  # re-fits the now expanded graph to the window
    page.get_by_text("Hide navigation").click()
    page.locator("button:has([aria-label=panel_show_right])").last.click()  # asset sidebar

    graph = page.locator("svg foreignObject")
    for name in DAILY_ASSETS:
        node = graph.get_by_text(name, exact=True).first
        node.wait_for()
        assert node.is_visible(), name
    page.wait_for_load_state("networkidle")  # materialization statuses colour the nodes
    path = screenshot(page, "asset-graph")
    assert path.stat().st_size > 10_000


def test_checks_tab_shows_passed_checks(page, local_stack: Stack, daily_run):
    assert daily_run[1] == "SUCCESS"
    key = dg.AssetKey(["silver", "prices"])
    names = sorted(
        k.name for k in defs().resolve_asset_graph().asset_check_keys if k.asset_key == key
    )
    assert names
    page.goto(f"{local_stack.url}/assets/silver/prices?view=checks")
    page.get_by_text(f"Checks ({len(names)})").wait_for()
    for name in names:
        assert page.get_by_text(name, exact=True).first.is_visible(), name
    # Every check's latest execution succeeded, and the selected one shows the range it judged.
    succeeded = page.get_by_text("Succeeded", exact=True)
    succeeded.nth(len(names) - 1).wait_for()
    assert succeeded.count() == len(names)
    page.get_by_text("Passed", exact=True).first.wait_for()
    assert page.get_by_text(f"{PARTITION}..{PARTITION}").first.is_visible()
    path = screenshot(page, "asset-checks")
    assert path.stat().st_size > 10_000
