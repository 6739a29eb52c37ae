-- silver.stream_history
-- Intraday quotes from landing-zone files, one row per symbol and quote time (UTC). Each row
-- is written once: re-delivered files and duplicates never add or change rows. trade_date is
-- the New York trading day of ts (the partition); object_key is the landing object the quote
-- came from.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS silver.stream_history (
  `symbol`      string,
  `ts`          timestamp,
  `price`       double,
  `volume`      bigint,
  `change`      double,
  `change_pct`  double,
  `name`        string,
  `source`      string,
  `object_key`  string,
  `ingested_at` timestamp
)
COMMENT 'Intraday quotes from landing-zone files, one row per symbol and quote time (UTC). Each row is written once: re-delivered files and duplicates never add or change rows. trade_date is the New York trading day of ts (the partition); object_key is the landing object the quote came from.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/silver/stream_history/'
TBLPROPERTIES ('classification' = 'parquet')
