-- bronze.raw_quotes
-- One row per source record exactly as received (payload is the original JSON/CSV text).
-- trade_date is the trading day the record was pulled for; object_key points at the verbatim
-- response kept in the lake for audit and replay.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS bronze.raw_quotes (
  `symbol`     string,
  `trade_date` date,
  `record_no`  int,
  `payload`    string,
  `source`     string,
  `fetched_at` timestamp,
  `object_key` string
)
COMMENT 'One row per source record exactly as received (payload is the original JSON/CSV text). trade_date is the trading day the record was pulled for; object_key points at the verbatim response kept in the lake for audit and replay.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/bronze/raw_quotes/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
