-- 5- and 15-minute bars derived from silver.intraday_bars (one row per symbol, interval and
-- bar_start; filter on interval_minutes). Buckets start on the clock (09:30, 09:35, ...):
-- open/close are the first/last one-minute bar's, high/low the extremes, volume the sum,
-- vwap volume-weighted (the average bar vwap when nothing traded), bars how many one-minute
-- bars it holds, source that of the day's bars.
CREATE OR REPLACE VIEW gold.intraday_bars_resampled AS
WITH sized AS (
  SELECT
    b.symbol,
    b.trade_date,
    b.bar_start,
    b.open,
    b.high,
    b.low,
    b.close,
    b.volume,
    b.vwap,
    b.source,
    i.minutes AS interval_minutes,
    date_add(
      'minute',
      CAST(-(minute(b.bar_start) % i.minutes) AS BIGINT),
      date_trunc('minute', b.bar_start)
    ) AS bucket_start
  FROM silver.intraday_bars AS b
  CROSS JOIN (VALUES 5, 15) AS i (minutes)
)
SELECT
  s.symbol,
  s.trade_date,
  s.interval_minutes,
  s.bucket_start AS bar_start,
  min_by(s.open, s.bar_start) AS open,
  max(s.high) AS high,
  min(s.low) AS low,
  max_by(s.close, s.bar_start) AS close,
  sum(s.volume) AS volume,
  CASE
    WHEN sum(s.volume) > 0 THEN sum(s.vwap * s.volume) / sum(s.volume)
    ELSE avg(s.vwap)
  END AS vwap,
  count(*) AS bars,
  min(s.source) AS source
FROM sized AS s
GROUP BY s.symbol, s.trade_date, s.interval_minutes, s.bucket_start
