"""The benchmarks that have their own module (bench_indicators, bench_stream, bench_live,
bench_stack, bench_intraday, bench_dashboard, bench_arrivals): each runs its scenarios and
returns its summary rows and the raw results."""

from __future__ import annotations

import argparse

from harness_report import GIB, Row
from harness_scenario import run_scenario


def indicators(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "repeat": args.repeat}
    result = run_scenario("indicators", params)
    row = Row(
        "indicators",
        f"compute, {args.symbols} x {args.days}",
        result["ours_seconds"],
        "s",
        reference="bare TA-Lib loop",
        reference_value=result["talib_seconds"],
        ratio=result["ratio"],
        target="<= 2x",
        passed=result["ratio"] <= 2,
    )
    return [row], result


def stream(args: argparse.Namespace) -> tuple[list[Row], dict]:
    ingest = run_scenario("stream_ingest", {"records": args.records})
    rows = [
        Row(
            "stream",
            f"ingest {args.records} records",
            ingest["ours_seconds"],
            "s",
            reference="bare DuckDB insert",
            reference_value=ingest["bare_duckdb_insert_seconds"],
            ratio=ingest["ratio_ours_to_bare"],
            target="<= 3x",
            passed=ingest["ratio_ours_to_bare"] <= 3,
        ),
    ]
    cost = run_scenario("live_signal_cost", {"records": args.records, "repeat": args.repeat})
    rows.append(
        Row(
            "stream",
            f"arrivals run with live signals, {args.records} quotes",
            cost["ingest_with_signals_seconds"],
            "s",
            reference="the same ingest without them",
            reference_value=cost["ingest_seconds"],
            ratio=cost["ratio"],
            target="<= 1.5x, same ingest",
            passed=cost["ratio"] <= 1.5 and cost["outputs_equal"],
        )
    )
    rows.append(
        Row(
            "stream",
            f"CPU time (shared machine), arrivals run with live signals, {args.records} quotes",
            cost["ingest_with_signals_cpu_seconds"],
            "s",
            reference="the same ingest without them",
            reference_value=cost["ingest_cpu_seconds"],
            ratio=cost["cpu_ratio"],
        )
    )
    results = {"ingest": ingest, "live_signal_cost": cost}
    if args.latency_files:
        params = {"files": args.latency_files, "interval": 3.0, "sensor_seconds": 5}
        setups = (
            ("consumer_latency", "dagster dev + stream consumer"),
            ("stream_latency", "dagster dev, sensor runs"),
            ("stack_consumer_latency", "local stack + stream consumer"),
            ("stack_latency", "local stack, sensor runs"),
        )
        for name, setup in setups:
            if name.startswith("stack") and args.skip_stack:
                continue
            latency = results[name] = run_scenario(name, params)
            rows += latency_rows(latency, setup)
    return rows, results


def latency_rows(latency: dict, setup: str) -> list[Row]:
    """Arrival -> snapshot and arrival -> alert accepted by the sink, from one run."""
    alerts = latency["alerts"]
    return [
        Row(
            "stream",
            f"arrival -> snapshot p50 ({setup})",
            latency["p50_seconds"],
            "s",
            target="< 10 s",
            passed=latency["p50_seconds"] < 10,
        ),
        Row("stream", f"arrival -> snapshot p95 ({setup})", latency["p95_seconds"], "s"),
        Row(
            "stream",
            f"arrival -> live signal -> alert sink p50 ({setup})",
            alerts["p50_seconds"],
            "s",
            target="< 10 s",
            passed=alerts["p50_seconds"] < 10,
        ),
        Row(
            "stream",
            f"arrival -> live signal -> alert sink p95 ({setup})",
            alerts["p95_seconds"],
            "s",
            target="< 15 s",
            passed=alerts["p95_seconds"] < 15,
        ),
    ]


def intraday(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """One session of 1-minute bars from ~4 quotes per bar, at each --intraday-symbols size."""
    rows, results = [], {}
    for symbols in args.intraday_symbols:
        result = results[symbols] = run_scenario("intraday", {"symbols": symbols})
        size = f"{symbols} symbols, {result['bars']:,} bars"
        rows.append(
            Row(
                "intraday",
                f"bars from {result['quotes']:,} quotes, {size}",
                result["ours_seconds"],
                "s",
                reference="bare DuckDB aggregation",
                reference_value=result["bare_duckdb_seconds"],
                ratio=result["ratio"],
                target="<= 3x, outputs equal" + (", < 60 s" if symbols >= 10_000 else ""),
                passed=result["ratio"] <= 3
                and result["outputs_equal"]
                and (symbols < 10_000 or result["ours_seconds"] < 60),
            )
        )
        rows.append(
            Row(
                "intraday",
                f"CPU time (shared machine), {size}",
                result["ours_cpu_seconds"],
                "s",
                reference="bare DuckDB aggregation",
                reference_value=result["bare_duckdb_cpu_seconds"],
                ratio=result["ours_cpu_seconds"] / result["bare_duckdb_cpu_seconds"],
            )
        )
        rows.append(
            Row(
                "intraday",
                f"peak memory after ours, {size}",
                result["peak_rss_ours_bytes"] / GIB,
                "GiB",
                target="< 4 GiB",
                passed=result["peak_rss_ours_bytes"] < 4 * GIB,
            )
        )
    return rows, results


def dashboard(args: argparse.Namespace) -> tuple[list[Row], dict]:
    params = {"symbols": args.symbols, "days": args.days, "repeat": args.repeat}
    result = run_scenario("dashboard", params)
    target = result["target_seconds"]
    best = result["best"]
    measure = (
        f"symbol page, {best['bars']} daily bars and {best['minute_bars']} minute bars, "
        "slower price basis (queries + figures + JSON)"
    )
    rows = [
        Row(
            "dashboard",
            measure,
            result["ours_seconds"],
            "s",
            reference="whole tables loaded into pandas",
            reference_value=result["whole_tables_seconds"],
            ratio=result["ours_seconds"] / result["whole_tables_seconds"],
            target=f"< {target:g} s",
            passed=result["ours_seconds"] < target,
        ),
        Row(
            "dashboard",
            "symbol page, first view in a fresh process",
            result["cold"]["seconds"],
            "s",
        ),
    ]
    return rows, result


def arrivals(args: argparse.Namespace) -> tuple[list[Row], dict]:
    """The sensor's tick with --arrivals-history consumed landing objects vs none."""
    result = run_scenario("arrivals", {"history": args.arrivals_history})
    rows = []
    for lake, calls in (("s3", "list requests"), ("local", "folders read")):
        empty, full = result[lake]["empty"], result[lake]["full"]
        size = f"{lake}, {args.arrivals_history} consumed objects vs none"
        ratio = full["calls_per_tick"] / empty["calls_per_tick"]
        rows.append(
            Row(
                "arrivals",
                f"{calls} per tick, {size}",
                full["calls_per_tick"],
                "",
                reference="empty zone",
                reference_value=empty["calls_per_tick"],
                ratio=ratio,
                target="<= 1.5x",
                passed=ratio <= 1.5 and full["exactly_once"] and empty["exactly_once"],
            )
        )
        seconds = full["median_tick_seconds"], empty["median_tick_seconds"]
        rows.append(
            Row(
                "arrivals",
                f"tick time (median), {size}",
                seconds[0],
                "s",
                reference="empty zone",
                reference_value=seconds[1],
                ratio=seconds[0] / seconds[1],
            )
        )
    return rows, result
