-- gold.live_signals
-- Signals on the stream, one row per symbol, trigger quote time and signal (MOVE, CROSS_UP, CROSS_DOWN, VOLUME_SURGE, RULE); each condition crossing fires once.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS gold.live_signals (
  `symbol`       string,
  `ts`           timestamp,
  `signal`       string,
  `rule`         string,
  `value`        double,
  `reason`       string,
  `detected_at`  timestamp
)
COMMENT 'Signals on the stream, one row per symbol, trigger quote time and signal (MOVE, CROSS_UP, CROSS_DOWN, VOLUME_SURGE, RULE); each condition crossing fires once.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/gold/live_signals/'
TBLPROPERTIES ('classification' = 'parquet')
