-- silver.price_rejects
-- Bronze records that could not become prices, with the reason.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS silver.price_rejects (
  `object_key` string,
  `record_no`  int,
  `symbol`     string,
  `trade_date` date,
  `source`     string,
  `reason`     string,
  `payload`    string
)
COMMENT 'Bronze records that could not become prices, with the reason.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/silver/price_rejects/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
