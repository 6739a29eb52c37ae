-- Every daily bar of silver.prices back-adjusted to today's share basis, for charts and
-- research: prices times `factor`, the product of the price factors of the symbol's
-- actions (silver.corporate_actions) with an ex-date after the bar (a split: 1 / ratio; a
-- dividend: 1 - amount / the raw close of the last bar before its ex-date, the CRSP /
-- Yahoo convention), volume times the splits' ratios. A new action changes the view at
-- once; silver.prices stays raw. Indicators and signals use point-in-time adjustment
-- instead (each day on its own basis), so their past values never move.
CREATE OR REPLACE VIEW gold.adjusted_prices AS
WITH previous_closes AS (
  SELECT
    a.symbol,
    a.ex_date,
    max_by(p.close, p.trade_date) AS previous_close
  FROM silver.corporate_actions AS a
  JOIN silver.prices AS p
    ON p.symbol = a.symbol AND p.trade_date < a.ex_date
  WHERE a.action = 'DIVIDEND'
  GROUP BY a.symbol, a.ex_date
),
factors AS (
  SELECT
    a.symbol,
    a.ex_date,
    CASE
      WHEN a.action = 'SPLIT' THEN 1.0 / a.ratio
      WHEN a.amount > 0 AND a.amount < c.previous_close THEN 1.0 - a.amount / c.previous_close
      ELSE 1.0
    END AS price_factor,
    CASE WHEN a.action = 'SPLIT' THEN a.ratio ELSE 1.0 END AS volume_factor
  FROM silver.corporate_actions AS a
  LEFT JOIN previous_closes AS c
    ON c.symbol = a.symbol AND c.ex_date = a.ex_date AND a.action = 'DIVIDEND'
),
bar_factors AS (
  SELECT
    p.symbol,
    p.trade_date,
    exp(sum(ln(f.price_factor))) AS price_factor,
    exp(sum(ln(f.volume_factor))) AS volume_factor
  FROM silver.prices AS p
  JOIN factors AS f
    ON f.symbol = p.symbol AND f.ex_date > p.trade_date
  GROUP BY p.symbol, p.trade_date
)
SELECT
  p.symbol,
  p.trade_date,
  p.open * coalesce(b.price_factor, 1.0) AS open,
  p.high * coalesce(b.price_factor, 1.0) AS high,
  p.low * coalesce(b.price_factor, 1.0) AS low,
  p.close * coalesce(b.price_factor, 1.0) AS close,
  CAST(round(p.volume * coalesce(b.volume_factor, 1.0)) AS BIGINT) AS volume,
  coalesce(b.price_factor, 1.0) AS factor
FROM silver.prices AS p
LEFT JOIN bar_factors AS b
  ON b.symbol = p.symbol AND b.trade_date = p.trade_date
