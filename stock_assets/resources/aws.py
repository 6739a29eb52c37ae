"""AWS mode's resources: S3 Parquet + Glue tables, the S3 lake, SNS alerts, Athena views.

Everything comes from environment variables (DESIGN.md), so the same image runs in any
account. STOCK_ASSETS_GLUE_DATABASE is a prefix, not a single database: the layers stay
separate databases, named `<prefix>_bronze`, `<prefix>_silver`, `<prefix>_gold` (plain
`bronze`, `silver`, `gold` when it is unset), so several deployments can share a catalog.
"""

from __future__ import annotations

import os

from stock_assets.io_managers.s3_parquet import S3ParquetIOManager
from stock_assets.market.sql import glue_database
from stock_assets.resources.alerts import LogAlertSink, SnsAlertSink
from stock_assets.resources.lake import S3Lake
from stock_assets.resources.sql_engine import AthenaSqlEngine

DEFAULT_PREFIX = "stock-assets"
DEFAULT_WORKGROUP = "primary"


def aws_resources() -> dict[str, object]:
    """The AWS-mode resource set; fails fast, naming the variable, when the bucket is unset."""
    bucket = os.environ.get("STOCK_ASSETS_S3_BUCKET", "").strip()
    if not bucket:
        raise ValueError(
            "STOCK_ASSETS_ENV=aws needs STOCK_ASSETS_S3_BUCKET: the bucket of the lake "
            "(tables, landing zone, quarantine)"
        )
    prefix = os.environ.get("STOCK_ASSETS_S3_PREFIX", DEFAULT_PREFIX).strip("/")
    database_prefix = os.environ.get("STOCK_ASSETS_GLUE_DATABASE", "").strip()
    glue_database("gold", database_prefix)  # validates the prefix now, not at the first write
    region = os.environ.get("AWS_REGION") or None
    topic_arn = os.environ.get("STOCK_ASSETS_SNS_TOPIC_ARN", "").strip()
    return {
        "io_manager": S3ParquetIOManager(
            bucket=bucket,
            prefix=prefix,
            glue_database_prefix=database_prefix,
            region_name=region,
        ),
        "lake": S3Lake(bucket=bucket, prefix=prefix),
        # Without a topic, alerts are logged (and recorded in the lake's ledger) as locally.
        "alerts": SnsAlertSink(topic_arn=topic_arn, region_name=region)
        if topic_arn
        else LogAlertSink(),
        "sql_engine": AthenaSqlEngine(
            workgroup=os.environ.get("STOCK_ASSETS_ATHENA_WORKGROUP") or DEFAULT_WORKGROUP,
            database_prefix=database_prefix,
            output_location=f"s3://{bucket}/{prefix}/athena-results/"
            if prefix
            else f"s3://{bucket}/athena-results/",
            region_name=region,
        ),
    }
