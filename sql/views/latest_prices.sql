-- The latest daily bar of every symbol in silver.prices, with the change against the
-- symbol's previous trading day.
CREATE OR REPLACE VIEW gold.latest_prices AS
WITH ranked AS (
  SELECT
    symbol,
    trade_date,
    open,
    high,
    low,
    close,
    adj_close,
    volume,
    source,
    lag(close) OVER (PARTITION BY symbol ORDER BY trade_date) AS previous_close,
    row_number() OVER (PARTITION BY symbol ORDER BY trade_date DESC) AS recency
  FROM silver.prices
)
SELECT
  symbol,
  trade_date,
  open,
  high,
  low,
  close,
  adj_close,
  volume,
  previous_close,
  close - previous_close AS change,
  100 * (close - previous_close) / NULLIF(previous_close, 0) AS change_pct,
  source
FROM ranked
WHERE recency = 1
