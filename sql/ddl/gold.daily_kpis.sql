-- gold.daily_kpis
-- Daily figures per symbol and trading day built from the one-minute bars: session VWAP,
-- average price, volume, range, open-to-close and previous-close-to-close change,
-- realized volatility of the minute returns, and bars present / expected.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.daily_kpis (
  `symbol`         string,
  `trade_date`     date,
  `open`           double,
  `close`          double,
  `prev_close`     double,
  `avg_price`      double,
  `vwap`           double,
  `volume`         bigint,
  `range_pct`      double,
  `change_pct`     double,
  `oc_change_pct`  double,
  `realized_vol`   double,
  `bars`           int,
  `bars_expected`  int,
  `completeness`   double
)
COMMENT 'Daily figures per symbol and trading day built from the one-minute bars: session VWAP, average price, volume, range, open-to-close and previous-close-to-close change, realized volatility of the minute returns, and bars present / expected.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/gold/daily_kpis/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
