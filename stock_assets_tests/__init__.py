"""Tests of stock_assets.

Importing this package (pytest does so before any test module or conftest) points the code
location's file cache (stock_assets/market/filecache.py) at a folder of this test session,
so tests never read or write the user's cache; processes the tests start inherit it.
"""

import atexit
import os
import shutil
import tempfile

if "STOCK_ASSETS_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="stock_assets_test_cache_")
    os.environ["STOCK_ASSETS_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, True)
