"""deploy/ecs: the market dashboard behind the viewers' sign-in, read-only on the warehouse.

The template is read with its conditions evaluated per identity provider (as in
test_ecs_sign_in.py); the dashboard's health check path is asked of a real Streamlit server
started with the task's command.
"""

from __future__ import annotations

import fnmatch
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import yaml
from streamlit.web.server.starlette.starlette_server_config import (
    DEFAULT_WEBSOCKET_PING_INTERVAL,
)

from stock_assets_tests.deploy.test_ecs_sign_in import (
    PROVIDERS,
    _command_behind,
    _forward_target,
    _host_of,
    _ref,
    _rules_by_host,
    _sign_in_config,
    deployed,
)
from stock_assets_tests.deploy.test_ecs_template import (
    DEPLOY_DIR,
    _resources,
    _statements,
    _template,
)

# What the dashboard's engineer specified for the task.
DASHBOARD_COMMAND = [
    "python",
    "-m",
    "stock_assets.dashboard",
    "--address",
    "0.0.0.0",
    "--port",
    "8501",
    "--base-url-path",
    "dashboard",
]
BASE_PATH = "dashboard"
HEALTH_PATH = f"/{BASE_PATH}/_stcore/health"
DASHBOARD_URL = {"Fn::Sub": f"https://${{ViewerHostName}}/{BASE_PATH}"}


def _dashboard_service(template: dict) -> dict:
    """The properties of the ECS service whose task runs the dashboard."""
    resources = template["Resources"]
    (service,) = (
        s["Properties"]
        for s in _resources(template, "AWS::ECS::Service").values()
        if _container(template, s["Properties"])["Command"][:3]
        == ["python", "-m", "stock_assets.dashboard"]
    )
    assert resources[_ref(service["TaskDefinition"])]["Type"] == "AWS::ECS::TaskDefinition"
    return service


def _container(template: dict, service: dict) -> dict:
    definition = template["Resources"][_ref(service["TaskDefinition"])]
    (container,) = definition["Properties"]["ContainerDefinitions"]
    return container


def _dashboard_target_group(template: dict) -> str:
    (balanced,) = _dashboard_service(template)["LoadBalancers"]
    return _ref(balanced["TargetGroupArn"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dashboard_rule_signs_in_and_forwards_on_the_viewers_host_only(provider: str) -> None:
    template = deployed(provider)
    target_group = _dashboard_target_group(template)
    rules = _resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    (rule,) = (
        r["Properties"]
        for r in rules
        if any(_ref(a.get("TargetGroupArn")) == target_group for a in r["Properties"]["Actions"])
    )
    assert _forward_target(rule) == target_group
    assert _host_of(rule) == ["ViewerHostName"]
    (path,) = (c for c in rule["Conditions"] if c["Field"] == "path-pattern")
    assert path["PathPatternConfig"]["Values"] == [f"/{BASE_PATH}*"]
    # The viewers' own sign-in (client, cookie, timeout): no callback URL of its own.
    viewer = _rules_by_host(template)["ViewerHostName"]
    assert _sign_in_config(rule) == _sign_in_config(viewer)
    (sign_in,) = (a for a in rule["Actions"] if a["Type"].startswith("authenticate-"))
    (forward,) = (a for a in rule["Actions"] if a["Type"] == "forward")
    assert sign_in["Order"] < forward["Order"]
    # Evaluated before the viewers' rule, which would otherwise take /dashboard too.
    assert rule["Priority"] < viewer["Priority"]
    assert rule["ListenerArn"] == viewer["ListenerArn"]


def test_dashboard_task_runs_streamlit_under_its_path_with_a_health_check() -> None:
    template = _template()
    service = _dashboard_service(template)
    container = _container(template, service)
    assert container["Command"] == DASHBOARD_COMMAND
    assert [m["ContainerPort"] for m in container["PortMappings"]] == [8501]
    target = template["Resources"][_dashboard_target_group(template)]["Properties"]
    assert (target["TargetType"], target["Protocol"], target["Port"]) == ("ip", "HTTP", 8501)
    assert target["HealthCheckPath"] == HEALTH_PATH
    assert target["Matcher"] == {"HttpCode": "200"}
    # One task holding the Streamlit sessions, and stickiness while a deployment runs two.
    assert service["DesiredCount"] == 1
    attributes = {a["Key"]: a["Value"] for a in target["TargetGroupAttributes"]}
    assert attributes["stickiness.enabled"] == "true"
    # Not in the Dagster tasks' group: it cannot reach the code server.
    groups = service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    assert {"Ref": "TaskSecurityGroup"} not in groups


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dashboard_links_the_read_only_webserver(provider: str) -> None:
    template = deployed(provider)
    container = _container(template, _dashboard_service(template))
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["STOCK_ASSETS_DAGSTER_URL"] == {"Fn::Sub": "https://${ViewerHostName}"}
    viewer = _rules_by_host(template)["ViewerHostName"]
    assert _command_behind(template, _forward_target(viewer))[:2] == [
        "dagster-webserver",
        "--read-only",
    ]


def test_load_balancer_keeps_an_idle_dashboard_websocket_open() -> None:
    (balancer,) = _resources(_template(), "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    attributes = {a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
    # Streamlit pings its WebSocket at this interval; the load balancer's default is 60 s.
    assert int(attributes.get("idle_timeout.timeout_seconds", 60)) > DEFAULT_WEBSOCKET_PING_INTERVAL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_dashboard_command_serves_the_health_check_path(tmp_path) -> None:
    """The task's command, on loopback, answers the target group's health check with 200 ok."""
    template = _template()
    deployed_command = _container(template, _dashboard_service(template))["Command"]
    target = template["Resources"][_dashboard_target_group(template)]["Properties"]
    port = _free_port()
    command = [sys.executable, *deployed_command[1:]]
    command[command.index("0.0.0.0")] = "127.0.0.1"
    command[command.index("8501")] = str(port)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STOCK_ASSETS_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = f"http://127.0.0.1:{port}{target['HealthCheckPath']}"
                with urllib.request.urlopen(health) as answer:
                    assert (answer.status, answer.read()) == (200, b"ok")
                    break
            except urllib.error.HTTPError:
                raise  # the server answered: the path is wrong
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the dashboard did not answer in 60 s"
                time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _allowed(statements: list[dict], action: str, resource: str) -> bool:
    """Whether an Allow statement grants `action` on `resource` (a resolved ARN)."""
    return any(
        fnmatch.fnmatchcase(action, pattern) and fnmatch.fnmatchcase(resource, _resolved(arn))
        for statement in statements
        for pattern in _listed(statement["Action"])
        for arn in _listed(statement["Resource"])
    )


ACCOUNT = "arn:aws:{service}:us-east-1:123456789012"
LAKE = "arn:aws:s3:::lake"
PREFIX = "stock-assets"
PLACEHOLDERS = {
    "${LakeBucket.Arn}": LAKE,
    "${LakePrefix}": PREFIX,
    "${AthenaWorkGroup}": "stack-stock-assets",
    "${BronzeDatabase}": "prod_bronze",
    "${SilverDatabase}": "prod_silver",
    "${GoldDatabase}": "prod_gold",
    "${AWS::Partition}": "aws",
    "${AWS::Region}": "us-east-1",
    "${AWS::AccountId}": "123456789012",
}


def _resolved(arn: Any) -> str:
    """A resource of the template with the stack's names filled in."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        assert arn["Fn::GetAtt"] == ["LakeBucket", "Arn"], arn
        return LAKE
    text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    assert "${" not in text, text
    return text


def test_dashboard_role_reads_the_warehouse_and_cannot_write_the_lake_or_launch_tasks() -> None:
    template = _template()
    service = _dashboard_service(template)
    definition = template["Resources"][_ref(service["TaskDefinition"])]["Properties"]
    role = template["Resources"][definition["TaskRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = _statements(role["Policies"])
    assert {s["Effect"] for s in statements} == {"Allow"}
    # Athena's results go where the workgroup puts them (read from the workgroup itself).
    workgroup = template["Resources"]["AthenaWorkGroup"]["Properties"]
    output = workgroup["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
    results = output["Fn::Sub"].replace("s3://${LakeBucket}", "${LakeBucket.Arn}")
    results = _resolved(results)

    # Reads: queries in its workgroup, the layer catalog, the lake's files.
    athena = ACCOUNT.format(service="athena")
    for action in ("Start", "Get", "Stop"):
        query = f"athena:{action}QueryExecution"
        assert _allowed(statements, query, f"{athena}:workgroup/stack-stock-assets")
        assert not _allowed(statements, query, f"{athena}:workgroup/primary")
    assert _allowed(statements, "athena:GetQueryResults", f"{athena}:workgroup/stack-stock-assets")
    glue = ACCOUNT.format(service="glue")
    for layer in ("bronze", "silver", "gold"):
        assert _allowed(statements, "glue:GetTable", f"{glue}:table/prod_{layer}/any_table")
        assert _allowed(statements, "glue:GetPartitions", f"{glue}:table/prod_{layer}/any")
    table = f"{LAKE}/{PREFIX}/gold/signals/trade_date=2026-01-02/part-0.parquet"
    assert _allowed(statements, "s3:GetObject", table)
    assert _allowed(statements, "s3:PutObject", f"{results}query-id.csv")

    # No writes to the lake or the catalog, no tasks, no roles passed.
    for write in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
        for key in (table, f"{LAKE}/{PREFIX}/landing/quotes.json", f"{LAKE}/other/x"):
            assert not _allowed(statements, write, key), (write, key)
    for write in ("glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"):
        assert not _allowed(statements, write, f"{glue}:table/prod_gold/signals"), write
    assert not _allowed(statements, "glue:BatchCreatePartition", f"{glue}:table/prod_gold/x")
    ecs = ACCOUNT.format(service="ecs")
    assert not _allowed(statements, "ecs:RunTask", f"{ecs}:task-definition/stock-assets_job:1")
    assert not _allowed(statements, "ecs:RegisterTaskDefinition", "*")
    assert not _allowed(statements, "iam:PassRole", "arn:aws:iam::123456789012:role/any")
    services = {a.split(":")[0] for s in statements for a in _listed(s["Action"])}
    assert services == {"athena", "glue", "s3"}


def test_asset_pages_link_to_the_dashboard_from_every_dagster_task_and_run() -> None:
    template = _template()
    for name, definition in _resources(template, "AWS::ECS::TaskDefinition").items():
        (container,) = definition["Properties"]["ContainerDefinitions"]
        if not container["Command"][0].startswith("dagster"):
            continue
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert environment.get("STOCK_ASSETS_DASHBOARD_URL") == DASHBOARD_URL, name
    # Runs get the daemon's variables of the code location through the launcher's list.
    launcher = yaml.safe_load((DEPLOY_DIR / "dagster.yaml").read_text())["run_launcher"]["config"]
    (daemon,) = (
        d["Properties"]["ContainerDefinitions"][0]
        for d in _resources(template, "AWS::ECS::TaskDefinition").values()
        if d["Properties"]["ContainerDefinitions"][0]["Command"][0] == "dagster-daemon"
    )
    code_location_env = {
        e["Name"] for e in daemon["Environment"] if e["Name"].startswith("STOCK_ASSETS_")
    }
    assert "STOCK_ASSETS_DASHBOARD_URL" in code_location_env
    assert code_location_env - set(launcher["env_vars"]) == set()
