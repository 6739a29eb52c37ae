-- gold.latest_snapshot
-- The newest quote per symbol. A late file carrying older quotes never replaces a newer
-- price.
--
-- Written by the S3 Parquet IO manager, which registers this table in Glue itself and
-- moves its LOCATION to each new version (a sub-prefix such as v=<version>/) in one
-- catalog update (LOCATION below is the table root). ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS gold.latest_snapshot (
  `symbol`     string,
  `ts`         timestamp,
  `price`      double,
  `change`     double,
  `change_pct` double,
  `name`       string,
  `updated_at` timestamp
)
COMMENT 'The newest quote per symbol. A late file carrying older quotes never replaces a newer price.'
STORED AS PARQUET
LOCATION '${lake}/gold/latest_snapshot/'
TBLPROPERTIES ('classification' = 'parquet')
