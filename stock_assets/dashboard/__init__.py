"""The market dashboard: a Streamlit app over the warehouse (`make dashboard`).

The app defines no Dagster objects and never loads the code location (`links` is the one
module the code location imports, for the link on each asset page): pages read the tables
through the project's SQL engine (DuckDB read-only locally, Athena in AWS mode) with
parameterized queries (`queries`), validate what a user types first (`inputs`), and draw
with Plotly (`charts`). The data-quality page reads check results from the Dagster
instance (`quality`).
"""
