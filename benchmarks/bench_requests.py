"""S3 and Glue requests and bytes per Iceberg operation, counted at moto's server.

    python benchmarks/bench_requests.py --symbols 500 --history 250

The figures docs/SCALE.md multiplies out: what one daily partition of each batch table, one
stream micro-batch merge and one lookback read cost in requests. moto's server logs every
request it answers (werkzeug's access log); S3 requests are paths under the bucket, Glue
requests are `POST /` (the JSON protocol). Bytes written: the sizes of the objects each step
added under the tables' prefix. Everything goes through stock_assets' IcebergIOManager, so
the counts are those of a run, without Dagster's own writes to its instance.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from harness_scenario import moto_server

HERE = Path(__file__).resolve().parent
BUCKET = "stock-assets-requests"
PREFIX = "bench"
# werkzeug colours some lines (ANSI escapes after the quote).
REQUEST = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP')


def requests_in(lines: list[str]) -> Counter:
    """Requests by kind: glue; s3 GET, HEAD (S3's tier-2 price); s3 LIST, PUT, POST (tier 1:
    pyarrow uploads each object in three, create/part/complete); s3 DELETE (free)."""
    counts: Counter = Counter()
    for line in lines:
        found = REQUEST.search(line)
        if not found or "/moto-api" in found[2]:
            continue
        method, path = found.groups()
        if method == "POST" and path == "/":
            counts["glue"] += 1
        elif method == "GET" and ("list-type=" in path or path.rstrip("/") == f"/{BUCKET}"):
            counts["s3 LIST"] += 1
        else:
            counts[f"s3 {method}"] += 1
    return counts


def measure(symbols: int, history: int, log: Path) -> dict:
    """Each step's requests and bytes written (see the module docstring)."""
    import boto3
    import pandas as pd

    sys.path.insert(0, str(HERE))
    import bench_pipeline as pipeline

    from stock_assets.io_managers.iceberg import IcebergIOManager
    from stock_assets.io_managers.merge import MergeSpec
    from stock_assets.market import lookback
    from stock_assets.market.schemas import BATCH_TABLES, PRICES, STREAM_HISTORY

    names = pipeline.synthetic_symbols(symbols)
    days = pipeline.sessions(history + 1, dt.date(2015, 1, 2))
    with tempfile.TemporaryDirectory() as tmp:
        tables = pipeline.bare_tables(names, days, Path(tmp))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    manager = IcebergIOManager(bucket=BUCKET, prefix=PREFIX)
    steps: dict[str, dict] = {}

    def step(label: str, action: Callable[[], object]) -> None:
        before = _objects(s3)
        time.sleep(0.5)  # the access log is written after the reply
        first = len(log.read_text().splitlines())
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
        time.sleep(0.5)
        lines = log.read_text().splitlines()[first:]
        added = {k: v for k, v in _objects(s3).items() if k not in before}
        steps[label] = {
            "requests": dict(requests_in(lines)),
            "objects_written": len(added),
            "bytes_written": sum(added.values()),
            "seconds": seconds,
        }

    history_keys = [d.isoformat() for d in days[:-1]]
    day = days[-1].isoformat()
    for contract in BATCH_TABLES:
        frame = tables[contract.qualified_name]
        past, today = frame[frame.trade_date < days[-1]], frame[frame.trade_date == days[-1]]
        table = manager.table(contract.qualified_name, partitioned=True)
        name = contract.qualified_name
        step(f"history {name}", lambda t=table, f=past: manager.write(t, f, history_keys))
        step(f"daily {name}", lambda t=table, f=today: manager.write(t, f, [day]))
    window = [d.isoformat() for d in days if d >= lookback.window_start(days[-1])]
    read = f"lookback read prices, {len(window)} sessions"
    step(read, lambda: manager.read(PRICES.qualified_name, window))
    stream = manager.table(
        STREAM_HISTORY.qualified_name, partitioned=True, merge=MergeSpec(keys=("symbol", "ts"))
    )
    open_at = pd.Timestamp("2024-07-05 13:30")
    for batch in range(3):
        quotes = pipeline._quotes(names, open_at + pd.Timedelta(minutes=batch), batch)
        step(f"stream merge {batch + 1}", lambda q=quotes: manager.write(stream, q, ["2024-07-05"]))
    return {"symbols": symbols, "history_sessions": history, "steps": steps}


def _objects(s3) -> dict[str, int]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/tables/")
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--history", type=int, default=250, help="sessions written first")
    parser.add_argument("--out", type=Path, help="JSON result (default: stdout only)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "moto.log"
        with moto_server(log) as env:
            os.environ.update(env)
            result = measure(args.symbols, args.history, log)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
