-- gold.market_summary
-- One row per trading day: breadth, top movers and signal counts.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS gold.market_summary (
  `symbols`       bigint,
  `advancers`     bigint,
  `decliners`     bigint,
  `unchanged`     bigint,
  `top_gainers`   string,
  `top_losers`    string,
  `best_symbol`   string,
  `best_pct`      double,
  `worst_symbol`  string,
  `worst_pct`     double,
  `anomaly_count` bigint,
  `signal_count`  bigint
)
COMMENT 'One row per trading day: breadth, top movers and signal counts.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/gold/market_summary/'
TBLPROPERTIES ('classification' = 'parquet')
