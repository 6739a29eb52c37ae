-- Per symbol and trading day, from gold.daily_kpis (figures built from one-minute bars):
-- price_change_pct (previous close to close, %), avg_7d (average close of the symbol's last
-- 7 sessions with bars, this one included; NULL before 7 exist), volume, and
-- volatility_score: the day's realized volatility of one-minute returns divided by its
-- average over the symbol's previous 20 sessions (1 = a usual day, 2 = twice as volatile;
-- NULL before 5 earlier sessions exist).
CREATE OR REPLACE VIEW gold.stock_kpis AS
WITH windows AS (
  SELECT
    k.symbol,
    k.trade_date,
    k.close,
    k.change_pct,
    k.volume,
    k.realized_vol,
    avg(k.close) OVER (
      PARTITION BY k.symbol ORDER BY k.trade_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW
    ) AS close_7,
    count(k.close) OVER (
      PARTITION BY k.symbol ORDER BY k.trade_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW
    ) AS sessions_7,
    avg(k.realized_vol) OVER (
      PARTITION BY k.symbol ORDER BY k.trade_date ROWS BETWEEN 20 PRECEDING AND 1 PRECEDING
    ) AS usual_vol,
    count(k.realized_vol) OVER (
      PARTITION BY k.symbol ORDER BY k.trade_date ROWS BETWEEN 20 PRECEDING AND 1 PRECEDING
    ) AS earlier_sessions
  FROM gold.daily_kpis AS k
)
SELECT
  w.symbol,
  w.trade_date,
  w.close,
  w.change_pct AS price_change_pct,
  CASE WHEN w.sessions_7 = 7 THEN w.close_7 END AS avg_7d,
  CASE
    WHEN w.earlier_sessions >= 5 AND w.usual_vol > 0 THEN w.realized_vol / w.usual_vol
  END AS volatility_score,
  w.volume
FROM windows AS w
