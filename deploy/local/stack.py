"""The production-shaped local stack: how the ECS deployment is proven before it reaches AWS.

    python deploy/local/stack.py up       # start everything, wait until healthy, print the URL
    python deploy/local/stack.py status   # which services are running
    python deploy/local/stack.py down     # stop everything cleanly (--drop-database: and forget)

Services, in start order: Postgres (instance storage; a throwaway cluster is started only
when nothing answers on 127.0.0.1:5432), moto's server (S3, Glue, Athena and SNS on loopback),
the gRPC code server (`dagster api grpc`), `dagster-webserver` (the operators' full UI),
a second `dagster-webserver --read-only` (the viewers' UI), `dagster-daemon`, the market
dashboard and, with STOCK_ASSETS_STREAM_CONSUMER=on, the stream consumer (`stock-assets
consume`, which then ingests arrivals in place of the sensor); the webservers and the
daemon load the code over gRPC as on ECS. Every process runs with STOCK_ASSETS_ENV=aws
against moto. Everything is plain HTTP on loopback: the sign-in and HTTPS of the ECS load
balancer are not part of this stack. Pids, ports and logs live in
$STOCK_ASSETS_DATA_DIR/stack/ (default ./data/stack).

Environment (all optional): DAGSTER_PG_HOST/PORT/USERNAME/PASSWORD/DB (an existing Postgres;
the database is created if missing, default `stock_assets_stack`), STOCK_ASSETS_STACK_OWN_POSTGRES=1
(always use a throwaway cluster), STOCK_ASSETS_STACK_{WEBSERVER,READONLY_WEBSERVER,GRPC,MOTO,
POSTGRES,DASHBOARD}_PORT (default: free ports), STOCK_ASSETS_S3_BUCKET, STOCK_ASSETS_SYMBOLS
and the other STOCK_ASSETS_* variables, which pass through to the code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from stock_assets.cli import BACKFILL_ENV

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
REGION = "us-east-1"
LOCATION = "stock_assets"
DEFAULT_DATABASE = "stock_assets_stack"
DEFAULT_BUCKET = "stock-assets-local"
COMPUTE_LOGS_PREFIX = "dagster/compute-logs"
TOPIC_NAME = "stock-assets-alerts"
START_TIMEOUT_SECONDS = float(os.environ.get("STOCK_ASSETS_STACK_START_TIMEOUT", "240"))
STOP_TIMEOUT_SECONDS = 30.0
# Variables describing the stack that are safe to write down (never the Postgres password).
PUBLIC_ENV = (
    "DAGSTER_HOME",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_DB",
    "STOCK_ASSETS_ENV",
    "STOCK_ASSETS_S3_BUCKET",
    "STOCK_ASSETS_SNS_TOPIC_ARN",
    "DAGSTER_COMPUTE_LOGS_BUCKET",
    "DAGSTER_COMPUTE_LOGS_PREFIX",
    "STOCK_ASSETS_STACK_GRPC_PORT",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
)


class StackError(RuntimeError):
    pass


def state_dir() -> Path:
    return Path(os.environ.get("STOCK_ASSETS_DATA_DIR", "data")).resolve() / "stack"


def state_file() -> Path:
    return state_dir() / "state.json"


def read_state() -> dict | None:
    path = state_file()
    return json.loads(path.read_text()) if path.exists() else None


def write_state(state: dict) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_from_env(name: str) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else free_port()


def answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def wait_until(what: str, ready: Callable[[], bool], service: dict | None = None) -> None:
    """Poll `ready` until it holds; fail early (with the log's tail) if the service died."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        with contextlib.suppress(OSError, ValueError):  # not answering yet
            if ready():
                return
        if service is not None and not alive(service):
            raise StackError(f"{service['name']} exited while starting\n{log_tail(service)}")
        if time.monotonic() > deadline:
            tail = log_tail(service) if service else ""
            raise StackError(f"{what} not ready after {START_TIMEOUT_SECONDS:.0f}s\n{tail}")
        time.sleep(0.5)


def log_tail(service: dict, lines: int = 30) -> str:
    path = Path(service["log"])
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


# --- processes -------------------------------------------------------------------------


def _default_sigint() -> None:
    # A process started from a background shell inherits SIGINT ignored, and Dagster's
    # processes then ignore SIGTERM as well (they turn SIGTERM into SIGINT).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_time(pid: int) -> str | None:
    """The kernel's start time of `pid`, so a recycled pid is never mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(service: dict) -> bool:
    pid = service["pid"]
    with contextlib.suppress(ChildProcessError):  # our own child: reap it if it has exited
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = service.get("started")
    return started is None or start_time(pid) == started


def spawn(name: str, argv: list[str], env: dict[str, str], port: int | None = None) -> dict:
    """Start one service in its own process group, logging to the state dir."""
    logs = state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
    return {
        "name": name,
        "pid": process.pid,
        "started": start_time(process.pid),
        "port": port,
        "log": str(log_path),
    }


def _signal_group(service: dict, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(service["pid"], sig)


def _group_alive(service: dict) -> bool:
    try:
        os.killpg(service["pid"], 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop(service: dict) -> None:
    """SIGTERM the service's process group, wait, then SIGKILL whatever is left of it."""
    if alive(service):
        _signal_group(service, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while alive(service) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(service):
            print(f"{service['name']} ignored SIGTERM for {STOP_TIMEOUT_SECONDS:.0f}s; killing")
    # Leftovers of the group (e.g. a run's subprocess of the code server).
    deadline = time.monotonic() + 5
    while service.get("started") is not None and _group_alive(service):
        if time.monotonic() > deadline:
            _signal_group(service, signal.SIGKILL)
            break
        time.sleep(0.2)


# --- Postgres --------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """Debian keeps initdb/pg_ctl out of PATH, under /usr/lib/postgresql/<major>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise StackError("no Postgres answers on 127.0.0.1:5432 and no pg_ctl/initdb is installed")


def _as_postgres_user(argv: list[str]) -> list[str]:
    # Postgres refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_own_postgres(port: int) -> dict:
    """Initialize and start a throwaway cluster on 127.0.0.1:`port` (trust auth, no data kept)."""
    bin_dir = postgres_bin_dir()
    # Outside the state dir: as root, the postgres user must own the cluster and reach it.
    home = Path(tempfile.mkdtemp(prefix="stock-assets-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    data = home / "data"
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    subprocess.run(_as_postgres_user(initdb), check=True, capture_output=True)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {home}"
    argv = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(home / "postgres.log")]
    start = [*argv, "-o", options, "-w", "start"]
    subprocess.run(_as_postgres_user(start), check=True, capture_output=True)
    return {"home": str(home), "pg_ctl": argv, "port": port}


def stop_own_postgres(cluster: dict) -> None:
    subprocess.run(
        _as_postgres_user([*cluster["pg_ctl"], "-m", "fast", "-w", "stop"]), capture_output=True
    )
    shutil.rmtree(cluster["home"], ignore_errors=True)


def _connect(env: dict[str, str]):
    """A connection to the server's maintenance database, to create or drop ours."""
    import psycopg2

    return psycopg2.connect(
        host=env["DAGSTER_PG_HOST"],
        port=int(env["DAGSTER_PG_PORT"]),
        user=env["DAGSTER_PG_USERNAME"],
        password=env["DAGSTER_PG_PASSWORD"],
        dbname="postgres",
        connect_timeout=5,
    )


def ensure_database(env: dict[str, str]) -> None:
    from psycopg2 import sql

    with contextlib.closing(_connect(env)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (env["DAGSTER_PG_DB"],))
            if cur.fetchone() is None:
                cur.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(env["DAGSTER_PG_DB"]))
                )


def drop_database(env: dict[str, str]) -> None:
    from psycopg2 import sql

    with contextlib.closing(_connect(env)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            name = sql.Identifier(env["DAGSTER_PG_DB"])
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def postgres_env(state: dict) -> dict[str, str]:
    """The DAGSTER_PG_* variables: an existing server, or a throwaway cluster started now."""
    env = {
        "DAGSTER_PG_HOST": os.environ.get("DAGSTER_PG_HOST", "127.0.0.1"),
        "DAGSTER_PG_PORT": os.environ.get("DAGSTER_PG_PORT", "5432"),
        "DAGSTER_PG_USERNAME": os.environ.get("DAGSTER_PG_USERNAME", "postgres"),
        "DAGSTER_PG_PASSWORD": os.environ.get("DAGSTER_PG_PASSWORD", ""),
        "DAGSTER_PG_DB": os.environ.get("DAGSTER_PG_DB", DEFAULT_DATABASE),
    }
    own = os.environ.get("STOCK_ASSETS_STACK_OWN_POSTGRES") == "1"
    configured = "DAGSTER_PG_HOST" in os.environ or "DAGSTER_PG_PORT" in os.environ
    if own or not (configured or answers("127.0.0.1", 5432)):
        cluster = start_own_postgres(port_from_env("STOCK_ASSETS_STACK_POSTGRES_PORT"))
        state["postgres_cluster"] = cluster
        write_state(state)
        env.update(DAGSTER_PG_HOST="127.0.0.1", DAGSTER_PG_PORT=str(cluster["port"]))
        env.update(DAGSTER_PG_USERNAME="postgres", DAGSTER_PG_PASSWORD="")
    return env


# --- moto and the Dagster services -----------------------------------------------------


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    """POST one GraphQL operation to the webserver; raise on GraphQL errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise StackError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def create_aws_resources(env: dict[str, str]) -> None:
    """The lake bucket and the alerts topic on moto; Glue databases come with the first write."""
    import boto3

    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    endpoint = env["AWS_ENDPOINT_URL"]
    session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=env["STOCK_ASSETS_S3_BUCKET"])
    topic = session.client("sns", endpoint_url=endpoint).create_topic(Name=TOPIC_NAME)
    env["STOCK_ASSETS_SNS_TOPIC_ARN"] = topic["TopicArn"]


WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
DAEMONS_QUERY = """
{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }
"""
INSTIGATORS_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name }
    sensors { name sensorState { status } }
    schedules { name scheduleState { status } } } } } }
"""
START_SENSOR = """
mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
    __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }
"""
START_SCHEDULE = """
mutation($selector: ScheduleSelector!) { startSchedule(scheduleSelector: $selector) {
    __typename ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message } } }
"""


def code_location_loaded(url: str) -> bool:
    entries = graphql(url, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
    entry = next((e for e in entries if e["name"] == LOCATION), None)
    if entry is None:
        return False
    error = entry["locationOrLoadError"] or {}
    if error.get("__typename") == "PythonError":
        raise StackError(f"code location {LOCATION} failed to load: {error['message']}")
    return entry["loadStatus"] == "LOADED"


def daemons_healthy(url: str) -> bool:
    statuses = graphql(url, DAEMONS_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    return all(s["healthy"] for s in statuses if s["required"])


def instigators(url: str) -> list[tuple[str, str, dict]]:
    """(kind, status, GraphQL selector) of every sensor and schedule of the workspace."""
    found = []
    for repo in graphql(url, INSTIGATORS_QUERY)["repositoriesOrError"]["nodes"]:
        base = {"repositoryName": repo["name"], "repositoryLocationName": repo["location"]["name"]}
        for sensor in repo["sensors"]:
            selector = {**base, "sensorName": sensor["name"]}
            found.append(("sensor", sensor["sensorState"]["status"], selector))
        for schedule in repo["schedules"]:
            selector = {**base, "scheduleName": schedule["name"]}
            found.append(("schedule", schedule["scheduleState"]["status"], selector))
    return found


def start_instigators(url: str, keep_stopped: set[str]) -> None:
    """Every sensor and schedule runs on the stack, including those stopped by default,
    except those named in `keep_stopped`."""
    for kind, status, selector in instigators(url):
        name = selector.get("sensorName") or selector.get("scheduleName")
        if status == "RUNNING" or name in keep_stopped:
            continue
        mutation, field = (
            (START_SENSOR, "startSensor") if kind == "sensor" else (START_SCHEDULE, "startSchedule")
        )
        result = graphql(url, mutation, {"selector": selector})[field]
        if result["__typename"] == "PythonError":
            raise StackError(f"could not start {kind} {selector}: {result['message']}")


def stack_env(state: dict) -> dict[str, str]:
    home = state_dir() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(postgres_env(state))
    env.update(
        DAGSTER_HOME=str(home),
        STOCK_ASSETS_ENV="aws",
        STOCK_ASSETS_S3_BUCKET=os.environ.get("STOCK_ASSETS_S3_BUCKET") or DEFAULT_BUCKET,
        DAGSTER_COMPUTE_LOGS_PREFIX=COMPUTE_LOGS_PREFIX,
        STOCK_ASSETS_STACK_GRPC_PORT=str(port_from_env("STOCK_ASSETS_STACK_GRPC_PORT")),
        # moto accepts any credentials; these never leave the machine.
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        PYTHONUNBUFFERED="1",
    )
    env.update({name: os.environ.get(name, value) for name, value in BACKFILL_ENV.items()})
    env["DAGSTER_COMPUTE_LOGS_BUCKET"] = env["STOCK_ASSETS_S3_BUCKET"]
    return env


def up() -> str:
    state = read_state()
    if state and any(alive(s) for s in state["services"]):
        if all(alive(s) for s in state["services"]):
            print(f"already running: {state['url']}")
            return state["url"]
        raise StackError("a previous stack is partly running; run `down` first")
    state = {"services": []}
    write_state(state)
    try:
        return _start(state)
    except BaseException:
        down()
        raise


def _start(state: dict) -> str:
    env = stack_env(state)
    ensure_database(env)

    def started(service: dict) -> dict:
        state["services"].append(service)
        state["env"] = {k: env[k] for k in PUBLIC_ENV if k in env}
        write_state(state)
        return service

    moto_port = port_from_env("STOCK_ASSETS_STACK_MOTO_PORT")
    moto = started(
        spawn(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            env,
            moto_port,
        )
    )
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"
    wait_until("moto", lambda: http_ok(f"{env['AWS_ENDPOINT_URL']}/moto-api/"), moto)
    create_aws_resources(env)
    dashboard_port = port_from_env("STOCK_ASSETS_STACK_DASHBOARD_PORT")
    env["STOCK_ASSETS_DASHBOARD_URL"] = f"http://127.0.0.1:{dashboard_port}"  # asset links

    grpc_port = int(env["STOCK_ASSETS_STACK_GRPC_PORT"])
    code_server_argv = [str(BIN / "dagster"), "api", "grpc", "-m", "stock_assets.definitions"]
    code_server_argv += ["-h", "127.0.0.1", "-p", str(grpc_port), "--location-name", LOCATION]
    code_server = started(spawn("code_server", code_server_argv, env, grpc_port))
    wait_until("the gRPC code server", lambda: answers("127.0.0.1", grpc_port), code_server)

    workspace = str(HERE / "workspace.yaml")

    def webserver(name: str, port_variable: str, *mode: str) -> tuple[dict, str]:
        port = port_from_env(port_variable)
        argv = [str(BIN / "dagster-webserver"), *mode, "-w", workspace]
        argv += ["-h", "127.0.0.1", "-p", str(port)]
        return started(spawn(name, argv, env, port)), f"http://127.0.0.1:{port}"

    full, url = webserver("webserver", "STOCK_ASSETS_STACK_WEBSERVER_PORT")
    read_only, read_only_url = webserver(
        "readonly_webserver", "STOCK_ASSETS_STACK_READONLY_WEBSERVER_PORT", "--read-only"
    )
    daemon = started(spawn("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], env))
    consumer = env.get("STOCK_ASSETS_STREAM_CONSUMER") == "on"
    if consumer:
        service = started(spawn("stream_consumer", [str(BIN / "stock-assets"), "consume"], env))
        log = state_dir() / "logs" / "stream_consumer.log"
        wait_until("the stream consumer", lambda: b"polling" in log.read_bytes(), service)
    dashboard_argv = [sys.executable, "-m", "stock_assets.dashboard", "--port", str(dashboard_port)]
    dashboard_env = {**env, "STOCK_ASSETS_DAGSTER_URL": read_only_url}  # pages link the viewers' UI
    dashboard = started(spawn("dashboard", dashboard_argv, dashboard_env, dashboard_port))
    state.update(url=url, readonly_url=read_only_url)
    write_state(state)
    for service, base in ((full, url), (read_only, read_only_url)):
        wait_until(service["name"], lambda base=base: http_ok(f"{base}/server_info"), service)
        wait_until("the code location", lambda base=base: code_location_loaded(base), service)
    wait_until("the daemon", lambda: daemons_healthy(url), daemon)
    health = f"{env['STOCK_ASSETS_DASHBOARD_URL']}/_stcore/health"
    wait_until("the dashboard", lambda: http_ok(health), dashboard)
    # The consumer ingests arrivals: the arrivals sensor stays stopped, its fallback.
    start_instigators(url, keep_stopped={"landing_arrivals_sensor"} if consumer else set())
    print(f"stock_assets stack is up: {url} (read-only: {read_only_url})")
    return url


def down(drop: bool = False) -> None:
    """Stop the services in reverse order, then Postgres if the stack started it."""
    state = read_state()
    if state is None:
        print("no stack state; nothing to stop")
        return
    for service in reversed(state["services"]):
        began = time.monotonic()
        stop(service)
        print(f"stopped {service['name']} in {time.monotonic() - began:.1f}s")
    env = state.get("env", {})
    if drop and "DAGSTER_PG_DB" in env and "postgres_cluster" not in state:
        drop_database({**env, "DAGSTER_PG_PASSWORD": os.environ.get("DAGSTER_PG_PASSWORD", "")})
    if "postgres_cluster" in state:
        stop_own_postgres(state["postgres_cluster"])
    state_file().unlink()
    print("stock_assets stack is down")


def status() -> bool:
    state = read_state()
    if state is None:
        print("not running")
        return False
    running = True
    for service in state["services"]:
        ok = alive(service)
        running &= ok
        port = f" port {service['port']}" if service["port"] else ""
        print(f"{service['name']:18} {'running' if ok else 'STOPPED'} pid {service['pid']}{port}")
    if "url" in state:
        print(f"{'url':18} {state['url']}")
    if "readonly_url" in state:
        print(f"{'read-only url':18} {state['readonly_url']}")
    return running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the stack and wait until it is healthy")
    stop_parser = commands.add_parser("down", help="stop the stack")
    stop_parser.add_argument(
        "--drop-database", action="store_true", help="also drop the stack's Postgres database"
    )
    commands.add_parser("status", help="show the services; exit 1 unless all are running")
    args = parser.parse_args()
    try:
        if args.command == "up":
            up()
        elif args.command == "down":
            down(drop=args.drop_database)
        else:
            sys.exit(0 if status() else 1)
    except StackError as error:
        sys.exit(f"stack: {error}")


if __name__ == "__main__":
    main()
