-- bronze.raw_quotes
-- One row per source record exactly as received (payload is the original JSON/CSV text).
-- trade_date is the trading day the record was pulled for; object_key points at the verbatim
-- response kept in the lake for audit and replay.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS bronze.raw_quotes (
  `symbol`     string,
  `record_no`  int,
  `payload`    string,
  `source`     string,
  `fetched_at` timestamp,
  `object_key` string
)
COMMENT 'One row per source record exactly as received (payload is the original JSON/CSV text). trade_date is the trading day the record was pulled for; object_key points at the verbatim response kept in the lake for audit and replay.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/bronze/raw_quotes/'
TBLPROPERTIES ('classification' = 'parquet')
