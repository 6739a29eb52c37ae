-- gold.indicators
-- One wide table of TA-Lib-exact indicators per symbol and trading day: SMA 5/20/50, EMA
-- 12/26, MACD (12, 26, 9), Bollinger (20, 2, population sigma), Wilder RSI 14, 20-day
-- annualized volatility of log returns, daily % change. Warm-up rows are NULL. Each day is
-- computed on history adjusted to that day's share basis (the splits and dividends of
-- silver.corporate_actions up to it), so close is the raw close.
--
-- An Apache Iceberg table (Athena engine 3). The Iceberg IO manager creates it in Glue on
-- its first write; this statement creates the same (empty) table from Athena.
-- Query it like any table: Athena reads the current snapshot and prunes on trade_date.
-- ${lake} is s3://<bucket>/<prefix>.
CREATE TABLE IF NOT EXISTS gold.indicators (
  `symbol`        string,
  `trade_date`    date,
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
COMMENT 'One wide table of TA-Lib-exact indicators per symbol and trading day: SMA 5/20/50, EMA 12/26, MACD (12, 26, 9), Bollinger (20, 2, population sigma), Wilder RSI 14, 20-day annualized volatility of log returns, daily % change. Warm-up rows are NULL. Each day is computed on history adjusted to that day''s share basis (the splits and dividends of silver.corporate_actions up to it), so close is the raw close.'
PARTITIONED BY (`trade_date`)
LOCATION '${lake}/tables/gold/indicators/'
TBLPROPERTIES ('table_type' = 'ICEBERG')
