"""stock_assets: a Dagster code location that turns market quotes into analytics-ready tables."""
