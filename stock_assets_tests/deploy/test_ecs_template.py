"""deploy/ecs: the CloudFormation template, its IAM wildcards, and the image that runs it.

Wildcard convention: a policy `Resource`/`NotResource` value containing `*` must carry a
`# wildcard-justified: <reason>` comment on its own line or in the comment lines directly
above it; a comment above the `Resource:` key covers every value under that key.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml
from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO / "deploy" / "ecs"
TEMPLATE = DEPLOY_DIR / "cloudformation.yaml"
JUSTIFICATION = re.compile(r"#\s*wildcard-justified:\s*\S")
COMMENT_LINE = re.compile(r"^\s*#")
RESOURCE_KEYS = ("Resource", "NotResource")


@dataclass(frozen=True)
class Wildcard:
    """One policy resource string containing `*`, where it is in the template text."""

    line: int  # 1-based
    value: str
    justified: bool


def _justified_at(lines: list[str], index: int) -> bool:
    """A justification on line `index` (0-based) or in the comment block right above it."""
    if JUSTIFICATION.search(lines[index]):
        return True
    index -= 1
    while index >= 0 and COMMENT_LINE.match(lines[index]):
        if JUSTIFICATION.search(lines[index]):
            return True
        index -= 1
    return False


def _strings(node: Any, line: int) -> list[tuple[str, int]]:
    """Every string inside a (possibly intrinsic-function) value, with its 0-based line.

    A short-form tag's scalar (`!Sub arn:...`) has no position of its own: it takes the
    position of the tagged node.
    """
    mark = getattr(node, "start_mark", None)
    line = mark.line if mark is not None else line
    if isinstance(node, str):
        return [(node, line)]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value, line)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item, line)]
    return []


def _statements(node: Any) -> list[dict]:
    """Every policy statement (identity or resource policy) anywhere in the template."""
    found: list[dict] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Statement":
                found.extend(s for s in (value if isinstance(value, list) else [value]))
            else:
                found.extend(_statements(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_statements(item))
    return found


def policy_wildcards(text: str) -> list[Wildcard]:
    """The wildcard resources of every policy statement in a template's raw YAML text."""
    lines = text.splitlines()
    template = cfn_yaml.loads(text)
    wildcards = []
    for statement in _statements(template):
        for key in statement:
            if key not in RESOURCE_KEYS:
                continue
            key_line = key.start_mark.line
            for value, value_line in _strings(statement[key], key_line):
                if "*" not in value:
                    continue
                justified = _justified_at(lines, value_line) or _justified_at(lines, key_line)
                wildcards.append(Wildcard(value_line + 1, value, justified))
    return wildcards


SYNTHETIC = """\
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: ecr:GetAuthorizationToken
                # wildcard-justified: no resource-level permissions
                Resource: "*"
              - Effect: Allow
                Action: glue:GetTable
                Resource:
                  - !Sub arn:aws:glue:${AWS::Region}:${AWS::AccountId}:database/gold
                  - !Sub arn:aws:glue:${AWS::Region}:${AWS::AccountId}:table/gold/*
              - Effect: Allow
                Action: s3:GetObject
                Resource: arn:aws:s3:::bucket/*  # wildcard-justified: every object
              - Effect: Allow
                Action: sns:Publish
                # wildcard-justified:
                Resource: "*"
              - Effect: Allow
                Action: s3:PutObject
                # wildcard-justified: separated from its statement by a blank line

                Resource: arn:aws:s3:::bucket/*
"""


def test_wildcard_check_tells_justified_from_unjustified() -> None:
    found = {(w.line, w.justified) for w in policy_wildcards(SYNTHETIC)}
    # Justified: the comment above `Resource:` and the trailing comment. Not justified: the
    # table ARN without a comment, a marker without a reason, a comment cut off by a blank line.
    assert found == {(15, True), (20, False), (23, True), (27, False), (32, False)}


def test_every_iam_wildcard_in_the_template_is_justified() -> None:
    wildcards = policy_wildcards(TEMPLATE.read_text())
    assert len(wildcards) >= 5, "the check found no wildcards: is it reading the policies?"
    unjustified = [f"line {w.line}: {w.value}" for w in wildcards if not w.justified]
    assert unjustified == []


def test_template_passes_cfn_lint() -> None:
    matches = lint_file(TEMPLATE)
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []


def _template() -> dict:
    return cfn_yaml.loads(TEMPLATE.read_text())


def _resources(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_ui_ingress_is_restricted_to_a_parameter() -> None:
    template = _template()
    assert "Default" not in template["Parameters"]["AllowedIngressCidr"]
    rules = [
        rule
        for group in _resources(template, "AWS::EC2::SecurityGroup").values()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
    ]
    # The only address-based ingress is the load balancer's (HTTPS, and HTTP that only
    # redirects), from the parameter; every other rule names a security group.
    by_address = [r for r in rules if "CidrIp" in r]
    assert {(r["FromPort"], r["ToPort"]) for r in by_address} == {(443, 443), (80, 80)}
    assert all(r["CidrIp"] == {"Ref": "AllowedIngressCidr"} for r in by_address)
    assert not any("CidrIpv6" in r for r in rules)


def _ingress_rules(template: dict) -> list[tuple[str, dict]]:
    """(security group it admits into, rule) of every inline and standalone ingress rule."""
    found = [
        (name, rule)
        for name, group in _resources(template, "AWS::EC2::SecurityGroup").items()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
    ]
    for rule in _resources(template, "AWS::EC2::SecurityGroupIngress").values():
        found.append((rule["Properties"]["GroupId"]["Ref"], rule["Properties"]))
    return found


def test_only_the_services_behind_the_load_balancer_are_reachable_from_it() -> None:
    template = _template()
    resources = template["Resources"]
    (balancer,) = _resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    (balancer_group,) = (g["Ref"] for g in balancer["Properties"]["SecurityGroups"])
    admitting = {
        (group, rule["FromPort"], rule["ToPort"])
        for group, rule in _ingress_rules(template)
        if rule.get("SourceSecurityGroupId") == {"Ref": balancer_group}
    }
    assert ("WebserverSecurityGroup", 3000, 3000) in admitting
    open_to_balancer = {group for group, _, _ in admitting}
    # Each service behind it admits the load balancer on its container's port, no other.
    for service in _resources(template, "AWS::ECS::Service").values():
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        groups = {g["Ref"] for g in network["SecurityGroups"]}
        balanced = service["Properties"].get("LoadBalancers", [])
        ports = {(lb["ContainerPort"], lb["ContainerPort"]) for lb in balanced}
        assert {(low, high) for g, low, high in admitting if g in groups} == ports
    # A service carries such a group only if the load balancer forwards to it (through a
    # signed-in rule); the code server and the daemon (whose network the runs inherit) don't.
    unbalanced = []
    for service in _resources(template, "AWS::ECS::Service").values():
        definition = resources[service["Properties"]["TaskDefinition"]["Ref"]]
        command = definition["Properties"]["ContainerDefinitions"][0]["Command"]
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        groups = {g["Ref"] for g in network["SecurityGroups"]}
        behind = "LoadBalancers" in service["Properties"]
        assert bool(groups & open_to_balancer) == behind, command
        assert behind or command[0] != "dagster-webserver"
        assert network["AssignPublicIp"] == "DISABLED"
        if not behind:
            unbalanced.append(command[0])
    assert sorted(unbalanced) == ["dagster", "dagster-daemon", "stock-assets"]
    assert "TaskSecurityGroup" not in open_to_balancer
    # The database admits the Dagster tasks and the dashboard (check results), never the
    # load balancer.
    database = resources["Database"]["Properties"]
    assert database["PubliclyAccessible"] is False
    (database_group,) = (g["Ref"] for g in database["VPCSecurityGroups"])
    sources = {
        rule["SourceSecurityGroupId"]["Ref"]
        for group, rule in _ingress_rules(template)
        if group == database_group
    }
    assert sources == {"TaskSecurityGroup", "DashboardSecurityGroup"}
    assert balancer_group not in sources


def test_lake_bucket_is_encrypted_private_and_expires_scratch_data() -> None:
    (bucket,) = _resources(_template(), "AWS::S3::Bucket").values()
    properties = bucket["Properties"]
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    block = properties["PublicAccessBlockConfiguration"]
    assert len(block) == 4 and set(block.values()) == {True}
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert any("athena-results" in str(r.get("Prefix")) and "ExpirationInDays" in r for r in rules)


def _env_references(path: Path) -> set[str]:
    """The variables a Dagster YAML file reads through `{env: NAME}`."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(path.read_text()))
    return found


def test_every_service_and_run_task_gets_the_environment_dagster_reads() -> None:
    instance_env = _env_references(DEPLOY_DIR / "dagster.yaml")
    workspace_env = _env_references(DEPLOY_DIR / "workspace.yaml")
    for name, definition in _resources(_template(), "AWS::ECS::TaskDefinition").items():
        (container,) = definition["Properties"]["ContainerDefinitions"]
        given = {e["Name"] for e in container["Environment"]} | {
            s["Name"] for s in container.get("Secrets", [])
        }
        # Every task loads the instance (the dashboard for its check results); only those
        # started with a workspace file (-w) load the workspace.
        needed = instance_env | (workspace_env if "-w" in container["Command"] else set())
        assert needed - given == set(), name

    launcher = yaml.safe_load((DEPLOY_DIR / "dagster.yaml").read_text())["run_launcher"]["config"]
    forwarded = set(launcher["env_vars"]) | {s["name"] for s in launcher["secrets"]}
    assert instance_env - forwarded == set(), "run tasks load dagster.yaml too"


def test_run_task_permission_matches_the_launcher_prefix() -> None:
    """The control plane may run exactly the task families the EcsRunLauncher registers."""
    launcher = yaml.safe_load((DEPLOY_DIR / "dagster.yaml").read_text())["run_launcher"]["config"]
    role = _template()["Resources"]["ControlPlaneTaskRole"]
    (run_task,) = (s for s in _statements(role) if s["Action"] == "ecs:RunTask")
    assert run_task["Resource"]["Fn::Sub"].endswith(
        f":task-definition/{launcher['task_definition_prefix']}_*"
    )


def _dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split into build stages."""
    text = re.sub(r"\\\n", " ", (DEPLOY_DIR / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_image_is_multi_stage_and_runs_as_a_user() -> None:
    stages = _dockerfile_stages()
    assert len(stages) >= 2
    runtime = stages[-1]
    assert any(i.startswith("COPY --from=") for i in runtime), "the venv comes from a builder"
    users = [i.split()[1] for i in runtime if i.upper().startswith("USER ")]
    assert users, "the runtime stage must set USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    exposed = {port for i in runtime if i.startswith("EXPOSE ") for port in i.split()[1:]}
    assert {"3000", "4000", "8501"} <= exposed


def test_image_has_the_commands_and_files_the_services_use() -> None:
    runtime = _dockerfile_stages()[-1]
    env = dict(
        pair.split("=", 1) for i in runtime if i.startswith("ENV ") for pair in shlex.split(i)[1:]
    )
    dagster_home = env["DAGSTER_HOME"]
    copied = " ".join(i for i in runtime if i.startswith("COPY "))
    assert "deploy/ecs/dagster.yaml" in copied and dagster_home in copied

    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    commands = [
        definition["Properties"]["ContainerDefinitions"][0]["Command"]
        for definition in _resources(_template(), "AWS::ECS::TaskDefinition").values()
    ]
    # Two webservers (the operators' full UI and the viewers' read-only one), the dashboard,
    # the stream consumer.
    assert sorted(c[0] for c in commands) == [
        "dagster",
        "dagster-daemon",
        "dagster-webserver",
        "dagster-webserver",
        "python",
        "stock-assets",
    ]
    for command in commands:
        if command[0] == "python":
            assert command[1] == "-m" and importlib.util.find_spec(command[2]), command
        else:
            assert command[0] in scripts, f"{command[0]} is not installed by the package"
        if "-w" in command:
            assert command[command.index("-w") + 1] == f"{dagster_home}/workspace.yaml"


def test_dockerignore_keeps_what_the_image_copies() -> None:
    copies = [i.split()[1:-1] for s in _dockerfile_stages() for i in s if i.startswith("COPY ")]
    sources = {src.rstrip("/") for args in copies if not args[0].startswith("--") for src in args}
    kept = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert "stock_assets" in sources
    assert sources - kept == set()


KEY_ARN = {
    "Fn::If": [
        "NoAlphaVantageKey",
        {"Ref": "AlphaVantageKeyPlaceholder"},
        {"Ref": "AlphaVantageKeySecretArn"},
    ]
}


def test_the_data_parameters_reach_the_code_server_and_the_daemon() -> None:
    template = _template()
    assert "Default" not in template["Parameters"]["MarketDataSource"]  # chosen at deploy
    assert template["Parameters"]["ProducerSchedule"]["Default"] == "running"
    data = {
        "STOCK_ASSETS_SOURCE": {"Ref": "MarketDataSource"},
        "STOCK_ASSETS_SYMBOLS": {"Ref": "Symbols"},
        "STOCK_ASSETS_MEMORY_BUDGET_GB": {"Ref": "MemoryBudgetGb"},
        "STOCK_ASSETS_PRODUCER_SCHEDULE": {"Ref": "ProducerSchedule"},
        "STOCK_ASSETS_PRODUCER_CRON": {"Ref": "ProducerCron"},
        "ALPHA_VANTAGE_API_KEY_SECRET": KEY_ARN,
    }
    definitions = _resources(template, "AWS::ECS::TaskDefinition")
    for name in ("CodeServerTaskDefinition", "DaemonTaskDefinition"):
        (container,) = definitions[name]["Properties"]["ContainerDefinitions"]
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert {k: environment.get(k) for k in data} == data, name
    # The daemon forwards them to every run task; the key goes as a secret only.
    launcher = yaml.safe_load((DEPLOY_DIR / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert set(data) <= set(launcher["env_vars"])
    assert {
        "name": "ALPHA_VANTAGE_API_KEY",
        "valueFrom": {"env": "ALPHA_VANTAGE_API_KEY_SECRET"},
    } in launcher["secrets"]


def test_the_alpha_vantage_key_is_a_secret_ecs_may_read_and_the_code_server_gets() -> None:
    template = _template()
    (code_server,) = _resources(template, "AWS::ECS::TaskDefinition")["CodeServerTaskDefinition"][
        "Properties"
    ]["ContainerDefinitions"]
    assert {"Name": "ALPHA_VANTAGE_API_KEY", "ValueFrom": KEY_ARN} in code_server["Secrets"]
    assert "ALPHA_VANTAGE_API_KEY" not in {e["Name"] for e in code_server["Environment"]}
    (policy,) = template["Resources"]["TaskExecutionRole"]["Properties"]["Policies"]
    statements = {s.get("Sid"): s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["AlphaVantageKey"]["Resource"] == KEY_ARN
    (rule,) = template["Rules"]["AlphaVantageNeedsItsKey"]["Assertions"]
    assert "AlphaVantageKeySecretArn" in str(rule)


def test_the_stream_consumer_is_one_task_when_the_parameter_says_on() -> None:
    template = _template()
    assert template["Parameters"]["StreamConsumer"]["Default"] == "off"
    assert template["Conditions"]["RunStreamConsumer"] == {
        "Fn::Equals": [{"Ref": "StreamConsumer"}, "on"]
    }
    resources = template["Resources"]
    service = resources["StreamConsumerService"]
    definition = resources["StreamConsumerTaskDefinition"]
    assert service["Condition"] == definition["Condition"] == "RunStreamConsumer"
    assert resources["StreamConsumerLogGroup"]["Condition"] == "RunStreamConsumer"
    properties = service["Properties"]
    assert properties["TaskDefinition"] == {"Ref": "StreamConsumerTaskDefinition"}
    # Never two consumers, not even while a deployment replaces the task.
    assert properties["DesiredCount"] == 1
    assert properties["DeploymentConfiguration"]["MaximumPercent"] == 100
    (container,) = definition["Properties"]["ContainerDefinitions"]
    assert container["Command"] == ["stock-assets", "consume"]
    assert definition["Properties"]["TaskRoleArn"] == {"Fn::GetAtt": ["DataTaskRole", "Arn"]}
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    # It loads the same instance as the daemon (dagster.yaml's variables) and the same data.
    (daemon,) = resources["DaemonTaskDefinition"]["Properties"]["ContainerDefinitions"]
    for variable in daemon["Environment"]:
        if variable["Name"] != "DAGSTER_CODE_SERVER_HOST":
            assert environment.get(variable["Name"]) == variable["Value"], variable["Name"]
    assert {s["Name"] for s in container["Secrets"]} == {
        "DAGSTER_PG_PASSWORD",
        "ALPHA_VANTAGE_API_KEY",
    }
    # The code server builds the arrivals sensor's default status from the same parameter.
    (code_server,) = resources["CodeServerTaskDefinition"]["Properties"]["ContainerDefinitions"]
    for env in (code_server["Environment"], container["Environment"]):
        assert {"Name": "STOCK_ASSETS_STREAM_CONSUMER", "Value": {"Ref": "StreamConsumer"}} in env
