"""The checks factory (stock_assets/checks.py) piece by piece, fast: results built from
hand-made outcomes, the materializations a check links to in an ephemeral instance, one
check op run on a stand-in warehouse, and the specs the factory declares."""

import datetime as dt
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from stock_assets import checks
from stock_assets.assets.prices import WAREHOUSE_POOL
from stock_assets.assets.views import VIEWS
from stock_assets.market import catalogue
from stock_assets.market.quality import Outcome
from stock_assets.market.rules import Check, Rule
from stock_assets.partitions import TRADING_DAYS

KEY = dg.AssetKey(["silver", "tiny"])
DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01")


def outcome(failing_days: list[dt.date], what: str = "rows bad", ok: str = "fine") -> Outcome:
    return Outcome(pd.DataFrame({"trade_date": failing_days}), what, ok)


def rule(what: str, error: bool = False) -> Rule:
    return Rule(what, lambda s: outcome([]), error)


WARN_RULE, ERROR_RULE = rule("warn rule"), rule("error rule", error=True)


# -- results ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "failed", "severity"),
    [
        (Check("c", "p.", (WARN_RULE, ERROR_RULE)), [ERROR_RULE], dg.AssetCheckSeverity.ERROR),
        (Check("c", "p.", (WARN_RULE, ERROR_RULE)), [WARN_RULE], dg.AssetCheckSeverity.WARN),
        (Check("c", "p.", (ERROR_RULE,)), [], dg.AssetCheckSeverity.ERROR),
        (Check("c", "p.", (WARN_RULE,)), [], dg.AssetCheckSeverity.WARN),
        (Check("c", "p.", (ERROR_RULE,), gates=False), [], dg.AssetCheckSeverity.WARN),
    ],
)
def test_severity(check: Check, failed: list[Rule], severity: dg.AssetCheckSeverity) -> None:
    assert checks._severity(check, failed) == severity


def test_a_failing_result_carries_its_evidence_notes_and_range() -> None:
    check = Check("values", "p.", (WARN_RULE, ERROR_RULE, rule("ok rule")), notes={"why": "a note"})
    seven = outcome([DAYS[0]] * 7, "rows too big")
    outcomes = [seven, outcome([DAYS[2]], "rows too small"), outcome([], ok="all fine")]
    result = checks._evaluation(KEY, check, outcomes, 42, DAYS, None)
    assert (result.asset_key, result.check_name) == (KEY, "values")
    assert not result.passed and result.blocking
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.description == "7 rows too big; 1 rows too small"
    assert result.target_materialization_data is None
    meta = {name: value.value for name, value in result.metadata.items()}
    assert meta["failing_count"] == 8 and meta["rows_checked"] == 42
    assert meta["why"] == "a note"
    assert meta["partition_range"] == "2024-01-02..2024-01-04"
    assert meta["failing_partitions"] == ["2024-01-02", "2024-01-04"]
    sample = meta["failing_sample"]
    assert sample.count("warn rule") == checks.SAMPLE_ROWS and sample.count("error rule") == 1
    assert "ok rule" not in sample


def test_a_passing_result_describes_every_rule_and_has_no_sample_or_range() -> None:
    check = Check("keys", "p.", (WARN_RULE, rule("other")))
    result = checks._evaluation(KEY, check, [outcome([], ok="a"), outcome([], ok="b")], 0, [], None)
    assert result.passed and not result.blocking
    assert result.description == "a; b"
    assert set(result.metadata) == {"failing_count", "rows_checked"}
    assert result.metadata["failing_count"].value == 0


def test_evidence_without_rows_shows_no_sample() -> None:
    failed = Outcome(pd.DataFrame(), "", "readable", "KeyError: 'x'")
    result = checks._evaluation(KEY, Check("c", "p.", (WARN_RULE,)), [failed], 3, [], None)
    assert not result.passed and "failing_sample" not in result.metadata
    assert result.description == "could not evaluate (readable): KeyError: 'x'"


def test_a_result_needs_one_outcome_per_rule() -> None:
    with pytest.raises(ValueError, match="zip"):
        checks._evaluation(
            KEY, Check("c", "p.", (WARN_RULE, ERROR_RULE)), [outcome([])], 0, [], None
        )


def test_range_metadata_lists_failing_days_sorted_and_at_most_a_hundred() -> None:
    days = [DAYS[0] + dt.timedelta(days=n) for n in range(checks.FAILING_DAYS_SHOWN + 1)]
    meta = checks._range_metadata([outcome([days[5], days[1]]), outcome([days[1]])], days)
    assert meta["failing_partitions"].value == [days[1].isoformat(), days[5].isoformat()]
    assert meta["failing_partition_count"].value == 2
    assert meta["partitions_checked"].value == len(days)
    unreadable = Outcome(pd.DataFrame(), "", "ok", "boom")
    meta = checks._range_metadata([unreadable], days)
    assert meta["failing_partition_count"].value == len(days)
    listed = meta["failing_partitions"].value
    assert listed == [day.isoformat() for day in days[: checks.FAILING_DAYS_SHOWN]]


# -- what the run judges ------------------------------------------------------------------


def record(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None, **meta: Any):
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=key, partition=partition, metadata=meta)
    )
    return instance.fetch_materializations(key, limit=1).records[0]


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_latest_materializations(instance: dg.DagsterInstance) -> None:
    record(instance, KEY, "2024-01-02")
    second = record(instance, KEY, "2024-01-03")
    newest = record(instance, KEY, "2024-01-02")
    assert checks.latest_materialization(instance, KEY, ["2024-01-03"]) == second
    assert checks.latest_materialization(instance, KEY, []) == newest
    assert checks.latest_materialization(instance, checks.PRICES_KEY, []) is None
    found = checks.latest_materializations(instance, KEY, ["2024-01-02", "2024-01-03", "x"])
    assert found == {"2024-01-02": newest, "2024-01-03": second}
    assert checks.latest_materializations(instance, KEY, ["2024-01-03"]) == {"2024-01-03": second}
    assert checks.latest_materializations(instance, checks.PRICES_KEY, ["2024-01-02"]) == {}


def test_source_symbol_errors_per_day(instance: dg.DagsterInstance) -> None:
    record(instance, checks.RAW_QUOTES_KEY, "2024-01-02", symbol_errors={"AAA": "timeout"})
    record(instance, checks.RAW_QUOTES_KEY, "2024-01-03")
    errors = checks.source_symbol_errors(instance, ["2024-01-02", "2024-01-03"])
    assert errors == {DAYS[0]: {"AAA": "timeout"}, DAYS[1]: {}}


def context(instance: dg.DagsterInstance, partitions: tuple[str, str] | None = None, **kw: Any):
    """A stand-in check context: the run's partition range (if any), instance, resources."""
    return SimpleNamespace(
        op_execution_context=SimpleNamespace(has_partitions=partitions is not None),
        partition_key_range=dg.PartitionKeyRange(*partitions) if partitions else None,
        instance=instance,
        **kw,
    )


def test_run_partitions(instance: dg.DagsterInstance) -> None:
    ranged = context(instance, ("2024-01-02", "2024-01-04"))
    assert checks.run_partitions(ranged, KEY, None) == []
    assert checks.run_partitions(ranged, KEY, DAILY) == [d.isoformat() for d in DAYS]
    with pytest.raises(dg.Failure, match=r"^silver/tiny has no materialization to check yet$"):
        checks.run_partitions(context(instance), KEY, DAILY)
    record(instance, KEY, "2024-01-03")
    assert checks.run_partitions(context(instance), KEY, DAILY) == ["2024-01-03"]


class Warehouse(dg.IOManager):
    """Stores nothing; answers reads with `rows` and records what was asked."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows, self.asked = rows, []

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        pass

    def load_input(self, context: dg.InputContext) -> Any:
        return self.rows

    def read(self, table: str, partitions: Any = None) -> pd.DataFrame:
        self.asked.append(("read", table, partitions))
        return self.rows.assign(table=table)

    def distinct(self, table: str, columns: Any, partitions: Any = None) -> pd.DataFrame:
        self.asked.append(("distinct", table, tuple(columns), partitions))
        return pd.DataFrame({"table": [table]})


def seeing(seen: list, error: bool = False) -> Rule:
    """A rule that records the scope it judged and fails on its rows' NULL x."""

    def evaluate(scope: Any) -> Outcome:
        seen.append(scope)
        return Outcome(scope.rows[scope.rows["x"].isna()], "rows without x", "x present")

    return Rule("x present", evaluate, error)


def test_evaluate_checks_reads_once_and_reports_each_selected_check(
    instance: dg.DagsterInstance,
) -> None:
    seen: list = []
    chosen = Check(
        "values",
        "p.",
        (seeing(seen, error=True), seeing(seen)),
        reads={"whole": "silver.other", "keys": "gold.keyed"},
        key_reads={"keys": ("symbol",)},
        uses_watchlist=True,
    )
    skipped = Check("keys", "p.", (seeing(seen),), reads={"skipped": "gold.never"})
    specs = {c.name: (c, checks._spec(KEY, c)) for c in (chosen, skipped)}
    target = record(instance, KEY, "2024-01-03")
    record(instance, checks.RAW_QUOTES_KEY, "2024-01-02", symbol_errors={"AAA": "timeout"})
    warehouse = Warehouse(pd.DataFrame({"x": [1.0, None]}))
    ctx = context(
        instance,
        ("2024-01-02", "2024-01-03"),
        selected_asset_check_keys={specs["values"][1].key},
        resources=SimpleNamespace(
            io_manager=warehouse, market_data=SimpleNamespace(watchlist=lambda: ("AAA",))
        ),
    )
    before = dt.datetime.now(dt.UTC)
    evaluation, output = checks.evaluate_checks(ctx, KEY, DAILY, specs)
    run = ["2024-01-02", "2024-01-03"]
    assert warehouse.asked == [
        ("read", "silver.tiny", run),
        ("read", "silver.other", run),
        ("distinct", "gold.keyed", ("symbol",), run),
    ]
    assert len(seen) == 2 and seen[0] is seen[1]
    scope = seen[0]
    assert scope.rows["table"].tolist() == ["silver.tiny"] * 2
    assert scope.days == DAYS[:2]
    assert before <= scope.now <= dt.datetime.now(dt.UTC)
    assert {name: f["table"][0] for name, f in scope.related.items()} == {
        "whole": "silver.other",
        "keys": "gold.keyed",
    }
    assert scope.watchlist == ("AAA",)
    assert scope.symbol_errors == {DAYS[0]: {"AAA": "timeout"}}  # no pull on the 3rd
    assert scope.history_start == dt.date.fromisoformat(TRADING_DAYS.get_first_partition_key())
    assert (evaluation.check_name, evaluation.passed) == ("values", False)
    assert evaluation.metadata["rows_checked"].value == 2
    assert evaluation.metadata["partitions_checked"].value == 2
    assert evaluation.target_materialization_data.storage_id == target.storage_id
    assert output.output_name == specs["values"][1].get_python_identifier()


def test_an_unpartitioned_check_reads_the_whole_table_without_the_watchlist(
    instance: dg.DagsterInstance,
) -> None:
    seen: list = []
    check = Check("keys", "p.", (seeing(seen),), key_reads={"k": ("a",)}, reads={"k": "b.k"})
    specs = {"keys": (check, checks._spec(KEY, check))}
    warehouse = Warehouse(pd.DataFrame({"x": [1.0]}))
    ctx = context(
        instance,
        selected_asset_check_keys={specs["keys"][1].key},
        resources=SimpleNamespace(io_manager=warehouse),
    )
    evaluation, _ = checks.evaluate_checks(ctx, KEY, None, specs)
    assert warehouse.asked == [("read", "silver.tiny", None), ("distinct", "b.k", ("a",), None)]
    assert evaluation.passed and "partition_range" not in evaluation.metadata
    assert seen[0].days == [] and seen[0].watchlist == () and seen[0].symbol_errors == {}


def test_a_check_launched_without_partitions_judges_the_latest_one(
    instance: dg.DagsterInstance,
) -> None:
    seen: list = []
    check = Check("keys", "p.", (seeing(seen),))
    specs = {"keys": (check, checks._spec(KEY, check))}
    record(instance, checks.RAW_QUOTES_KEY, "2024-01-03", symbol_errors={"AAA": "timeout"})
    record(instance, KEY, "2024-01-03")
    warehouse = Warehouse(pd.DataFrame({"x": [1.0]}))
    ctx = context(
        instance,
        selected_asset_check_keys={specs["keys"][1].key},
        resources=SimpleNamespace(io_manager=warehouse),
    )
    list(checks.evaluate_checks(ctx, KEY, DAILY, specs))
    assert warehouse.asked == [("read", "silver.tiny", ["2024-01-03"])]
    assert seen[0].days == [DAYS[1]] and seen[0].symbol_errors == {}  # no watchlist rule


def test_key_reads_union_the_columns_unless_a_check_reads_the_table_whole() -> None:
    one = Check("a", "p.", (), reads={"k": "t.k", "w": "t.w"}, key_reads={"k": ("b", "a")})
    two = Check("b", "p.", (), reads={"k": "t.k", "w": "t.w"}, key_reads={"k": ("c", "a")})
    whole = Check("c", "p.", (), reads={"w": "t.w"})
    keyed_w = Check("d", "p.", (), reads={"w": "t.w"}, key_reads={"w": ("x",)})
    assert checks._key_reads([one, two, whole, keyed_w]) == {"k": ("a", "b", "c")}
    assert checks._key_reads([keyed_w]) == {"w": ("x",)}


def test_spec_from_a_check() -> None:
    check = Check("values", "Protects.", (ERROR_RULE,), reads={"r": "gold.other"})
    spec = checks._spec(KEY, check)
    assert spec.key == dg.AssetCheckKey(KEY, "values")
    assert spec.description == check.description and spec.blocking
    assert {dep.asset_key for dep in spec.additional_deps} == {dg.AssetKey(["gold", "other"])}


# -- the check ops ------------------------------------------------------------------------


def test_table_checks_declares_one_op_for_the_table() -> None:
    plain = Check("keys", "p.", (ERROR_RULE,))
    watching = Check("completeness", "p.", (WARN_RULE,), uses_watchlist=True)
    definition = checks.table_checks(KEY, [plain, watching], DAILY)
    assert definition.node_def.name == "silver__tiny_checks"
    assert definition.node_def.description == (
        "Data-quality checks of silver/tiny (market/catalogue.py)."
    )
    assert definition.node_def.pool == WAREHOUSE_POOL
    assert definition.required_resource_keys == {"io_manager", "market_data"}
    assert [spec.key.name for spec in definition.check_specs] == ["keys", "completeness"]
    assert [spec.blocking for spec in definition.check_specs] == [True, False]
    assert checks.table_checks(KEY, [plain], None).required_resource_keys == {"io_manager"}


def test_a_table_check_op_runs_its_selected_checks() -> None:
    warehouse = Warehouse(pd.DataFrame({"x": [1.0, None]}))

    @dg.asset(key=KEY, io_manager_key="io_manager")
    def tiny() -> pd.DataFrame:
        return warehouse.rows

    seen: list = []
    definition = checks.table_checks(
        KEY, [Check("keys", "p.", (seeing(seen, error=True),)), Check("other", "p.", ())], None
    )
    result = dg.materialize(
        [tiny, definition],
        resources={"io_manager": warehouse},
        selection=dg.AssetSelection.assets(KEY).without_checks()
        | dg.AssetSelection.checks(dg.AssetCheckKey(KEY, "keys")),
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert (evaluation.asset_key, evaluation.check_name, evaluation.passed) == (KEY, "keys", False)
    assert evaluation.description == "1 rows without x"
    assert not result.success  # the failing blocking check failed the run
    assert warehouse.asked == [("read", "silver.tiny", None)]


class Engine:
    """A stand-in sql_engine: each view has its declared columns and `rows` rows."""

    def __init__(self, rows: int = 3, fails: bool = False) -> None:
        self.rows, self.fails, self.queries = rows, fails, []

    def count(self, query: str) -> int:
        if self.fails:
            raise RuntimeError("engine down")
        self.queries.append(query)
        return self.rows

    def columns(self, view: Any) -> list[str]:
        return list(view.declared_columns)


def test_view_facts_ask_the_engine() -> None:
    view = next(iter(VIEWS.values()))
    engine = Engine(rows=7)
    facts = checks._view_facts(engine, view)
    assert facts == catalogue.ViewFacts(7, 7, list(view.declared_columns), view.declared_columns)
    assert engine.queries == [
        f"SELECT count(*) FROM {view.qualified_name}",
        catalogue.VIEW_EXPECTATIONS[view.qualified_name].rows,
    ]


def run_view_checks(engine: Engine, keys: list[dg.AssetKey]) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [checks.view_checks(), *(dg.AssetSpec(key) for key in VIEWS)],
        resources={"sql_engine": engine},
        selection=dg.AssetSelection.checks_for_assets(*keys),
    )


def test_view_checks_declare_every_views_checks() -> None:
    definition = checks.view_checks()
    expected = {
        dg.AssetCheckKey(key, check.name): check
        for key, view in VIEWS.items()
        for check in catalogue.view_checks(catalogue.VIEW_EXPECTATIONS[view.qualified_name])
    }
    found = {spec.key: spec for spec in definition.check_specs}
    assert found.keys() == expected.keys()
    assert all(found[key].description == check.description for key, check in expected.items())
    assert definition.node_def.name == "sql_view_checks"
    assert definition.node_def.pool == WAREHOUSE_POOL
    assert definition.node_def.required_resource_keys == {"sql_engine"}
    assert definition.node_def.description.startswith("Checks of the SQL views")


def test_view_checks_judge_only_the_selected_views() -> None:
    keys = sorted(VIEWS, key=lambda k: k.to_user_string())[:2]
    result = run_view_checks(Engine(rows=3), keys)
    evaluations = result.get_asset_check_evaluations()
    assert {e.asset_key for e in evaluations} == set(keys)
    assert len(evaluations) == sum(
        len(catalogue.view_checks(catalogue.VIEW_EXPECTATIONS[VIEWS[k].qualified_name]))
        for k in keys
    )
    assert all(e.passed and e.metadata["rows_checked"].value == 3 for e in evaluations)


def test_a_view_the_engine_cannot_answer_fails_every_check_named() -> None:
    key = next(iter(VIEWS))
    evaluations = run_view_checks(Engine(fails=True), [key]).get_asset_check_evaluations()
    assert evaluations and all(not e.passed for e in evaluations)
    assert all("could not evaluate" in e.description for e in evaluations)
    assert all("RuntimeError: engine down" in e.description for e in evaluations)
    assert all(e.metadata["rows_checked"].value == 0 for e in evaluations)


def test_asset_checks_give_each_catalogued_table_its_partitions(monkeypatch) -> None:
    made: dict = {}
    monkeypatch.setattr(checks, "table_checks", lambda key, c, p: made.setdefault(key, (c, p)))
    spec = dg.AssetSpec(checks.PRICES_KEY, partitions_def=DAILY)
    found = checks.asset_checks([dg.AssetsDefinition(specs=[spec])])
    assert found[:-1] == [made[key] for key in checks.CHECKS]
    assert found[-1].node_def.name == "sql_view_checks"
    assert made[checks.PRICES_KEY] == (checks.CHECKS[checks.PRICES_KEY], DAILY)
    assert all(p is None for key, (_, p) in made.items() if key != checks.PRICES_KEY)
