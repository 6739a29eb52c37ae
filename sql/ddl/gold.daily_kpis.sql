-- gold.daily_kpis
-- Daily figures per symbol and trading day built from the one-minute bars: session VWAP,
-- average price, volume, range, open-to-close and previous-close-to-close change, realized
-- volatility of the minute returns, and bars present / expected.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS gold.daily_kpis (
  `symbol`         string,
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
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/gold/daily_kpis/'
TBLPROPERTIES ('classification' = 'parquet')
