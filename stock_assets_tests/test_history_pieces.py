"""History loads in pieces that fit the memory budget: the same tables as one run, a
failed piece keeps the others, and a re-run loads only what is missing."""

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from stock_assets import cli
from stock_assets.assets import gold, live
from stock_assets.definitions import build_definitions
from stock_assets.market import budget, calendar, lookback
from stock_assets.partitions import HISTORY_GROUPS, TRADING_DAYS, sessions_per_run
from stock_assets.settings import Settings

SYMBOLS = "AAPL,MSFT,XOM"
FIRST = dt.date.fromisoformat(TRADING_DAYS.get_first_partition_key())
DAYS = calendar.sessions_between(FIRST, FIRST + dt.timedelta(days=100))[:60]
PER_PIECE = 35  # a boundary after session 35: inside SMA-50's and MACD's lookback
# Columns that record when and by which run a row was written, not what it holds.
LINEAGE = {"fetched_at", "object_key", "ingested_at"}


def budget_for(sessions: int, symbols: int) -> float:
    """The budget (GiB) whose pieces hold exactly `sessions` sessions of `symbols` symbols."""
    fixed = (
        budget.PROCESS_BYTES + symbols * lookback.MAX_LOOKBACK_SESSIONS * budget.HISTORY_ROW_BYTES
    )
    per_session = symbols * (budget.ROW_BYTES + budget.HISTORY_ROW_BYTES)
    return (fixed + (sessions + 0.5) * per_session) / budget.GIB


def environment(home: Path, monkeypatch: pytest.MonkeyPatch, sessions: int) -> Settings:
    monkeypatch.setenv("STOCK_ASSETS_DATA_DIR", str(home))
    monkeypatch.setenv("STOCK_ASSETS_SYMBOLS", SYMBOLS)
    monkeypatch.setenv("STOCK_ASSETS_MEMORY_BUDGET_GB", repr(budget_for(sessions, 3)))
    return Settings.from_env()


def piece_runner(instance: dg.DagsterInstance, defs: dg.Definitions, runs: list) -> cli.PieceRunner:
    """Runs a piece as `stock-assets run` does (the daily job over the piece's range, with
    its tags and config), in this process against the definitions of one home."""
    job = defs.resolve_job_def("daily_market_job")

    def run(first: dt.date, last: dt.date, tags: dict[str, str], run_config: dict) -> bool:
        runs.append((first, last))
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            tags={
                **tags,
                cli.RANGE_START_TAG: first.isoformat(),
                cli.RANGE_END_TAG: last.isoformat(),
            },
            raise_on_error=False,
        )
        return result.success

    return run


def range_tags(first: dt.date, last: dt.date) -> dict[str, str]:
    return {cli.RANGE_START_TAG: first.isoformat(), cli.RANGE_END_TAG: last.isoformat()}


def tables(home: Path) -> dict[str, pd.DataFrame]:
    """Every table of the warehouse, without lineage columns, in a fixed row order."""
    out = {}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        for (name,) in conn.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1"
        ).fetchall():
            frame = conn.execute(f"SELECT * FROM {name}").fetchdf()
            frame = frame.drop(columns=sorted(LINEAGE & set(frame.columns)))
            out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


def load(home: Path, monkeypatch, sessions: int, days=DAYS, runs=None) -> list | None:
    settings = environment(home, monkeypatch, sessions)
    assert sessions_per_run(settings) == sessions
    defs = build_definitions(settings)
    runs = [] if runs is None else runs
    with dg.instance_for_test() as instance:
        return cli.run_history(
            instance, days, sessions_per_run(settings), print, piece_runner(instance, defs, runs)
        )


def test_the_budget_sets_the_sessions_of_every_history_run(monkeypatch, tmp_path):
    settings = environment(tmp_path, monkeypatch, PER_PIECE)
    defs = build_definitions(settings)
    policies = {
        spec.key.to_user_string(): defs.resolve_assets_def(spec.key).backfill_policy
        for spec in defs.resolve_all_asset_specs()
        if spec.group_name in HISTORY_GROUPS and spec.partitions_def is not None
    }
    # One policy for every trading-day table of the daily job, so a backfill runs each
    # piece's bronze, silver and gold together; the stream's tables keep theirs.
    assert set(policies) == {
        "bronze/raw_quotes",
        "silver/prices",
        "silver/price_rejects",
        "silver/intraday_bars",
        "gold/indicators",
        "gold/signals",
        "gold/market_summary",
        "gold/daily_kpis",
        "gold/minute_volume_profile",
    }
    assert {p.max_partitions_per_run for p in policies.values()} == {PER_PIECE}
    stream = defs.resolve_assets_def(live.LIVE_SIGNALS_KEY)
    assert stream.backfill_policy == live.live_signals_asset.backfill_policy
    # More symbols, fewer sessions per run; a budget too small for one session is refused.
    assert budget.sessions_per_piece(2 * budget.GIB, 5000) < budget.sessions_per_piece(
        2 * budget.GIB, 500
    )
    with pytest.raises(ValueError, match="does not hold one session of 100000 symbols"):
        budget.sessions_per_piece(2 * budget.GIB, 100_000)
    monkeypatch.setenv("STOCK_ASSETS_MEMORY_BUDGET_GB", "-1")
    with pytest.raises(ValueError, match="STOCK_ASSETS_MEMORY_BUDGET_GB='-1'"):
        Settings.from_env()


def test_pieces_are_consecutive_sessions_and_a_gap_ends_one():
    week = calendar.sessions_between(dt.date(2024, 7, 1), dt.date(2024, 7, 12))  # July 4th
    assert budget.pieces(week, 4) == [week[:4], week[4:8], week[8:]]
    assert budget.pieces([week[0], week[1], week[3]], 5) == [week[:2], [week[3]]]


# Three runs of the whole daily job each: under a minute alone, far longer on a loaded
# 2-core machine than the suite's 600 s default.
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_pieces_store_exactly_the_tables_of_one_run(tmp_path, monkeypatch):
    runs: list = []
    assert load(tmp_path / "one", monkeypatch, len(DAYS), runs=runs) is None
    assert runs == [(DAYS[0], DAYS[-1])]
    runs.clear()
    assert load(tmp_path / "pieces", monkeypatch, PER_PIECE, runs=runs) is None
    assert runs == [(DAYS[0], DAYS[34]), (DAYS[35], DAYS[-1])]
    # The second piece computes from history the first one stored.
    assert lookback.window_start(DAYS[35]) <= DAYS[0]

    one, pieces = tables(tmp_path / "one"), tables(tmp_path / "pieces")
    assert set(one) == set(pieces) and {"gold.indicators", "silver.intraday_bars"} <= set(one)
    for name in one:
        pd.testing.assert_frame_equal(pieces[name], one[name], check_exact=True, obj=name)
    indicators = one["gold.indicators"]
    assert len(indicators) == 3 * len(DAYS)
    # Values that need bars from before a boundary are there, in both.
    assert indicators[indicators.trade_date == pd.Timestamp(DAYS[55])].sma_50.notna().all()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_failed_piece_keeps_the_others_and_a_rerun_loads_only_what_is_missing(
    tmp_path, monkeypatch
):
    home = tmp_path / "home"
    settings = environment(home, monkeypatch, PER_PIECE)
    defs = build_definitions(settings)
    broken_day = DAYS[45]  # in the second piece
    compute = gold.indicators_for_days

    def failing(prices, days, *rest):
        if broken_day in days:
            raise RuntimeError("planted failure")
        return compute(prices, days, *rest)

    runs: list = []
    with dg.instance_for_test() as instance:
        monkeypatch.setattr(gold, "indicators_for_days", failing)
        runner = piece_runner(instance, defs, runs)
        missing = cli.run_history(instance, DAYS, PER_PIECE, print, runner)
        # The load stopped at the failed piece, which is what is missing.
        assert missing == DAYS[35:]
        assert runs == [(DAYS[0], DAYS[34]), (DAYS[35], DAYS[-1])]
        status = {
            spec.key: instance.get_status_by_partition(
                spec.key, [d.isoformat() for d in DAYS], TRADING_DAYS
            )
            for spec in defs.resolve_all_asset_specs()
            if spec.group_name in HISTORY_GROUPS and spec.partitions_def is not None
        }
        done = dg.AssetPartitionStatus.MATERIALIZED
        for key, by_day in status.items():
            assert all(by_day[d.isoformat()] == done for d in DAYS[:35]), key
        assert status[dg.AssetKey(["silver", "prices"])][DAYS[45].isoformat()] == done
        assert status[dg.AssetKey(["gold", "indicators"])][DAYS[45].isoformat()] != done
        assert cli.missing_days(instance, defs, DAYS) == DAYS[35:]

        monkeypatch.setattr(gold, "indicators_for_days", compute)
        runs.clear()
        assert (
            cli.run_history(
                instance, cli.missing_days(instance, defs, DAYS), PER_PIECE, print, runner
            )
            is None
        )
        assert runs == [(DAYS[35], DAYS[-1])]
        assert cli.missing_days(instance, defs, DAYS) == []
        # The first piece's partitions were materialized once: the re-run did not redo them.
        events = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey(["gold", "indicators"]),
                asset_partitions=[d.isoformat() for d in DAYS[:35]],
            ),
            limit=1000,
        ).records
        assert len(events) == 35
