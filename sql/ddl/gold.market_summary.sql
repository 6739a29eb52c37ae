-- gold.market_summary
-- One row per trading day: breadth, top movers and signal counts.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.market_summary (
  `trade_date`    date,
  `symbols`       bigint,
  `advancers`     bigint,
  `decliners`     bigint,
  `unchanged`     bigint,
  `top_gainers`   string,
  `top_losers`    string,
  `best_symbol`   string,
  `best_pct`      double,
  `worst_symbol`  string,
  `worst_pct`     double,
  `anomaly_count` bigint,
  `signal_count`  bigint
)
COMMENT 'One row per trading day: breadth, top movers and signal counts.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/gold/market_summary/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
