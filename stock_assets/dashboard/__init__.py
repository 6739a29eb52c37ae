"""The market dashboard: a Streamlit app over the warehouse (`make dashboard`).

It defines no Dagster objects and never loads the code location: pages read the tables
through the project's SQL engine (DuckDB read-only locally, Athena in AWS mode) with
parameterized queries (`queries`), validate what a user types first (`inputs`), and draw
with Plotly (`charts`). The data-quality page reads check results from the Dagster
instance (`quality`).
"""
