"""What the UI says about each asset: groups by layer, owners, kinds of the mode, previews."""

from __future__ import annotations

import pandas as pd

from stock_assets.assets.metadata import markdown_table
from stock_assets.definitions import build_definitions, defs
from stock_assets.settings import Settings

LAYERS = {"bronze", "silver", "gold", "stream", "views"}


def test_every_asset_has_a_layer_group_an_owner_and_a_description():
    graph = defs().resolve_asset_graph()
    nodes = [graph.get(key) for key in graph.get_all_asset_keys()]
    assert {node.group_name for node in nodes} == LAYERS
    for node in nodes:
        assert node.description and node.owners == ["team:market-data"], node.key
        stream = ("stream_history", "latest_snapshot", "live_signals")  # the arrivals runs
        expected = "stream" if node.key.path[1] in stream else None
        expected = expected or ("views" if "sql" in node.kinds else node.key.path[0])
        assert node.group_name == expected, node.key


def kinds_in(settings: Settings) -> dict[str, list[str]]:
    """Each asset's kinds in the code location built for `settings`."""
    graph = build_definitions(settings).resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    return {key.to_user_string(): sorted(graph.get(key).kinds) for key in keys}


def test_kinds_name_the_storage_of_the_mode(tmp_path, aws_endpoint):
    local = kinds_in(Settings(data_dir=tmp_path))
    aws = kinds_in(Settings(env="aws", s3_bucket="lake", data_dir=tmp_path))
    assert local["silver/prices"] == ["duckdb", "pandas"]
    assert local["bronze/raw_quotes"] == ["duckdb", "python"]
    assert local["gold/latest_prices"] == ["duckdb", "sql"]
    assert aws["silver/prices"] == ["glue", "pandas", "s3"]
    assert aws["gold/latest_snapshot"] == ["glue", "pandas", "s3"]
    assert aws["gold/latest_prices"] == ["athena", "sql"]
    every_asset = {
        key.to_user_string() for key in defs().resolve_asset_graph().get_all_asset_keys()
    }
    assert local.keys() == aws.keys() == every_asset
    assert all("duckdb" in kinds for kinds in local.values())
    assert not any("duckdb" in kinds for kinds in aws.values())


def test_previews_round_numbers_for_reading():
    frame = pd.DataFrame(
        {"symbol": ["AAPL", "MSFT"], "price": [169.12199999999999, None], "volume": [10, 20]}
    )
    assert markdown_table(frame).splitlines() == [
        "| symbol | price | volume |",
        "|---|---|---|",
        "| AAPL | 169.122 | 10 |",
        "| MSFT |  | 20 |",
    ]
