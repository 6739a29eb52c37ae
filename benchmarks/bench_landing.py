"""Landing parser benchmark: the record-by-record path and the vectorized fast path timed on
the same micro-batch in one run, with the ratio, for each landing format.

The batch is bench_stream.synthetic_batch (the stream ingest benchmark's), also written as
a JSON array and as CSV. For JSON Lines the fast path's regex tier is timed on its own too
(the Arrow tier switched off), and so is DuckDB's bare read_json of the file: the stream
ingest target is set against it. Results must be identical; the script checks that.

    python benchmarks/bench_landing.py --records 150000 --repeat 5
Results are written as JSON to benchmarks/results/landing.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pandas as pd
from bench_indicators import best_of
from bench_stream import RESULTS, synthetic_batch

from stock_assets.market.landing import LandingParse, parse_landing_object
from stock_assets.market.landing import parse as landing_parse
from stock_assets.market.sources.base import TICK_FIELDS

NOW = dt.datetime(2024, 7, 5, 20, 0, tzinfo=dt.UTC)  # after the batch's session


def bodies(records: int) -> dict[str, bytes]:
    """The same records as JSON Lines, a JSON array and CSV."""
    jsonl = synthetic_batch(records)
    rows = [json.loads(line) for line in jsonl.splitlines()]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TICK_FIELDS)
    writer.writerows([row[name] for name in TICK_FIELDS] for row in rows)
    return {"jsonl": jsonl, "json": json.dumps(rows).encode(), "csv": out.getvalue().encode()}


def with_tiers(parse: Callable[[], LandingParse], *tiers: str) -> Callable[[], LandingParse]:
    """`parse` with only these fast tiers (none: the spec, record by record)."""

    def run() -> LandingParse:
        with mock.patch.object(landing_parse, "_FAST_TIERS", frozenset(tiers)):
            return parse()

    return run


def assert_identical(fast: LandingParse, slow: LandingParse) -> None:
    assert (fast.fatal, fast.rejects) == (slow.fatal, slow.rejects)
    pd.testing.assert_frame_equal(fast.quotes, slow.quotes, check_exact=True)


def bare_duckdb_read(body: bytes, repeat: int) -> float:
    import duckdb

    with tempfile.TemporaryDirectory() as tmp, duckdb.connect() as conn:
        path = Path(tmp) / "batch.jsonl"
        path.write_bytes(body)
        seconds, _ = best_of(
            lambda: conn.execute(
                "CREATE OR REPLACE TABLE t AS SELECT * FROM "
                "read_json(?, format='newline_delimited')",
                [str(path)],
            ),
            repeat,
        )
    return seconds


def bench(records: int, repeat: int) -> dict:
    result: dict[str, object] = {"records": records}
    for fmt, body in bodies(records).items():
        parse = functools.partial(
            parse_landing_object, f"landing/quotes/bench/batch.{fmt}", body, now=NOW
        )
        slow_s, slow = best_of(with_tiers(parse), 1)
        fast_s, fast = best_of(parse, repeat)
        assert_identical(fast, slow)
        assert len(fast.quotes) == records
        result[fmt] = {
            "record_by_record_seconds": round(slow_s, 3),
            "fast_seconds": round(fast_s, 3),
            "speedup": round(slow_s / fast_s, 1),
        }
        if fmt == "jsonl":
            regex_s, regex = best_of(with_tiers(parse, "regex"), repeat)
            assert_identical(regex, slow)
            result[fmt]["regex_tier_seconds"] = round(regex_s, 3)
            bare = bare_duckdb_read(body, repeat)
            result[fmt]["bare_duckdb_read_json_seconds"] = round(bare, 3)
            result[fmt]["fast_to_bare_duckdb"] = round(fast_s / bare, 2)
        print(fmt, json.dumps(result[fmt]), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=5, help="fast-path runs (best counts)")
    args = parser.parse_args()
    result = bench(args.records, args.repeat)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "landing.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
