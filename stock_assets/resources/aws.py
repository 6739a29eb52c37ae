"""AWS mode's resources: Iceberg tables in Glue, the S3 lake, SNS alerts, Athena views.

Everything comes from the environment (stock_assets.settings), so the same image runs in
any account. STOCK_ASSETS_GLUE_DATABASE is a prefix, not a single database: the layers stay
separate databases, named `<prefix>_bronze`, `<prefix>_silver`, `<prefix>_gold` (plain
`bronze`, `silver`, `gold` when it is unset), so several deployments can share a catalog.
"""

from __future__ import annotations

from stock_assets.io_managers.iceberg import IcebergIOManager
from stock_assets.market.sql import glue_database
from stock_assets.resources.alerts import LogAlertSink, SnsAlertSink
from stock_assets.resources.lake import S3Lake
from stock_assets.resources.sql_engine import AthenaSqlEngine
from stock_assets.settings import Settings


def aws_resources(settings: Settings | None = None) -> dict[str, object]:
    """The AWS-mode resource set; fails fast, naming the variable, when the bucket is unset."""
    settings = settings or Settings.from_env()
    bucket, prefix = settings.s3_bucket, settings.s3_prefix
    if not bucket:
        raise ValueError(
            "STOCK_ASSETS_ENV=aws needs STOCK_ASSETS_S3_BUCKET: the bucket of the lake "
            "(tables, landing zone, quarantine)"
        )
    database_prefix = settings.glue_database
    glue_database("gold", database_prefix)  # validates the prefix now, not at the first write
    region = settings.aws_region
    return {
        "io_manager": IcebergIOManager(
            bucket=bucket,
            prefix=prefix,
            glue_database_prefix=database_prefix,
            region_name=region,
        ),
        "lake": S3Lake(bucket=bucket, prefix=prefix),
        # Without a topic, alerts are logged (and recorded in the lake's ledger) as locally.
        "alerts": SnsAlertSink(topic_arn=settings.sns_topic_arn, region_name=region)
        if settings.sns_topic_arn
        else LogAlertSink(),
        "sql_engine": AthenaSqlEngine(
            workgroup=settings.athena_workgroup,
            database_prefix=database_prefix,
            output_location=f"s3://{bucket}/{prefix}/athena-results/"
            if prefix
            else f"s3://{bucket}/athena-results/",
            region_name=region,
        ),
    }
