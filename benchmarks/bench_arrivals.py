"""The arrivals sensor's tick over a landing zone holding N consumed objects vs an empty one.

    python benchmarks/bench_arrivals.py --history 100000

For each lake (S3 on an in-process moto server, and the local folder) and each zone (empty,
N consumed), the same measured ticks (stock_assets_tests/arrivals_scale.py): per tick, the
list requests (S3) or folders read (local), and the median seconds. moto filters and sorts
every key of the bucket on each list request, so its seconds grow with the zone where S3's
index does not: the requests are the measure that carries over to AWS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the measured ticks' module

from stock_assets_tests.arrivals_scale import (
    LocalZone,
    TickCosts,
    measure_ticks,
    s3_zone,
)


def _figures(costs: TickCosts) -> dict:
    return {
        "history": costs.history,
        "ticks": len(costs.seconds),
        "calls_per_tick": costs.calls / len(costs.seconds),
        "median_tick_seconds": statistics.median(costs.seconds),
        "warmup_calls": costs.warmup_calls,
        "exactly_once": costs.requested == costs.landed,
    }


def bench(history: int, rounds: int = 5) -> dict:
    """{"s3": {"empty": ..., "full": ...}, "local": {...}}."""
    result: dict[str, dict] = {"s3": {}, "local": {}}
    for name, size in (("empty", 0), ("full", history)):
        with s3_zone() as zone:
            result["s3"][name] = _figures(measure_ticks(zone, size, rounds))
        with tempfile.TemporaryDirectory(prefix="bench_arrivals_") as root:
            result["local"][name] = _figures(measure_ticks(LocalZone(root), size, rounds))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(bench(args.history, args.rounds), indent=2))


if __name__ == "__main__":
    main()
