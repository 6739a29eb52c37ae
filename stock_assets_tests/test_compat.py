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
