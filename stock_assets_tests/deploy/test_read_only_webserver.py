"""The viewers' `dagster-webserver --read-only` of the local stack refuses what only
operators may do, while the operators' full webserver accepts it (as behind the ECS load
balancer, where each has its own host name)."""

from __future__ import annotations

import pytest

from stock_assets_tests.deploy.conftest import LAUNCH_RUN, Stack, daily_run_params, stack_module

pytestmark = pytest.mark.slow

PERMISSIONS = "{ permissions { permission value } }"
RUN_IDS = "{ runsOrError { ... on Runs { results { runId } } } }"
# What an operator does and a viewer must not (Dagster's own permission names).
OPERATOR_ONLY = {
    "launch_pipeline_execution",
    "launch_partition_backfill",
    "terminate_pipeline_execution",
    "start_schedule",
    "stop_running_schedule",
    "edit_sensor",
}


def _run_ids(stack: Stack) -> set[str]:
    return {r["runId"] for r in stack.graphql(RUN_IDS)["runsOrError"]["results"]}


def test_read_only_webserver_refuses_to_launch_a_run_the_full_one_accepted(
    local_stack: Stack, daily_run: tuple[str, str]
) -> None:
    run_id, _ = daily_run  # launched on the full webserver with the same parameters
    before = _run_ids(local_stack)
    assert run_id in before

    refused = stack_module.graphql(
        local_stack.readonly_url, LAUNCH_RUN, {"params": daily_run_params()}
    )["launchRun"]

    assert refused["__typename"] == "UnauthorizedError", refused
    assert _run_ids(local_stack) == before, "the refused launch created a run"


def test_only_the_full_webserver_grants_the_operators_permissions(local_stack: Stack) -> None:
    def granted(url: str) -> dict[str, bool]:
        permissions = stack_module.graphql(url, PERMISSIONS)["permissions"]
        return {p["permission"]: p["value"] for p in permissions}

    full, read_only = granted(local_stack.url), granted(local_stack.readonly_url)
    assert {name: full[name] for name in OPERATOR_ONLY} == dict.fromkeys(OPERATOR_ONLY, True)
    assert {name: read_only[name] for name in OPERATOR_ONLY} == dict.fromkeys(OPERATOR_ONLY, False)
