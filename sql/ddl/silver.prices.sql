-- silver.prices
-- Daily OHLCV bars, one row per symbol and NYSE trading day: typed, validated (positive
-- prices, consistent high/low, non-negative volume) and deduplicated.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS silver.prices (
  `symbol`      string,
  `open`        double,
  `high`        double,
  `low`         double,
  `close`       double,
  `adj_close`   double,
  `volume`      bigint,
  `source`      string,
  `ingested_at` timestamp
)
COMMENT 'Daily OHLCV bars, one row per symbol and NYSE trading day: typed, validated (positive prices, consistent high/low, non-negative volume) and deduplicated.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/silver/prices/'
TBLPROPERTIES ('classification' = 'parquet')
