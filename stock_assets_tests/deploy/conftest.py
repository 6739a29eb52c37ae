"""One production-shaped local stack per test session (deploy/local/stack.py), always torn down.

The stack runs in its own data dir and its own Postgres database (dropped afterwards), so it
never touches a developer's stack; `daily_run` launches the daily job once for the tests
that need a finished run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

STACK_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.py"
# A past NYSE session; a handful of symbols keeps the run short.
PARTITION = "2024-07-05"
SYMBOLS = "AAPL,MSFT,NVDA"
RUN_TIMEOUT_SECONDS = 300


def _load_stack_module() -> ModuleType:
    """The script under test, imported for its process and GraphQL helpers."""
    spec = importlib.util.spec_from_file_location("local_stack", STACK_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stack_module = _load_stack_module()


@dataclass(frozen=True)
class Stack:
    url: str  # the full webserver (operators)
    readonly_url: str  # the `--read-only` webserver (viewers)
    env: dict[str, str]  # the stack's public environment: moto endpoint, bucket, database
    services: list[dict]

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return stack_module.graphql(self.url, query, variables)

    def boto3_client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=self.env["AWS_REGION"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`stack.py up` in a temp data dir with a unique database; `down --drop-database` after."""
    data_dir = tmp_path_factory.mktemp("stack")
    env = {
        **os.environ,
        "STOCK_ASSETS_DATA_DIR": str(data_dir),
        "DAGSTER_PG_DB": f"stock_assets_test_{uuid.uuid4().hex[:12]}",
        "STOCK_ASSETS_SYMBOLS": SYMBOLS,
    }
    command = [sys.executable, str(STACK_SCRIPT)]
    services: list[dict] = []
    try:
        subprocess.run([*command, "up"], env=env, check=True, timeout=600)
        state = json.loads((data_dir / "stack" / "state.json").read_text())
        services = state["services"]
        yield Stack(
            url=state["url"],
            readonly_url=state["readonly_url"],
            env=state["env"],
            services=services,
        )
    finally:
        subprocess.run([*command, "down", "--drop-database"], env=env, check=True, timeout=300)
    leftovers = [s["name"] for s in services if stack_module.alive(s)]
    assert not leftovers, f"still running after `down`: {leftovers}"


LAUNCH_RUN = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } }
} }
"""
RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def daily_run_params() -> dict:
    """ExecutionParams launching daily_market_job for PARTITION."""
    selector = {
        "repositoryLocationName": stack_module.LOCATION,
        "repositoryName": "__repository__",
        "jobName": "daily_market_job",
    }
    return {
        "selector": selector,
        # The job's own executor (in process): what the schedule launches.
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": PARTITION}]},
    }


@pytest.fixture(scope="session")
def daily_run(local_stack: Stack) -> tuple[str, str]:
    """Launch daily_market_job for PARTITION over GraphQL on the full webserver (queued, then
    run by the daemon).

    Returns (run id, final status).
    """
    launched = local_stack.graphql(LAUNCH_RUN, {"params": daily_run_params()})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while True:
        status = local_stack.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in TERMINAL or time.monotonic() > deadline:
            return run_id, status
        time.sleep(2)


# -- the UI in Debian's headless Chromium -------------------------------------------------

UI_TIMEOUT_MS = 60_000


@pytest.fixture
def page(browser):
    # Tall enough for the whole lineage at the zoom that still shows asset names.
    context = browser.new_context(viewport={"width": 1500, "height": 2200})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    context.close()
