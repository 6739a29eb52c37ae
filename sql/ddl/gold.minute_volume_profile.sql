-- gold.minute_volume_profile
-- Each symbol's usual volume per minute of the session: the mean one-minute bar volume
-- over the 20 sessions up to trade_date. The next session's VOLUME_SURGE signals compare
-- each minute with it.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.minute_volume_profile (
  `symbol`      string,
  `trade_date`  date,
  `minute`      int,
  `avg_volume`  double,
  `sessions`    int
)
COMMENT 'Each symbol''s usual volume per minute of the session: the mean one-minute bar volume over the 20 sessions up to trade_date. The next session''s VOLUME_SURGE signals compare each minute with it.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/gold/minute_volume_profile/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
