"""The batch-path benchmarks (bench_pipeline, bench_daily, bench_scaleout): each runs its
scenarios and returns its summary rows and the raw results."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from harness_report import GIB, Row, figure
from harness_scenario import HERE, moto_server, run_scenario


def full_history(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "first": args.first}
    ours = run_scenario("dagster_full_history", params, **_instance(args))
    bare = run_scenario("bare_full_history", params)
    if ours["rows"] != bare["rows"]:
        raise RuntimeError(f"tables differ: dagster {ours['rows']} vs bare {bare['rows']}")
    records = ours["rows"]["bronze.raw_quotes"]
    size = f"{args.symbols} symbols x {args.days} sessions"
    overhead = ours["seconds"] / bare["seconds"]
    rows = [
        Row(
            "full history",
            f"wall, {size}",
            ours["seconds"],
            "s",
            target="< 60 s",
            reference="bare market/ functions",
            reference_value=bare["seconds"],
            ratio=overhead,
            passed=ours["seconds"] < 60,
        ),
        Row(
            "full history",
            "orchestration overhead (Dagster run / bare)",
            overhead,
            "x",
            reference="bare market/ functions",
            target="< 3x",
            passed=overhead < 3,
        ),
        Row(
            "full history",
            "peak memory (run process)",
            ours["peak_rss_bytes"] / GIB,
            "GiB",
            reference="bare market/ functions",
            reference_value=bare["peak_rss_bytes"] / GIB,
            ratio=ours["peak_rss_bytes"] / bare["peak_rss_bytes"],
            target="< 2 GiB",
            passed=ours["peak_rss_bytes"] < 2 * GIB,
        ),
        Row(
            "full history",
            "source records per second",
            records / ours["seconds"],
            "rows/s",
            reference="bare market/ functions",
            reference_value=records / bare["seconds"],
            ratio=bare["seconds"] / ours["seconds"],
        ),
        Row(
            "full history",
            "check results recorded",
            ours["check_results"],
            "events",
            reference="failed",
            reference_value=ours["failed_checks"],
        ),
    ]
    return rows, {"dagster": ours, "bare": bare}


def history_scaling(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """History loads of --days sessions at each --scaling-symbols size, through
    ``stock-assets run``'s pieces: wall time, records per second and the run process's peak
    memory against the budget; the largest size's rate against the smallest's."""
    budget = args.memory_budget_gb
    env = {"STOCK_ASSETS_MEMORY_BUDGET_GB": str(budget)}
    rows, results = [], {}
    for symbols in args.scaling_symbols:
        params = {"symbols": symbols, "days": args.days, "first": args.first}
        result = results[symbols] = run_scenario("history_load", params, env=env, **_instance(args))
        result["rows_per_second"] = result["rows"]["bronze.raw_quotes"] / result["seconds"]
        size = f"{symbols} symbols x {args.days} sessions"
        shape = f"{result['pieces']} runs of <= {result['sessions_per_piece']} sessions"
        peak = result["peak_rss_bytes"] / GIB
        rows += [
            Row("history scaling", f"wall, {size} ({shape})", result["seconds"], "s"),
            Row("history scaling", f"records/s, {size}", result["rows_per_second"], "rows/s"),
            Row(
                "history scaling",
                f"peak memory, {size}",
                peak,
                "GiB",
                reference="budget",
                reference_value=budget,
                ratio=peak / budget,
                target=f"< {budget:g} GiB",
                passed=peak < budget,
            ),
        ]
    smallest, largest = min(results), max(results)
    if largest != smallest:
        ratio = results[largest]["rows_per_second"] / results[smallest]["rows_per_second"]
        rows.append(
            Row(
                "history scaling",
                f"records per second, {largest} / {smallest} symbols",
                ratio,
                "x",
                reference=f"{figure(results[smallest]['rows_per_second'])} rows/s at {smallest}",
                target=">= 0.8",
                passed=ratio >= 0.8,
            )
        )
    return rows, results


def _instance(args: argparse.Namespace) -> dict[str, str]:
    return {"instance": args.instance, "postgres_url": args.postgres_url}


def daily_increment(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """One new session on top of a short and a long history, the new day the same in both."""
    results, rows = {}, []
    for label, history in (("short", args.short_history), ("long", args.days)):
        first = _first_session_for(args, history + 1)
        params = {"symbols": args.symbols, "days": history + 1, "first": first.isoformat()}
        results[label] = run_scenario("daily_increment", params, **_instance(args))
        rows.append(
            Row(
                "daily increment",
                f"one session on {history} sessions of history",
                results[label]["seconds"],
                "s",
                target="< 10 s",
                passed=results[label]["seconds"] < 10,
            )
        )
    growth = results["long"]["seconds"] / results["short"]["seconds"]
    rows.append(
        Row(
            "daily increment",
            f"{args.days} / {args.short_history} sessions of history (best of 3 each)",
            growth,
            "x",
            reference=f"{figure(results['short']['seconds'])} s on the short history",
            target="< 1.2",
            passed=growth < 1.2,
        )
    )
    return rows, results


def daily_scheduled(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """The daily job launched as the schedule launches it, against the expert script."""
    import bench_daily

    days = args.days + args.daily_repeat + 1  # the history, a priming run, the new sessions
    params = {"symbols": args.symbols, "days": days, "first": args.first}
    params["repeat"] = args.daily_repeat
    result = run_scenario("scheduled_daily", params, **_instance(args))
    size = f"{args.symbols} symbols, {args.instance} instance"
    return [Row(**row) for row in bench_daily.summary_rows(result, size)], result


def _first_session_for(args: argparse.Namespace, count: int) -> dt.date:
    """The first session of `count` sessions that end on the full history's next session."""
    sys.path.insert(0, str(HERE))
    import bench_pipeline as pipeline

    from stock_assets.market import calendar

    last = pipeline.sessions(args.days + 1, dt.date.fromisoformat(args.first))[-1]
    return calendar.session_at(calendar.session_ordinal(last) - count + 1)


def aws(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "first": args.first}
    stream_params = {
        **params,
        "symbols": args.stream_day_symbols,
        "batches": args.stream_day_batches,
    }
    with moto_server() as env:
        result = run_scenario("aws_roundtrip", params, env=env)
    with moto_server() as env:
        stream = run_scenario("aws_stream_day", stream_params, env=env)
    day = f"{stream['symbols']} symbols x {stream['batches']} batches"
    rows = [
        Row(
            "aws (moto S3 + Glue, Iceberg)",
            f"write {result['partitions']} table partitions",
            result["write_rows_per_second"],
            "rows/s",
        ),
        Row(
            "aws (moto S3 + Glue, Iceberg)",
            "read them back",
            result["read_rows_per_second"],
            "rows/s",
        ),
        Row("aws stream day", f"bytes written, {day}", stream["bytes_written"], "B"),
        Row("aws stream day", f"merge rate, {day}", stream["rows_per_second"], "rows/s"),
    ]
    return rows, {"roundtrip": result, "stream_day": stream}


_SCALEOUT = "scale-out (local stack, Iceberg on moto)"


def scaleout(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """The history backfill as 1, 2, 4 ... concurrent runs on the local stack (bench_scaleout)."""
    sys.path.insert(0, str(HERE))
    import bench_pipeline as pipeline
    import bench_scaleout

    days = pipeline.sessions(args.scaleout_sessions, dt.date.fromisoformat(args.first))
    with tempfile.TemporaryDirectory(prefix="bench_scaleout_") as tmp:
        result = bench_scaleout.measure(days, args.scaleout_runs, Path(tmp))
    single = result["splits"][1]
    rows = []
    for parts, outcome in result["splits"].items():
        if "error" in outcome:
            failed = f"{parts} runs at once: {outcome['error']}"
            rows.append(Row(_SCALEOUT, failed, 0, "s", passed=False))
            continue
        written = sum(outcome["rows"].values())
        shape = f"{parts} run(s) at once, {outcome['waves']} wave(s), {outcome['runs']} runs"
        rows.append(
            Row(
                _SCALEOUT,
                f"wall, {len(days)} sessions x default watchlist, {shape}, {written:,} rows",
                outcome["seconds"],
                "s",
                reference="the single run",
                reference_value=single["seconds"],
                ratio=outcome["seconds"] / single["seconds"],
                target="tables equal to the single run's",
                passed=all(outcome["equal_to_single_run"].values()),
            )
        )
    return rows, result
