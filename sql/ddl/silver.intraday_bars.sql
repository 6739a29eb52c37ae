-- silver.intraday_bars
-- One-minute OHLCV bars of the regular NYSE session, one row per symbol and bar_start
-- (UTC, the start of the minute). Built from the stream's quotes (source 'stream',
-- quotes = how many made the bar) or a vendor's bars (quotes NULL), which replace the
-- stream's bars of a closed session and symbol.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS silver.intraday_bars (
  `symbol`       string,
  `trade_date`   date,
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
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/silver/intraday_bars/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
