"""What the UI says about the stream tables is what they hold (the stack, in headless Chromium).

Landing objects go to the stack's S3 bucket; its daemon's arrivals sensor ingests them. The
expected rows come from the quotes written, not from the code under test.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from stock_assets.market.landing import encode_micro_batch
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets_tests.deploy.conftest import RUN_TIMEOUT_SECONDS, SYMBOLS, Stack

pytestmark = pytest.mark.slow

STREAM_RUNS = """
query { runsOrError(filter: {pipelineName: "stream_ingest_job"}) {
    ... on Runs { results { status } } } }
"""


def quotes(symbols: list[str], hour: int, day: int = 5) -> list[dict]:
    as_of = dt.datetime(2024, 7, day, hour, tzinfo=dt.UTC)
    return SimulatedSource().latest_quotes(symbols, as_of)


def land(stack: Stack, name: str, batch: list[dict], new_runs: int = 1) -> None:
    """Put a landing object and wait until `new_runs` more stream runs succeeded (its own, and
    one per other day its quotes fall on)."""
    done = len(stack.graphql(STREAM_RUNS)["runsOrError"]["results"])
    stack.boto3_client("s3").put_object(
        Bucket=stack.env["STOCK_ASSETS_S3_BUCKET"],
        Key=f"stock-assets/landing/quotes/ui/{name}",
        Body=encode_micro_batch(batch),
    )
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while True:
        runs = stack.graphql(STREAM_RUNS)["runsOrError"]["results"]
        finished = [r["status"] for r in runs if r["status"] in ("SUCCESS", "FAILURE")]
        if len(finished) >= done + new_runs:
            assert finished.count("SUCCESS") == len(finished), runs
            return
        assert time.monotonic() < deadline, f"no stream run for {name}: {runs}"
        time.sleep(2)


def preview_rows(text: str, header: str) -> list[list[str]]:
    """The rows of the preview table whose header starts with `header`, from the page text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    columns = lines[start].split("\t")
    rows = []
    for line in lines[start + 1 :]:
        cells = line.split("\t")
        if len(cells) != len(columns):
            break
        rows.append(cells)
    return [columns, *rows]


def test_stream_metadata_shows_the_table_and_each_partitions_own_rows(page, local_stack):
    symbols = SYMBOLS.split(",")
    # One object spanning two sessions, filed under 2024-07-05: that session's run, then a
    # run of 2024-07-03 for the quotes it re-landed.
    two_days = quotes(symbols, 15, day=3) + quotes(symbols, 15)
    land(local_stack, "2024/07/05/two-days.jsonl", two_days, new_runs=2)
    page.goto(f"{local_stack.url}/assets/silver/stream_history?view=events&partition=2024-07-05")
    page.get_by_text("Partition 2024-07-05 materialized").first.wait_for()
    columns, *rows = preview_rows(page.inner_text("body"), "symbol\tts\t")
    day = columns.index("trade_date")
    assert sorted(row[0] for row in rows) == symbols
    assert {row[day] for row in rows} == {"2024-07-05"}  # not 2024-07-03's rows

    # A later quote of one symbol moves the snapshot: the table still holds every symbol.
    newer = quotes(["AAPL"], 16)
    land(local_stack, "2024/07/05/aapl.jsonl", newer)
    page.goto(f"{local_stack.url}/assets/gold/latest_snapshot")
    page.get_by_text("Row count").first.wait_for()
    page.get_by_text("gold.latest_snapshot").first.wait_for()  # the metadata has rendered
    body = page.inner_text("body")
    assert body.split("Row count", 1)[1].split()[0] == str(len(symbols))
    assert "gold.latest_snapshot" in body  # the table name, not a file path
    columns, *rows = preview_rows(body, "symbol\tts\tprice")
    shown = {row[0]: float(row[columns.index("price")]) for row in rows}
    assert sorted(shown) == symbols
    assert shown["AAPL"] == round(newer[0]["price"], 4)
    assert rows[0][columns.index("ts")] == "2024-07-05 16:00:00"
