"""The performance harness: every benchmark, each figure next to its reference.

    python benchmarks/run.py                       # the issue's sizes (make bench)
    python benchmarks/run.py --symbols 20 --days 300 --only full_history daily_increment

Each scenario runs in a fresh subprocess with its own temporary data dir and DAGSTER_HOME
(a copy of the project's dagster.yaml: the local SQLite instance), so sizes and partitions
never leak between scenarios, and its peak memory is read from wait4() (the largest
resident set of the process and of any child it waited for). Results go to
benchmarks/results/<timestamp>.json and benchmarks/results/summary.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from harness_batch import (
    aws,
    daily_increment,
    daily_scheduled,
    full_history,
    history_scaling,
    scaleout,
)
from harness_modules import arrivals, dashboard, indicators, intraday, stream
from harness_report import Row, machine, summary_markdown
from harness_scenario import INSTANCES, worker

RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = (
    "full_history",
    "history_scaling",
    "daily_increment",
    "daily_scheduled",
    "indicators",
    "stream",
    "intraday",
    "aws",
    "dashboard",
    "arrivals",
    "scaleout",
)

RUNNERS: dict[str, Callable[[argparse.Namespace], tuple[list[Row], dict]]] = {
    "full_history": full_history,
    "history_scaling": history_scaling,
    "daily_increment": daily_increment,
    "daily_scheduled": daily_scheduled,
    "indicators": indicators,
    "stream": stream,
    "intraday": intraday,
    "aws": aws,
    "dashboard": dashboard,
    "arrivals": arrivals,
    "scaleout": scaleout,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=2520, help="sessions of full history")
    parser.add_argument("--first", default="2015-01-02", help="first session of the history")
    parser.add_argument(
        "--scaling-symbols",
        type=int,
        nargs="+",
        default=[500, 2_000, 5_000],
        help="history_scaling: symbol counts, each loaded over --days sessions",
    )
    parser.add_argument(
        "--memory-budget-gb", type=float, default=2.0, help="history_scaling: the run budget"
    )
    parser.add_argument("--short-history", type=int, default=252, help="daily increment base")
    parser.add_argument("--repeat", type=int, default=3, help="indicator timing repeats")
    parser.add_argument(
        "--daily-repeat", type=int, default=3, help="scheduled daily runs of each kind"
    )
    parser.add_argument("--records", type=int, default=150_000, help="stream micro-batch")
    parser.add_argument(
        "--intraday-symbols", type=int, nargs="+", default=[500, 10_000], help="bar sessions"
    )
    parser.add_argument(
        "--stream-day-batches", type=int, default=390, help="aws stream day micro-batches"
    )
    parser.add_argument("--stream-day-symbols", type=int, default=500, help="quotes per batch")
    parser.add_argument(
        "--arrivals-history", type=int, default=100_000, help="consumed landing objects"
    )
    parser.add_argument(
        "--scaleout-sessions", type=int, default=2520, help="sessions of the split backfill"
    )
    parser.add_argument(
        "--scaleout-runs", type=int, nargs="+", default=[1, 2, 4], help="runs at once; 1 first"
    )
    parser.add_argument("--latency-files", type=int, default=20, help="0 skips the latency")
    parser.add_argument(
        "--skip-stack", action="store_true", help="latency under dagster dev only (no local stack)"
    )
    parser.add_argument("--instance", choices=INSTANCES, default="postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "STOCK_ASSETS_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432"
        ),
        help="server for --instance postgres (a database is created per scenario)",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--params", type=json.loads, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.home, args.params, args.result)
        return 0

    info, rows, details = machine(), [], {}
    for name in args.only:
        print(f"benchmark: {name}", flush=True)
        found, details[name] = RUNNERS[name](args)
        rows += found
    sizes = f"{args.symbols} symbols x {args.days} sessions, {args.instance} instance"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        **info,
        "arguments": {k: v for k, v in vars(args).items() if k not in ("worker", "params")},
        "rows": [{**asdict(row), "status": row.status} for row in rows],
        "details": details,
    }
    (args.out_dir / f"{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    summary = summary_markdown(info, rows, sizes)
    (args.out_dir / "summary.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
