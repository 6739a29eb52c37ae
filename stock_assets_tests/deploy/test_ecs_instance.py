"""The production instance (deploy/ecs/dagster.yaml) as Dagster itself loads it.

The config is validated by Dagster's own instance loader with the environment the ECS
services get, and the EcsRunLauncher it configures launches a run against moto's ECS
server over HTTP on loopback: the daemon's task and the ECS task-metadata endpoint are
emulated, boto3 is not patched.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
import sqlalchemy
from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.ref import InstanceRef
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_conn_string
from moto.ecs.models import EC2ContainerServiceBackend
from moto.server import ThreadedMotoServer

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "ecs"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/stock-assets:1.0.0"
PASSWORD_SECRET = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:dagster-db-AbCdEf:password::"
)
KEY_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:alpha-vantage-key-XyZ123"
SECRETS = [
    {"name": "DAGSTER_PG_PASSWORD", "valueFrom": PASSWORD_SECRET},
    {"name": "ALPHA_VANTAGE_API_KEY", "valueFrom": KEY_SECRET},
]
# What cloudformation.yaml gives the webserver, the daemon and the code server.
SERVICE_ENV = {
    "DAGSTER_PG_HOST": "dagster.abc123.us-east-1.rds.amazonaws.com",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_PG_PASSWORD_SECRET": PASSWORD_SECRET,
    "DAGSTER_RUN_TASK_ROLE_ARN": "arn:aws:iam::123456789012:role/stock-assets-data",
    "DAGSTER_RUN_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/stock-assets-execution",
    "DAGSTER_RUN_LOG_GROUP": "/stock-assets/runs",
    "DAGSTER_COMPUTE_LOGS_BUCKET": "stock-assets-lake",
    "DAGSTER_COMPUTE_LOGS_PREFIX": "dagster/compute-logs",
    "DAGSTER_CODE_SERVER_HOST": "code-server.stock-assets.local",
    "STOCK_ASSETS_ENV": "aws",
    "STOCK_ASSETS_S3_BUCKET": "stock-assets-lake",
    "STOCK_ASSETS_S3_PREFIX": "stock-assets",
    "STOCK_ASSETS_GLUE_DATABASE": "prod",
    "STOCK_ASSETS_ATHENA_WORKGROUP": "prod-stock-assets",
    "STOCK_ASSETS_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:stock-assets-alerts",
    "STOCK_ASSETS_DASHBOARD_URL": "https://dagster.example.com/dashboard",
    # A deployment on real data (the template's MarketDataSource, Symbols, ...).
    "STOCK_ASSETS_SOURCE": "alpha_vantage",
    "STOCK_ASSETS_SYMBOLS": "AAPL,MSFT,NVDA",
    "STOCK_ASSETS_MEMORY_BUDGET_GB": "3",
    "STOCK_ASSETS_PRODUCER_SCHEDULE": "running",
    "STOCK_ASSETS_PRODUCER_CRON": "* 9-16 * * 1-5",
    "ALPHA_VANTAGE_API_KEY_SECRET": KEY_SECRET,
}


@pytest.fixture
def service_env(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The ECS services' environment, with boto3 pointed at moto's server."""
    for name, value in SERVICE_ENV.items():
        monkeypatch.setenv(name, value)
    return SERVICE_ENV


def production_ref(base_dir: Path, **overrides: object) -> InstanceRef:
    """deploy/ecs/dagster.yaml through Dagster's loader (validates the instance schema)."""
    return InstanceRef.from_dir(str(base_dir), config_dir=str(DEPLOY_DIR), overrides=overrides)


def test_production_instance_config_is_valid(service_env: dict[str, str], tmp_path: Path) -> None:
    ref = production_ref(tmp_path)

    storage = process_config(DagsterPostgresStorage.config_type(), ref.storage_data.config_dict)
    assert storage.success, storage.errors
    database = storage.value["postgres_db"]
    assert (database["hostname"], database["port"], database["password"]) == (
        service_env["DAGSTER_PG_HOST"],
        5432,
        service_env["DAGSTER_PG_PASSWORD"],
    )
    # The URL's driver must be one the image installs (SQLAlchemy picks psycopg 3 otherwise).
    url = sqlalchemy.engine.make_url(get_conn_string(**database))
    assert url.get_dialect().driver == "psycopg2"

    launcher = ref.run_launcher
    assert isinstance(launcher, EcsRunLauncher)
    assert launcher.task_role_arn == service_env["DAGSTER_RUN_TASK_ROLE_ARN"]
    assert launcher.execution_role_arn == service_env["DAGSTER_RUN_EXECUTION_ROLE_ARN"]
    assert launcher.secrets == SECRETS
    assert "DAGSTER_PG_PASSWORD" not in launcher.env_vars  # only ever as a secret
    assert isinstance(ref.compute_log_manager, S3ComputeLogManager)
    assert type(ref.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert ref.settings["run_monitoring"]["enabled"] is True
    # Dead tasks re-executed once; step failures are left to the jobs' op retry policy.
    assert ref.settings["run_retries"] == {
        "enabled": True,
        "max_retries": 1,
        "retry_on_asset_or_op_failure": False,
    }
    assert ref.settings["retention"]["sensor"]["purge_after_days"]["failure"] == 30


def test_production_instance_config_needs_its_environment(
    service_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_RUN_TASK_ROLE_ARN")
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_RUN_TASK_ROLE_ARN"):
        production_ref(tmp_path).run_launcher  # noqa: B018 - rehydrating is the check

    monkeypatch.delenv("DAGSTER_PG_HOST")
    storage = process_config(
        DagsterPostgresStorage.config_type(), production_ref(tmp_path).storage_data.config_dict
    )
    assert not storage.success
    assert "DAGSTER_PG_HOST" in str(storage.errors)


def _task_metadata_handler(documents: dict[str, dict]) -> type[BaseHTTPRequestHandler]:
    """ECS task-metadata endpoint v4, as the ECS agent serves it inside the daemon's task."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(documents[self.path.rstrip("/")]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet."""

    return Handler


def _task_level_resources(task_definition) -> dict:
    """Fargate sizes a task by its task-level cpu/memory; containers may omit theirs."""
    return {
        "CPU": int(task_definition.cpu or 0),
        "MEMORY": int(task_definition.memory or 0),
        "PORTS": [],
        "PORTS_UDP": [],
    }


@pytest.fixture
def ecs_endpoint(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on loopback for ECS, in this process so that one moto bug can be fixed.

    moto 5.2 sums container-level memory when it places a task and fails (HTTP 500) on a
    Fargate task definition that sets memory only at the task level, as the EcsRunLauncher's
    do and AWS accepts (getmoto/moto#7272). Everything else is moto's server as is.
    """
    monkeypatch.setattr(
        EC2ContainerServiceBackend,
        "_calculate_task_resource_requirements",
        staticmethod(_task_level_resources),
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def daemon_task(ecs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """The daemon's own Fargate task in moto's ECS, and its task-metadata endpoint."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # As for Cloud Map: DNS hostnames on, so task ENIs get private DNS names.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="dagster-tasks", Description="t", VpcId=vpc)
    ecs = boto3.client("ecs")
    cluster = ecs.create_cluster(clusterName="stock-assets")["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family="stock-assets-daemon",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        containerDefinitions=[{"name": "daemon", "image": IMAGE}],
    )
    task = ecs.run_task(
        cluster=cluster,
        taskDefinition="stock-assets-daemon",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group["GroupId"]]}
        },
    )["tasks"][0]

    handler = _task_metadata_handler(
        {"/v4": {"Name": "daemon"}, "/v4/task": {"Cluster": cluster, "TaskARN": task["taskArn"]}}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{server.server_port}/v4")
    try:
        yield {**task, "subnet": subnet, "security_group": group["GroupId"]}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.slow
def test_ecs_run_launcher_starts_each_run_as_a_task(
    daemon_task: dict, service_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stock_assets.definitions import defs

    # This process is the code server here, which ECS gives the key (run config is resolved
    # where the execution plan is built).
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "not-a-real-key")

    # The production instance with local run storage: everything else as deployed.
    ref = production_ref(tmp_path, storage={"sqlite": {"base_dir": str(tmp_path)}})
    origin = LoadableTargetOrigin(module_name="stock_assets.definitions")
    with (
        DagsterInstance.from_ref(ref) as instance,
        in_process_test_workspace(instance, origin, container_image=IMAGE) as workspace,
    ):
        (location_name,) = workspace.code_location_names
        repository = workspace.get_code_location(location_name).get_repository("__repository__")
        remote_job = repository.get_full_job("daily_market_job")
        run = instance.create_run_for_job(
            job_def=defs().resolve_job_def("daily_market_job"),
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
        )
        instance.launch_run(run.run_id, workspace)
        run_tags = instance.get_run_by_id(run.run_id).tags
        # A producer run: the job's ecs/cpu and ecs/memory tags size its task.
        remote_producer = repository.get_full_job("produce_quotes_job")
        producer_run = instance.create_run_for_job(
            job_def=defs().resolve_job_def("produce_quotes_job"),
            remote_job_origin=remote_producer.get_remote_origin(),
            job_code_origin=remote_producer.get_python_origin(),
            tags=remote_producer.run_tags,
        )
        instance.launch_run(producer_run.run_id, workspace)
        producer_tags = instance.get_run_by_id(producer_run.run_id).tags

    ecs = boto3.client("ecs")
    families = ecs.list_task_definition_families(familyPrefix="stock-assets_")["families"]
    by_job = {}  # one task definition family per job
    for family in families:
        found = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        (only,) = found["containerDefinitions"]
        job = {e["name"]: e["value"] for e in only["environment"]}["DAGSTER_RUN_JOB_NAME"]
        by_job[job] = found
    assert set(by_job) == {"daily_market_job", "produce_quotes_job"}
    definition = by_job["daily_market_job"]
    (container,) = definition["containerDefinitions"]
    assert (container["name"], container["image"]) == ("run", IMAGE)
    assert definition["taskRoleArn"] == service_env["DAGSTER_RUN_TASK_ROLE_ARN"]
    assert definition["executionRoleArn"] == service_env["DAGSTER_RUN_EXECUTION_ROLE_ARN"]
    assert (definition["cpu"], definition["memory"]) == ("1024", "4096")
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    logs = container["logConfiguration"]["options"]
    assert logs["awslogs-group"] == service_env["DAGSTER_RUN_LOG_GROUP"]
    environment = {item["name"]: item["value"] for item in container["environment"]}
    forwarded = set(SERVICE_ENV) - {"DAGSTER_PG_PASSWORD", "DAGSTER_CODE_SERVER_HOST"}
    assert {name: environment.get(name) for name in forwarded} == {
        name: service_env[name] for name in forwarded
    }
    assert environment["DAGSTER_RUN_JOB_NAME"] == "daily_market_job"
    # The source and symbols reach the run; the key only as a secret ECS injects.
    assert environment["STOCK_ASSETS_SOURCE"] == "alpha_vantage"
    assert sorted(container["secrets"], key=str) == sorted(SECRETS, key=str)
    assert "ALPHA_VANTAGE_API_KEY" not in environment
    assert service_env["DAGSTER_PG_PASSWORD"] not in json.dumps(definition, default=str)
    assert "not-a-real-key" not in json.dumps(definition, default=str)

    # RunTask: the run's task exists, in the daemon's cluster and network, running the run.
    (task,) = ecs.describe_tasks(cluster=run_tags["ecs/cluster"], tasks=[run_tags["ecs/task_arn"]])[
        "tasks"
    ]
    assert task["clusterArn"] == daemon_task["clusterArn"]
    assert task["taskDefinitionArn"] == definition["taskDefinitionArn"]
    assert task["launchType"] == "FARGATE"
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == "run"
    assert override["command"][:3] == ["dagster", "api", "execute_run"]
    assert run.run_id in override["command"][3]
    (attachment,) = task["attachments"]
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert details["subnetId"] == daemon_task["subnet"]
    tags = {
        tag["key"]: tag["value"]
        for tag in ecs.list_tags_for_resource(resourceArn=task["taskArn"])["tags"]
    }
    assert tags["dagster/run_id"] == run.run_id
    assert tags["application"] == "stock-assets"
    assert (task["overrides"]["cpu"], task["overrides"]["memory"]) == ("1024", "4096")
    (producer_task,) = ecs.describe_tasks(
        cluster=producer_tags["ecs/cluster"], tasks=[producer_tags["ecs/task_arn"]]
    )["tasks"]
    sizes = producer_task["overrides"]["cpu"], producer_task["overrides"]["memory"]
    assert sizes == (producer_tags["ecs/cpu"], producer_tags["ecs/memory"]) == ("256", "1024")
