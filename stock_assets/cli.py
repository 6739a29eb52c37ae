"""Command line: run the main job over a range of trading days and summarize the warehouse.

`stock-assets run` is what the README's first command calls: a backfill of the daily
asset graph in pieces of consecutive sessions that fit the memory budget (one run each, in
date order; a short range is one run), recorded in the Dagster instance at $DAGSTER_HOME
so that the UI (`dagster dev`) shows the runs, their materializations and checks.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import duckdb
import pandas as pd

from stock_assets.market import budget, calendar
from stock_assets.market.calendar import last_closed_session
from stock_assets.market.watchlist import resolve_symbols
from stock_assets.settings import DEMO_ACTIONS_FILE, Settings, dagster_home_is_set

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
LOAD_TAG = "stock_assets/history_load"  # the load a piece's run belongs to (filter runs by it)
PIECE_TAG = "stock_assets/piece"  # "k/n": which piece of the load the run is


def default_range(months: int, now: dt.datetime) -> tuple[dt.date, dt.date]:
    end = last_closed_session(now)
    sessions = calendar.sessions_between(months_before(end, months), end)
    return sessions[0], sessions[-1]


def months_before(end: dt.date, months: int) -> dt.date:
    """The first day of the `months` months that end on `end`."""
    return (pd.Timestamp(end) - pd.DateOffset(months=months)).date() + dt.timedelta(days=1)


def session_range(
    start: dt.date, end: dt.date, first: dt.date, now: dt.datetime
) -> tuple[dt.date, dt.date]:
    """[start, end] narrowed to the NYSE sessions it holds, within the partitions (from
    `first` to today's session); ValueError saying which bound is wrong otherwise."""
    today = calendar.trading_day_of(pd.Timestamp(now))
    if start > end:
        raise ValueError(f"--start {start} is after --end {end}")
    if start < first:
        raise ValueError(f"--start {start} is before the first partition, {first}")
    if end > today:
        raise ValueError(f"--end {end} is in the future (today is {today})")
    sessions = calendar.sessions_between(start, end)
    if not sessions:
        raise ValueError(f"{start} .. {end} holds no NYSE session")
    return sessions[0], sessions[-1]


QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# Dagster's own switches for single-run backfills, read from the environment by the process
# that creates a run (planned events) and the one that executes it (event writes): one
# planned materialization per asset instead of one per partition and asset, and the
# per-partition materializations stored in batches. History load of 500 symbols x 1,000
# sessions on Postgres: 153 s without either, 83 s / 106 s with one, 30 s with both.
# Trade-off: a failed backfill run shows its partitions as missing, not failed.
# `stock-assets run` sets them for itself; the Makefile (make dev), the local stack and
# the ECS image set them for the daemon, the webserver and the run workers.
BACKFILL_ENV = {
    "DAGSTER_EVENT_BATCH_SIZE": "10000",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
}


ACTIONS_VARIABLE = "STOCK_ASSETS_SIMULATED_ACTIONS"


def demo_actions(symbols: tuple[str, ...], start: dt.date, end: dt.date) -> str:
    """Simulated actions inside the run's range, so the demo shows adjustment at work: a
    10-for-1 split of NVDA (else the first symbol) on the middle session, and a dividend
    of the next symbol three quarters in (STOCK_ASSETS_SIMULATED_ACTIONS form)."""
    sessions = calendar.sessions_between(start, end)
    if len(sessions) < 4:
        return ""
    first = "NVDA" if "NVDA" in symbols else symbols[0]
    entries = [f"{first}:{sessions[len(sessions) // 2].isoformat()}:split:10"]
    others = [s for s in symbols if s != first]
    if others:
        entries.append(f"{others[0]}:{sessions[3 * len(sessions) // 4].isoformat()}:dividend:0.5")
    return ",".join(entries)


def record_demo_actions(start: dt.date, end: dt.date) -> None:
    """On the simulator without configured actions, record the demo's actions
    (demo_actions) in the data directory, where Settings reads them: this run and every
    later one in this home (`make dev`, the schedules, a rerun next week) then simulate the
    same history, instead of prices on both sides of an unrecorded split."""
    settings = Settings.from_env()
    if settings.source != "simulated" or settings.simulated_actions:
        return
    actions = demo_actions(resolve_symbols(settings.symbols), start, end)
    if not actions:
        return
    path = settings.data_dir / DEMO_ACTIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(actions + "\n")
    print(
        f"stock_assets: simulating {ACTIONS_VARIABLE}={actions} (kept in {path} for later "
        "runs; set the variable to change it)"
    )


def actions_summary(conn, start: dt.date, end: dt.date) -> list[str]:
    """The range's corporate actions, and what signals fired on each split's ex-date."""
    actions = conn.execute(
        "SELECT symbol, ex_date, action, ratio, amount FROM silver.corporate_actions "
        "WHERE ex_date BETWEEN ? AND ? ORDER BY ex_date, symbol",
        [start, end],
    ).fetchall()
    if not actions:
        return ["silver.corporate_actions: none in the range"]
    lines = ["silver.corporate_actions (indicators and signals use each day's share basis):"]
    for symbol, ex_date, action, ratio, amount in actions:
        what = f"split {ratio:g}-for-1" if action == "SPLIT" else f"dividend {amount:g}/share"
        fired = conn.execute(
            "SELECT signal FROM gold.signals WHERE symbol = ? AND trade_date = ? ORDER BY 1",
            [symbol, ex_date],
        ).fetchall()
        signals = ", ".join(row[0] for row in fired) or "none"
        lines.append(f"  {symbol} {ex_date}: {what}; signals that day: {signals}")
    return lines


def _instance():
    from dagster import DagsterInstance

    return DagsterInstance.get() if dagster_home_is_set() else DagsterInstance.ephemeral()


@contextlib.contextmanager
def backfill_settings() -> Iterator[None]:
    """BACKFILL_ENV for the duration of a run (a value the user set is kept)."""
    added = {name: value for name, value in BACKFILL_ENV.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def daily_market_job():
    """The daily job of the code location, rebuilt by name (``dagster.reconstructable``)."""
    from stock_assets.definitions import build_definitions

    return build_definitions().resolve_job_def("daily_market_job")


def run_backfill(
    instance,
    start: dt.date,
    end: dt.date,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> bool:
    """Materialize the daily job for [start, end] as one run in the configured instance,
    with the job's own executor (in process).

    ``execute_job`` rather than ``JobDefinition.execute_in_process``: the latter
    keeps every step's output in memory for its result, so a ten-year load held all of its
    tables at once (6.3 GiB at 500 symbols x 2,520 sessions).
    """
    from dagster import execute_job, reconstructable

    range_tags = {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()}
    with (
        backfill_settings(),
        execute_job(
            reconstructable(daily_market_job),
            instance=instance,
            run_config={**QUIET, **(run_config or {})},
            tags={**(tags or {}), **range_tags},
        ) as result,
    ):
        return result.success


# A piece's run: (first session, last session, tags, run config) -> success.
PieceRunner = Callable[[dt.date, dt.date, dict[str, str], dict], bool]
INTRADAY_BARS_OP = "silver__intraday_bars"


def piece_config(last_piece: bool) -> dict:
    """Run config of a piece: only the load's last piece pulls the source's own minute bars
    (intraday_bars' `vendor_sessions`, the last sessions of a run), as one run over the
    whole range does, so the pieces store the tables of a single run."""
    return {} if last_piece else {"ops": {INTRADAY_BARS_OP: {"config": {"vendor_sessions": 0}}}}


def run_history(
    instance,
    days: Sequence[dt.date],
    per_piece: int,
    log: Callable[[str], None] = print,
    run_piece: PieceRunner | None = None,
) -> list[dt.date] | None:
    """Load `days` in pieces of at most `per_piece` consecutive sessions, one run each
    (`run_piece(first, last, tags, run_config)`, default :func:`run_backfill` in `instance`).

    Pieces run in date order, so each one's indicators read the silver history the pieces
    before it stored. A failed piece stops the load: a later piece would compute from a
    hole in its lookback. Every finished piece stays stored. Returns None when all pieces
    succeeded, else the days of the failed piece and those after it (what is missing).
    """
    if run_piece is None:
        run_piece = partial(run_backfill, instance)
    plan = budget.pieces(days, per_piece)
    load = uuid.uuid4().hex[:12]
    for number, piece in enumerate(plan, start=1):
        label = f"{number}/{len(plan)}"
        if len(plan) > 1:
            log(f"stock_assets: piece {label}: {piece[0]} .. {piece[-1]} ({len(piece)} sessions)")
        tags = {LOAD_TAG: load, PIECE_TAG: label}
        if not run_piece(piece[0], piece[-1], tags, piece_config(number == len(plan))):
            return [day for rest in plan[number - 1 :] for day in rest]
    return None


def missing_days(instance, defs, days: Sequence[dt.date]) -> list[dt.date]:
    """The days among `days` that some trading-day asset of the daily job has not
    materialized (its latest run for the day failed, or none ran)."""
    from dagster import AssetPartitionStatus

    from stock_assets.partitions import HISTORY_GROUPS, TRADING_DAYS

    keys = [day.isoformat() for day in days]
    missing: set[str] = set()
    for spec in defs.resolve_all_asset_specs():
        if spec.group_name not in HISTORY_GROUPS or spec.partitions_def is None:
            continue
        status = instance.get_status_by_partition(spec.key, keys, TRADING_DAYS) or {}
        missing.update(k for k in keys if status.get(k) != AssetPartitionStatus.MATERIALIZED)
    return [day for day in days if day.isoformat() in missing]


def run_stream_demo(defs, instance, day: dt.date, batches: int) -> bool:
    """Produce micro-batches for the session's last minutes, then ingest them with one poll
    of the stream consumer: its runs carry the sensor's run-key tags, so a daemon started
    later (dagster dev) does not run the same objects again.
    """
    from stock_assets.consumer import StreamConsumer
    from stock_assets.market.producer import produce_micro_batch

    lake, market_data = defs.resources["lake"], defs.resources["market_data"]
    close = calendar.market_close_utc(day).to_pydatetime()
    for i in range(batches):
        as_of = close - dt.timedelta(minutes=batches - i)
        key, count = produce_micro_batch(
            market_data.client(), market_data.watchlist(), as_of, lake.put, sequence=i
        )
        print(f"produced {count} quotes -> {key}")
    consumer = StreamConsumer(defs, instance, log=lambda line: print(line, flush=True))
    return all(outcome.success for outcome in consumer.poll())


def intraday_summary(conn, day: dt.date) -> str:
    """One line on the session's one-minute bars and the daily figures built from them."""
    by_source = conn.execute(
        "SELECT source, count(*), count(DISTINCT symbol) FROM silver.intraday_bars "
        "WHERE trade_date = ? GROUP BY source ORDER BY source",
        [day],
    ).fetchall()
    kpis = conn.execute(
        "SELECT count(*), avg(completeness), avg(realized_vol) FROM gold.daily_kpis "
        "WHERE trade_date = ?",
        [day],
    ).fetchone()
    bars = ", ".join(f"{n} {source} bars ({symbols} symbols)" for source, n, symbols in by_source)
    line = f"silver.intraday_bars {day}: {bars or 'none'}"
    if kpis[0]:
        line += (
            f"; gold.daily_kpis: {kpis[0]} symbols, completeness {kpis[1]:.0%}, "
            f"mean realized vol {kpis[2]:.2f} %"
        )
    return line


def summarize(database: str, start: dt.date, end: dt.date) -> str:
    """A short text report of what the warehouse holds for the range."""
    with duckdb.connect(database, read_only=True) as conn:
        per_symbol = conn.execute(
            "SELECT symbol, count(*) AS days, min(trade_date) AS first, max(trade_date) AS last, "
            "round(arg_max(close, trade_date), 2) AS last_close "
            "FROM silver.prices WHERE trade_date BETWEEN ? AND ? GROUP BY symbol ORDER BY symbol",
            [start, end],
        ).fetchdf()
        rejects = conn.execute(
            "SELECT count(*) FROM silver.price_rejects WHERE trade_date BETWEEN ? AND ?",
            [start, end],
        ).fetchone()[0]
        signals = conn.execute(
            "SELECT signal, count(*) AS n FROM gold.signals WHERE trade_date BETWEEN ? AND ? "
            "GROUP BY signal ORDER BY signal",
            [start, end],
        ).fetchall()
        created = {
            f"{schema}.{name}"
            for schema, name in conn.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }
        stream_rows, snapshot_rows = (
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if table in created
            else None
            for table in ("silver.stream_history", "gold.latest_snapshot")
        )
        latest = conn.execute(
            "SELECT trade_date, advancers, decliners, top_gainers, top_losers "
            "FROM gold.market_summary WHERE trade_date <= ? ORDER BY trade_date DESC LIMIT 1",
            [end],
        ).fetchone()
        intraday = intraday_summary(conn, end)
        actions = actions_summary(conn, start, end) if "silver.corporate_actions" in created else []
    sessions = calendar.sessions_between(start, end)
    holidays = calendar.holidays_between(start, end)
    lines = [
        f"silver.prices {start} .. {end}: {len(sessions)} trading days "
        f"({len(holidays)} holidays skipped), {len(per_symbol)} symbols, "
        f"{int(per_symbol.days.sum())} rows, {rejects} rejected records",
        per_symbol.to_string(index=False),
        "gold.signals: " + (", ".join(f"{n} {name}" for name, n in signals) or "none"),
        f"silver.stream_history: {stream_rows} quotes; "
        f"gold.latest_snapshot: {snapshot_rows} symbols"
        if stream_rows is not None and snapshot_rows is not None
        else "silver.stream_history, gold.latest_snapshot: not created yet (no stream batch)",
    ]
    lines.append(intraday)
    lines.extend(actions)
    if latest:
        day, up, down, gainers, losers = latest
        lines.append(
            f"gold.market_summary {day}: {up} up / {down} down; "
            f"top gainers {gainers or '-'}; top losers {losers or '-'}"
        )
    return "\n".join(lines)


def run_consumer(poll_seconds: float, once: bool) -> int:
    """`stock-assets consume`: the stream consumer against the instance at $DAGSTER_HOME."""
    from stock_assets.consumer import StreamConsumer, stop_on_signals
    from stock_assets.definitions import build_definitions

    if not dagster_home_is_set():
        print("stock-assets consume records its runs in the Dagster instance: set DAGSTER_HOME")
        return 2
    consumer = StreamConsumer(build_definitions(), _instance(), lambda m: print(m, flush=True))
    if once:
        return 0 if all(outcome.success for outcome in consumer.poll()) else 1
    print(f"stock-assets consume: polling the landing zone every {poll_seconds:g} s", flush=True)
    consumer.run_forever(poll_seconds, stop_on_signals())
    return 0


def _at_least(lowest: int):
    """An argparse type: a whole number not below `lowest`."""

    def parse(text: str) -> int:
        value = int(text)
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be {lowest} or more, got {value}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stock-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="backfill the daily job over a range and summarize")
    run.add_argument(
        "--months", type=_at_least(1), default=3, help="how far back (default 3 months)"
    )
    run.add_argument("--start", type=dt.date.fromisoformat, help="first day (YYYY-MM-DD)")
    run.add_argument("--end", type=dt.date.fromisoformat, help="last day (YYYY-MM-DD)")
    run.add_argument(
        "--stream-batches", type=_at_least(0), default=3, help="demo micro-batches (0: none)"
    )
    run.add_argument(
        "--missing",
        action="store_true",
        help="load only the range's sessions some table has not stored (resume a failed load)",
    )
    consume = sub.add_parser(
        "consume", help="ingest landing arrivals as they come, in this process (long-lived)"
    )
    consume.add_argument("--poll-seconds", type=float, default=1.0, help="default 1 s")
    consume.add_argument("--once", action="store_true", help="one poll, then exit")
    args = parser.parse_args(argv)

    from dagster import BetaWarning, PreviewWarning

    for category in (BetaWarning, PreviewWarning):  # API maturity notes, not run problems
        warnings.filterwarnings("ignore", category=category)
    if args.command == "consume":
        return run_consumer(args.poll_seconds, args.once)
    from stock_assets.definitions import build_definitions, data_dir
    from stock_assets.partitions import TRADING_DAYS, sessions_per_run

    now, first = dt.datetime.now(dt.UTC), TRADING_DAYS.start.date()
    end = args.end or last_closed_session(now)
    start = args.start or max(months_before(end, args.months), first)
    try:
        start, end = session_range(start, end, first, now)
    except ValueError as exc:
        parser.error(str(exc))

    record_demo_actions(start, end)
    try:
        per_piece = sessions_per_run()
    except ValueError as exc:
        parser.error(str(exc))
    # Built now, not at import, so the environment of this call decides the resources.
    defs, instance = build_definitions(), _instance()
    days = calendar.sessions_between(start, end)
    if args.missing:
        days = missing_days(instance, defs, days)
    pieces = len(budget.pieces(days, per_piece))
    print(
        f"stock_assets: backfilling {start} .. {end}: {len(days)} sessions in {pieces} "
        f"run(s) of at most {per_piece} sessions",
        flush=True,
    )
    failed = run_history(instance, days, per_piece, lambda line: print(line, flush=True))
    if failed is not None:
        print(
            f"the backfill failed at {failed[0]}; the sessions before it are stored. See the "
            "Dagster UI or the log above, then run again with --missing to load only "
            f"the {len(failed)} sessions still missing",
            file=sys.stderr,
        )
        return 1
    print(f"stock_assets: streaming {args.stream_batches} micro-batches for {end}", flush=True)
    if args.stream_batches and not run_stream_demo(defs, instance, end, args.stream_batches):
        print("stream ingestion failed; see the Dagster UI or the log above", file=sys.stderr)
        return 1

    print(summarize(str(data_dir() / "warehouse.duckdb"), start, end))
    return 0


if __name__ == "__main__":
    sys.exit(main())
