"""Dagster-free domain code: sources, cleaning, indicators, signals and table schemas.

Everything here is plain Python on DataFrames so it can be unit-tested and benchmarked
without an orchestrator; the assets in ``stock_assets.assets`` are thin wrappers.
"""
