-- gold.latest_snapshot
-- The newest quote per symbol. A late file carrying older quotes never replaces a newer
-- price. A field the quote omits keeps its last known value (name always; volume, change
-- and change_pct within the session). volume: the session's so far. last_signal: the
-- symbol's newest live signal by trigger time among those stored when its row last moved,
-- the signals of that run included (a run writes the snapshot after its signals).
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.latest_snapshot (
  `symbol`             string,
  `ts`                 timestamp,
  `price`              double,
  `change`             double,
  `change_pct`         double,
  `name`               string,
  `updated_at`         timestamp,
  `volume`             bigint,
  `last_signal`        string,
  `last_signal_at`     timestamp,
  `last_signal_reason` string
)
COMMENT 'The newest quote per symbol. A late file carrying older quotes never replaces a newer price. A field the quote omits keeps its last known value (name always; volume, change and change_pct within the session). volume: the session''s so far. last_signal: the symbol''s newest live signal by trigger time among those stored when its row last moved (a run writes the snapshot before its signals, so a signal shows with the symbol''s next quote).'
LOCATION '${lake}/tables/gold/latest_snapshot/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
