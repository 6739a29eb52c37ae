-- silver.price_rejects
-- Bronze records that could not become prices, with the reason.
--
-- Written by the S3 Parquet IO manager, which registers this table and every partition
-- in Glue itself. Each partition points at its current version (a sub-prefix such as
-- trade_date=2024-07-05/v=<version>/), so register partitions through the IO manager,
-- never with MSCK REPAIR TABLE or a crawler. ${lake} is s3://<bucket>/<prefix>.
CREATE EXTERNAL TABLE IF NOT EXISTS silver.price_rejects (
  `object_key` string,
  `record_no`  int,
  `symbol`     string,
  `source`     string,
  `reason`     string,
  `payload`    string
)
COMMENT 'Bronze records that could not become prices, with the reason.'
PARTITIONED BY (`trade_date` date)
STORED AS PARQUET
LOCATION '${lake}/silver/price_rejects/'
TBLPROPERTIES ('classification' = 'parquet')
