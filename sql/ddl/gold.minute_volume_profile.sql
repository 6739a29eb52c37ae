-- gold.minute_volume_profile
-- Each symbol's mean one-minute volume per minute of the session over the 20 sessions up to trade_date (the baseline of VOLUME_SURGE).
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS gold.minute_volume_profile (
  `symbol`      string,
  `minute`      int,
  `avg_volume`  double,
  `sessions`    int
)
COMMENT 'Each symbol's mean one-minute volume per minute of the session over the 20 sessions up to trade_date (the baseline of VOLUME_SURGE).'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/gold/minute_volume_profile/'
TBLPROPERTIES ('classification' = 'parquet')
