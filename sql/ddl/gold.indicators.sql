-- gold.indicators
-- One wide table of TA-Lib-exact indicators per symbol and trading day: SMA 5/20/50, EMA
-- 12/26, MACD (12, 26, 9), Bollinger (20, 2, population sigma), Wilder RSI 14, 20-day
-- annualized volatility of log returns, daily % change. Warm-up rows are NULL.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS gold.indicators (
  `symbol`        string,
  `close`         double,
  `volume`        bigint,
  `sma_5`         double,
  `sma_20`        double,
  `sma_50`        double,
  `ema_12`        double,
  `ema_26`        double,
  `macd`          double,
  `macd_signal`   double,
  `macd_hist`     double,
  `bb_upper`      double,
  `bb_middle`     double,
  `bb_lower`      double,
  `rsi_14`        double,
  `volatility_20` double,
  `pct_change`    double
)
COMMENT 'One wide table of TA-Lib-exact indicators per symbol and trading day: SMA 5/20/50, EMA 12/26, MACD (12, 26, 9), Bollinger (20, 2, population sigma), Wilder RSI 14, 20-day annualized volatility of log returns, daily % change. Warm-up rows are NULL.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/gold/indicators/'
TBLPROPERTIES ('classification' = 'parquet')
