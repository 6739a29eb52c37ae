-- silver.intraday_bars
-- One-minute OHLCV bars of the regular NYSE session, one row per symbol and bar_start
-- (UTC, the start of the minute). Built from the stream's quotes (source 'stream', quotes
-- = how many made the bar) or a vendor's bars (quotes NULL), which replace the stream's
-- bars of a closed session and symbol.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS silver.intraday_bars (
  `symbol`       string,
  `bar_start`    timestamp,
  `open`         double,
  `high`         double,
  `low`          double,
  `close`        double,
  `volume`       bigint,
  `vwap`         double,
  `quotes`       int,
  `source`       string,
  `ingested_at`  timestamp
)
COMMENT 'One-minute OHLCV bars of the regular NYSE session, one row per symbol and bar_start (UTC, the start of the minute). Built from the stream''s quotes (source ''stream'', quotes = how many made the bar) or a vendor''s bars (quotes NULL), which replace the stream''s bars of a closed session and symbol.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/silver/intraday_bars/'
TBLPROPERTIES ('classification' = 'parquet')
