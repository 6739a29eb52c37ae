-- silver.prices
-- Daily OHLCV bars, one row per symbol and NYSE trading day: typed, validated (positive
-- prices, consistent high/low, non-negative volume) and deduplicated.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS silver.prices (
  `symbol`      string,
  `trade_date`  date,
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
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/silver/prices/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
