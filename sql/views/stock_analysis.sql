-- Every bronze record with its fields read from the verbatim JSON payload and typed: the
-- raw strings are cast to DOUBLE, BIGINT and TIMESTAMP (TRY_CAST, so a malformed record
-- gives NULLs instead of failing the query). Field names follow each source's payload:
-- simulated/csv "open", yahoo "Open", alpha_vantage "1. open". silver.prices is the
-- validated table; this view shows what was received.
CREATE OR REPLACE VIEW gold.stock_analysis AS
WITH parsed AS (
  SELECT
    symbol,
    trade_date,
    record_no,
    source,
    fetched_at,
    object_key,
    TRY(json_parse(payload)) AS doc
  FROM bronze.raw_quotes
),
fields AS (
  SELECT
    symbol,
    trade_date,
    record_no,
    source,
    fetched_at,
    object_key,
    COALESCE(json_extract_scalar(doc, '$.date'), json_extract_scalar(doc, '$.Date')) AS date_text,
    COALESCE(
      json_extract_scalar(doc, '$.open'),
      json_extract_scalar(doc, '$.Open'),
      json_extract_scalar(doc, '$["1. open"]')
    ) AS open_text,
    COALESCE(
      json_extract_scalar(doc, '$.high'),
      json_extract_scalar(doc, '$.High'),
      json_extract_scalar(doc, '$["2. high"]')
    ) AS high_text,
    COALESCE(
      json_extract_scalar(doc, '$.low'),
      json_extract_scalar(doc, '$.Low'),
      json_extract_scalar(doc, '$["3. low"]')
    ) AS low_text,
    COALESCE(
      json_extract_scalar(doc, '$.close'),
      json_extract_scalar(doc, '$.Close'),
      json_extract_scalar(doc, '$["4. close"]')
    ) AS close_text,
    COALESCE(
      json_extract_scalar(doc, '$.adj_close'),
      json_extract_scalar(doc, '$["Adj Close"]'),
      json_extract_scalar(doc, '$["5. adjusted close"]')
    ) AS adj_close_text,
    COALESCE(
      json_extract_scalar(doc, '$.volume'),
      json_extract_scalar(doc, '$.Volume'),
      json_extract_scalar(doc, '$["6. volume"]'),
      json_extract_scalar(doc, '$["5. volume"]')
    ) AS volume_text
  FROM parsed
),
typed AS (
  SELECT
    symbol,
    trade_date,
    record_no,
    source,
    TRY_CAST(substr(date_text, 1, 10) AS TIMESTAMP) AS quote_ts,
    TRY_CAST(open_text AS DOUBLE) AS open,
    TRY_CAST(high_text AS DOUBLE) AS high,
    TRY_CAST(low_text AS DOUBLE) AS low,
    TRY_CAST(close_text AS DOUBLE) AS close,
    COALESCE(TRY_CAST(adj_close_text AS DOUBLE), TRY_CAST(close_text AS DOUBLE)) AS adj_close,
    TRY_CAST(TRY_CAST(volume_text AS DOUBLE) AS BIGINT) AS volume,
    fetched_at,
    object_key
  FROM fields
)
SELECT
  symbol,
  trade_date,
  record_no,
  source,
  quote_ts,
  open,
  high,
  low,
  close,
  adj_close,
  volume,
  close - open AS day_change,
  100 * (close - open) / NULLIF(open, 0) AS day_change_pct,
  100 * (high - low) / NULLIF(low, 0) AS day_range_pct,
  close IS NOT NULL AS has_close,
  fetched_at,
  object_key
FROM typed
