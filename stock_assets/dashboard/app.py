"""The dashboard's entry point for `streamlit run`: the navigation between the pages.

The page modules live in `screens/`, not `pages/`: Streamlit would take a `pages/` folder
next to the entry script for pages of its own and list each module as a blank page.
"""

from __future__ import annotations

import streamlit as st

from stock_assets.dashboard.links import PAGE_PATHS
from stock_assets.dashboard.screens import live, overview, quality, symbol

PAGES = {
    "overview": st.Page(overview.render, title="Market overview", default=True),
    "symbol": st.Page(symbol.render, title="Symbol", url_path=PAGE_PATHS["symbol"]),
    "live": st.Page(live.render, title="Live", url_path=PAGE_PATHS["live"]),
    "quality": st.Page(quality.render, title="Data quality", url_path=PAGE_PATHS["quality"]),
}

st.set_page_config(page_title="stock_assets", layout="wide")
st.navigation(list(PAGES.values())).run()
