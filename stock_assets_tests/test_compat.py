"""The Dagster upgrade tripwire: fails on any Dagster release compat.py was not reviewed for.

On failure: read stock_assets/compat.py against the new release (each entry names what it
relies on), fix or drop what changed, then update DAGSTER_VERSION there and the pins in
pyproject.toml (`make lock`)."""

import importlib
import inspect
import re
import tomllib
from pathlib import Path

import dagster as dg
import pytest

from stock_assets import compat

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_installed_dagster_is_the_one_compat_was_reviewed_for():
    pins = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (pinned,) = [re.sub(r"^dagster==", "", p) for p in pins if p.startswith("dagster==")]
    assert dg.__version__ == pinned == compat.DAGSTER_VERSION, (
        f"Dagster {dg.__version__} installed, {pinned} pinned, compat.py reviewed for "
        f"{compat.DAGSTER_VERSION}: review stock_assets/compat.py before changing the pin"
    )


@pytest.mark.parametrize(("module", "name"), compat.PRIVATE_SYMBOLS)
def test_each_private_symbol_still_exists(module, name):
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone"


def test_the_check_target_is_still_what_check_results_take():
    parameter = inspect.signature(dg.AssetCheckEvaluation).parameters
    assert "target_materialization_data" in parameter
    assert "AssetCheckEvaluationTargetMaterializationData" in str(
        parameter["target_materialization_data"].annotation
    )
    assert list(inspect.get_annotations(compat._TargetData)) == [
        "storage_id",
        "run_id",
        "timestamp",
    ]


def test_a_result_built_through_compat_carries_its_target():
    instance = dg.DagsterInstance.ephemeral()

    @dg.asset
    def table() -> None:
        return None

    dg.materialize([table], instance=instance)
    record = instance.fetch_materializations(table.key, limit=1).records[0]
    evaluation = compat.new_check_evaluation(
        asset_key=table.key,
        check_name="c",
        passed=True,
        target_materialization_data=compat.check_target(record),
    )
    target = evaluation.target_materialization_data
    assert (target.storage_id, target.run_id) == (record.storage_id, record.run_id)
    assert target.timestamp == pytest.approx(record.timestamp)
    assert compat.check_target(None) is None


DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-05")


def _backfill_metadata(per_day: dict[str, dict], bulk: list[bool]) -> dict[str, dict]:
    """Each day's stored metadata after a single-run backfill of 2024-01-01..04 whose asset
    writes `per_day` through compat; `bulk` records whether the private path was taken."""
    instance = dg.DagsterInstance.ephemeral()

    @dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
    def table(context: dg.AssetExecutionContext) -> None:
        bulk.append(compat._metadata_step(context) is not None)
        compat.add_partition_metadata(context, context.asset_key, per_day)

    result = dg.materialize(
        [table],
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2024-01-01",
            "dagster/asset_partition_range_end": "2024-01-04",
        },
    )
    assert result.success
    records = instance.fetch_materializations(table.key, limit=10).records
    return {
        r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()}
        for r in records
    }


PER_DAY = {"2024-01-02": {"rows": 3, "note": "a"}, "2024-01-04": {"rows": 0}}
EXPECTED = {"2024-01-01": {}, "2024-01-02": {"rows": 3, "note": "a"}, "2024-01-03": {}}
EXPECTED["2024-01-04"] = {"rows": 0}


def test_bulk_partition_metadata_lands_on_each_day_through_the_private_path():
    bulk: list[bool] = []
    assert _backfill_metadata(PER_DAY, bulk) == EXPECTED
    assert bulk == [True], "the bulk write fell back to the per-day call: review compat.py"


def test_the_public_fallback_stores_the_same_metadata(monkeypatch):
    monkeypatch.setattr(compat, "_MetadataAccumulator", None)
    bulk: list[bool] = []
    assert _backfill_metadata(PER_DAY, bulk) == EXPECTED
    assert bulk == [False]


def test_bulk_partition_metadata_refuses_a_day_outside_the_run():
    with pytest.raises(dg.DagsterInvariantViolationError, match="2024-01-05"):
        _backfill_metadata({"2024-01-05": {"rows": 1}}, [])
