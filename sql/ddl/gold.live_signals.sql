-- gold.live_signals
-- Signals on the stream, one row per symbol, trigger quote (ts, UTC) and signal: MOVE
-- (more than 5% from the previous close), CROSS_UP / CROSS_DOWN (SMA-5 over SMA-20 of
-- one-minute closes), VOLUME_SURGE (a minute's volume over 3x its usual), RULE (a user
-- rule, named in rule). Each condition crossing fires once; the day's rows are the same
-- whatever order the quotes arrived in. detected_at: when the platform recorded it.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.live_signals (
  `symbol`       string,
  `trade_date`   date,
  `ts`           timestamp,
  `signal`       string,
  `rule`         string,
  `value`        double,
  `reason`       string,
  `detected_at`  timestamp
)
COMMENT 'Signals on the stream, one row per symbol, trigger quote (ts, UTC) and signal: MOVE (more than 5% from the previous close), CROSS_UP / CROSS_DOWN (SMA-5 over SMA-20 of one-minute closes), VOLUME_SURGE (a minute''s volume over 3x its usual), RULE (a user rule, named in rule). Each condition crossing fires once; the day''s rows are the same whatever order the quotes arrived in. detected_at: when the platform recorded it.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/gold/live_signals/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
