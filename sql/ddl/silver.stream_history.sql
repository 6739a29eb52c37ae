-- silver.stream_history
-- Intraday quotes from landing-zone files, one row per symbol and quote time (UTC). Each row
-- is written once: re-delivered files and duplicates never add or change rows. trade_date is
-- the New York trading day of ts (the partition); object_key is the landing object the quote
-- came from.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS silver.stream_history (
  `symbol`      string,
  `ts`          timestamp,
  `price`       double,
  `volume`      bigint,
  `change`      double,
  `change_pct`  double,
  `name`        string,
  `source`      string,
  `object_key`  string,
  `ingested_at` timestamp,
  `trade_date`  date
)
COMMENT 'Intraday quotes from landing-zone files, one row per symbol and quote time (UTC). Each row is written once: re-delivered files and duplicates never add or change rows. trade_date is the New York trading day of ts (the partition); object_key is the landing object the quote came from.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/silver/stream_history/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
