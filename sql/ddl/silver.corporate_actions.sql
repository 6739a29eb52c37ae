-- silver.corporate_actions
-- Splits (ratio) and cash dividends (amount per share), one row per symbol, ex-date and
-- action, merged: a corrected or late action replaces or joins the stored ones. Indicators
-- and signals adjust history with them; silver.prices stays as sent.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot (small and unpartitioned).
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS silver.corporate_actions (
  `symbol`      string,
  `ex_date`     date,
  `action`      string,
  `ratio`       double,
  `amount`      double,
  `source`      string,
  `ingested_at` timestamp
)
COMMENT 'Splits (ratio) and cash dividends (amount per share), one row per symbol, ex-date and action, merged: a corrected or late action replaces or joins the stored ones. Indicators and signals adjust history with them; silver.prices stays as sent.'
LOCATION '${lake}/tables/silver/corporate_actions/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
