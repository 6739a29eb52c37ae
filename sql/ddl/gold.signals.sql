-- gold.signals
-- Trading signals per symbol and day: BUY/SELL on SMA-5/SMA-20 crossings, ANOMALY on large
-- daily moves, VOLUME_SPIKE, BB_BREAKOUT; each with a readable reason.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.signals (
  `symbol`     string,
  `trade_date` date,
  `signal`     string,
  `value`      double,
  `reason`     string
)
COMMENT 'Trading signals per symbol and day: BUY/SELL on SMA-5/SMA-20 crossings, ANOMALY on large daily moves, VOLUME_SPIKE, BB_BREAKOUT; each with a readable reason.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/gold/signals/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
