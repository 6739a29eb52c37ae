"""The one place the environment is read: every STOCK_ASSETS_* variable, validated.

`Settings.from_env()` reads them when it is called (never at import), so a test sets a
variable and builds definitions or resources again instead of reloading modules. Secrets
(ALPHA_VANTAGE_API_KEY) are not read here: resources bind them with ``dagster.EnvVar``, so
their values never enter a config or a log. The variables are listed in the README.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODES = ("local", "aws")
DEFAULT_START = "2015-01-02"
DEFAULT_S3_PREFIX = "stock-assets"
DEFAULT_WORKGROUP = "primary"
DEFAULT_PRODUCER_CRON = "* 9-16 * * 1-5"  # every minute of the New York trading hours
DEFAULT_SENSOR_INTERVAL_SECONDS = 10
DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8501"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"  # make dev's webserver
DEFAULT_SNAPSHOT_RETENTION_HOURS = 168  # a week: far longer than any Athena query
DEFAULT_MEMORY_BUDGET_GB = 2.0  # GiB a history-load run may use (market.budget)

# Under the data directory: the simulated actions `stock-assets run` chose for its demo.
DEMO_ACTIONS_FILE = "simulated_actions.txt"


@dataclass(frozen=True)
class Settings:
    env: str = "local"  # STOCK_ASSETS_ENV: which resources (IO managers, lake, alerts, SQL)
    data_dir: Path = Path("data")  # STOCK_ASSETS_DATA_DIR: the local home
    source: str = "simulated"  # STOCK_ASSETS_SOURCE
    symbols: str = ""  # STOCK_ASSETS_SYMBOLS: comma list overriding the watchlist
    fault_rate: float = 0.0  # STOCK_ASSETS_FAULT_RATE: simulator's share of bad records
    csv_path: str = ""  # STOCK_ASSETS_CSV_PATH: the csv source's file or folder
    start_date: str = DEFAULT_START  # STOCK_ASSETS_START_DATE: the first partition
    s3_bucket: str = ""  # STOCK_ASSETS_S3_BUCKET
    s3_prefix: str = DEFAULT_S3_PREFIX  # STOCK_ASSETS_S3_PREFIX
    glue_database: str = ""  # STOCK_ASSETS_GLUE_DATABASE: prefix of the layer databases
    athena_workgroup: str = DEFAULT_WORKGROUP  # STOCK_ASSETS_ATHENA_WORKGROUP
    sns_topic_arn: str = ""  # STOCK_ASSETS_SNS_TOPIC_ARN: alerts; empty: logged
    aws_region: str | None = None  # AWS_REGION
    producer_cron: str = DEFAULT_PRODUCER_CRON  # STOCK_ASSETS_PRODUCER_CRON
    # STOCK_ASSETS_PRODUCER_SCHEDULE: the producer schedule's status until someone changes it
    # in the UI: "stopped" (no live source by default) or "running" (a deployment on real data)
    producer_running: bool = False
    sensor_interval_seconds: int = DEFAULT_SENSOR_INTERVAL_SECONDS  # ..._SENSOR_INTERVAL_SECONDS
    # STOCK_ASSETS_STREAM_CONSUMER=on: `stock-assets consume` ingests arrivals (seconds to an
    # alert) and the arrivals sensor starts stopped; off (default): the sensor's runs do
    stream_consumer: bool = False
    dashboard_url: str = DEFAULT_DASHBOARD_URL  # STOCK_ASSETS_DASHBOARD_URL: asset pages link it
    # STOCK_ASSETS_DAGSTER_URL: the Dagster UI the dashboard links to (the read-only one)
    dagster_url: str = DEFAULT_DAGSTER_URL
    alert_rules: str = ""  # STOCK_ASSETS_ALERT_RULES: the user's alert rules file; empty: none
    # STOCK_ASSETS_STREAM_FRESHNESS_MINUTES: a new quote expected this often in the session;
    # None (unset): the stream tables have no freshness policy, the producer being off
    stream_freshness_minutes: int | None = None
    # STOCK_ASSETS_SNAPSHOT_RETENTION_HOURS: Iceberg snapshots older than this are expired
    snapshot_retention_hours: int = DEFAULT_SNAPSHOT_RETENTION_HOURS
    # STOCK_ASSETS_SIMULATED_ACTIONS: the simulator's splits and dividends,
    # SYMBOL:YYYY-MM-DD:split|dividend:VALUE,... (validated here, market.actions); unset:
    # the demo's actions `stock-assets run` recorded in the data directory, if any
    simulated_actions: str = ""
    # STOCK_ASSETS_MEMORY_BUDGET_GB: peak memory (GiB) of one history-load run; loads are cut
    # into pieces of sessions that fit it (market.budget)
    memory_budget_gb: float = DEFAULT_MEMORY_BUDGET_GB

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of this process's environment (or of `environ`); a bad value is
        refused with the variable's name."""
        env = os.environ if environ is None else environ

        def text(name: str, default: str = "") -> str:
            return (env.get(name) or "").strip() or default

        mode = text("STOCK_ASSETS_ENV", "local")
        if mode not in MODES:
            raise ValueError(
                f"STOCK_ASSETS_ENV={mode!r} is not a known mode (expected: {', '.join(MODES)})"
            )
        data_dir = Path(text("STOCK_ASSETS_DATA_DIR", "data")).resolve()
        return cls(
            env=mode,
            data_dir=data_dir,
            source=text("STOCK_ASSETS_SOURCE", "simulated"),
            symbols=text("STOCK_ASSETS_SYMBOLS"),
            fault_rate=_number(text("STOCK_ASSETS_FAULT_RATE", "0"), "STOCK_ASSETS_FAULT_RATE"),
            csv_path=text("STOCK_ASSETS_CSV_PATH", str(data_dir / "imports")),
            start_date=_date(text("STOCK_ASSETS_START_DATE", DEFAULT_START)),
            s3_bucket=text("STOCK_ASSETS_S3_BUCKET"),
            s3_prefix=(env.get("STOCK_ASSETS_S3_PREFIX") or DEFAULT_S3_PREFIX).strip("/"),
            glue_database=text("STOCK_ASSETS_GLUE_DATABASE"),
            athena_workgroup=text("STOCK_ASSETS_ATHENA_WORKGROUP", DEFAULT_WORKGROUP),
            sns_topic_arn=text("STOCK_ASSETS_SNS_TOPIC_ARN"),
            aws_region=text("AWS_REGION") or None,
            producer_cron=text("STOCK_ASSETS_PRODUCER_CRON", DEFAULT_PRODUCER_CRON),
            producer_running=_either(
                "STOCK_ASSETS_PRODUCER_SCHEDULE",
                text("STOCK_ASSETS_PRODUCER_SCHEDULE", "stopped"),
                ("running", "stopped"),
            ),
            sensor_interval_seconds=_whole_seconds(
                text("STOCK_ASSETS_SENSOR_INTERVAL_SECONDS", str(DEFAULT_SENSOR_INTERVAL_SECONDS))
            ),
            stream_consumer=_either(
                "STOCK_ASSETS_STREAM_CONSUMER",
                text("STOCK_ASSETS_STREAM_CONSUMER", "off"),
                ("on", "off"),
            ),
            dashboard_url=text("STOCK_ASSETS_DASHBOARD_URL", DEFAULT_DASHBOARD_URL).rstrip("/"),
            dagster_url=text("STOCK_ASSETS_DAGSTER_URL", DEFAULT_DAGSTER_URL).rstrip("/"),
            alert_rules=text("STOCK_ASSETS_ALERT_RULES"),
            stream_freshness_minutes=_minutes_of_an_hour(
                text("STOCK_ASSETS_STREAM_FRESHNESS_MINUTES")
            ),
            snapshot_retention_hours=_retention_hours(
                text("STOCK_ASSETS_SNAPSHOT_RETENTION_HOURS", str(DEFAULT_SNAPSHOT_RETENTION_HOURS))
            ),
            simulated_actions=_actions(
                text("STOCK_ASSETS_SIMULATED_ACTIONS") or _recorded_actions(data_dir)
            ),
            memory_budget_gb=_gibibytes(
                text("STOCK_ASSETS_MEMORY_BUDGET_GB", str(DEFAULT_MEMORY_BUDGET_GB))
            ),
        )


def _either(name: str, value: str, words: tuple[str, str]) -> bool:
    """A two-way variable: True for the first of `words`, False for the second."""
    if value not in words:
        raise ValueError(f"{name}={value!r}: expected {words[0]!r} or {words[1]!r}")
    return value == words[0]


def cache_dir() -> Path | None:
    """STOCK_ASSETS_CACHE_DIR, else $XDG_CACHE_HOME/stock_assets or ~/.cache/stock_assets
    (None without a home: then nothing is cached)."""
    if configured := (os.environ.get("STOCK_ASSETS_CACHE_DIR") or "").strip():
        return Path(configured)
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except (RuntimeError, KeyError):  # no HOME and no passwd entry (some containers)
        return None
    return base / "stock_assets"


def aws_region() -> str | None:
    """AWS_REGION, for boto3 clients built without a configured region."""
    return (os.environ.get("AWS_REGION") or "").strip() or None


def aws_endpoint_url() -> str | None:
    """AWS_ENDPOINT_URL: tests point it at a local S3-compatible server."""
    return (os.environ.get("AWS_ENDPOINT_URL") or "").strip() or None


def dagster_home_is_set() -> bool:
    """Whether DAGSTER_HOME names a persistent Dagster instance (else runs use an ephemeral
    one and there is no history to show)."""
    return bool((os.environ.get("DAGSTER_HOME") or "").strip())


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"STOCK_ASSETS_START_DATE={text!r} is not a YYYY-MM-DD date") from None


def _whole_seconds(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"STOCK_ASSETS_SENSOR_INTERVAL_SECONDS={text!r} is not a whole number of seconds"
        ) from None


def _minutes_of_an_hour(text: str) -> int | None:
    """None for an empty value, else a whole number of minutes dividing the hour (a cron
    deadline every N minutes repeats evenly only then)."""
    if not text:
        return None
    if not text.isdigit() or int(text) < 1 or 60 % int(text):
        raise ValueError(
            f"STOCK_ASSETS_STREAM_FRESHNESS_MINUTES={text!r} is not a whole number of minutes "
            "dividing the hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)"
        )
    return int(text)


def _recorded_actions(data_dir: Path) -> str:
    """The demo's actions `stock-assets run` recorded in this data directory, if any."""
    path = data_dir / DEMO_ACTIONS_FILE
    return path.read_text().strip() if path.is_file() else ""


def _actions(text: str) -> str:
    """The action list, refused (naming the entry and the reason) unless every entry is valid."""
    from stock_assets.market.actions import parse_action_list

    parse_action_list(text)
    return text


def _retention_hours(text: str) -> int:
    try:
        hours = int(text)
    except ValueError:
        hours = 0
    if hours < 1:
        raise ValueError(
            f"STOCK_ASSETS_SNAPSHOT_RETENTION_HOURS={text!r} is not a whole number of hours >= 1"
        )
    return hours


def _gibibytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"STOCK_ASSETS_MEMORY_BUDGET_GB={text!r} is not a positive number of GiB")
    return value
