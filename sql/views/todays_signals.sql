-- The signals of the latest trading day in gold.indicators (the newest session computed).
-- Empty when that day raised no signal: yesterday's signals are not today's.
CREATE OR REPLACE VIEW gold.todays_signals AS
WITH latest AS (
  SELECT max(trade_date) AS trade_date
  FROM gold.indicators
)
SELECT
  s.trade_date,
  s.symbol,
  s.signal,
  s.value,
  s.reason
FROM gold.signals AS s
JOIN latest AS l
  ON s.trade_date = l.trade_date
