-- gold.signals
-- Trading signals per symbol and day: BUY/SELL on SMA-5/SMA-20 crossings, ANOMALY on large
-- daily moves, VOLUME_SPIKE, BB_BREAKOUT; each with a readable reason.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS gold.signals (
  `symbol` string,
  `signal` string,
  `value`  double,
  `reason` string
)
COMMENT 'Trading signals per symbol and day: BUY/SELL on SMA-5/SMA-20 crossings, ANOMALY on large daily moves, VOLUME_SPIKE, BB_BREAKOUT; each with a readable reason.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/gold/signals/'
TBLPROPERTIES ('classification' = 'parquet')
