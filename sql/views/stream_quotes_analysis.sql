-- Every quote of the stream history, shaped like the polling system's per-quote view:
-- stock_price (DOUBLE), trade_time (TIMESTAMP, UTC), pct_change (percent change against the
-- previous close: the quote's own change_pct, else derived from its change) and the company
-- name, with the quote's volume, source and trading day.
CREATE OR REPLACE VIEW gold.stream_quotes_analysis AS
SELECT
  h.symbol,
  CAST(h.price AS DOUBLE) AS stock_price,
  CAST(h.ts AS TIMESTAMP) AS trade_time,
  COALESCE(
    h.change_pct,
    CASE WHEN h.price - h.change <> 0 THEN 100 * h.change / (h.price - h.change) END
  ) AS pct_change,
  h.name,
  h.volume,
  h.source,
  h.trade_date
FROM silver.stream_history AS h
