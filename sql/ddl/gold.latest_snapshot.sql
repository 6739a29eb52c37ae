-- gold.latest_snapshot
-- The newest quote per symbol. A late file carrying older quotes never replaces a newer
-- price.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.latest_snapshot (
  `symbol`     string,
  `ts`         timestamp,
  `price`      double,
  `change`     double,
  `change_pct` double,
  `name`       string,
  `updated_at` timestamp
)
COMMENT 'The newest quote per symbol. A late file carrying older quotes never replaces a newer price.'
LOCATION '${lake}/tables/gold/latest_snapshot/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
