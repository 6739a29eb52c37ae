-- The latest trading day in gold.indicators with every symbol ranked by the size of its
-- daily % move, largest first (move_rank 1; ties share a rank). Filter on move_rank for a
-- top-N list.
CREATE OR REPLACE VIEW gold.todays_movers AS
WITH latest AS (
  SELECT max(trade_date) AS trade_date
  FROM gold.indicators
)
SELECT
  i.trade_date,
  i.symbol,
  i.close,
  i.pct_change,
  i.volume,
  CASE
    WHEN i.pct_change > 0 THEN 'UP'
    WHEN i.pct_change < 0 THEN 'DOWN'
    ELSE 'FLAT'
  END AS direction,
  rank() OVER (ORDER BY abs(i.pct_change) DESC) AS move_rank
FROM gold.indicators AS i
JOIN latest AS l
  ON i.trade_date = l.trade_date
WHERE i.pct_change IS NOT NULL
