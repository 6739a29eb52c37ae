"""Resources: market data, the lake (local folder | S3) and alert sinks."""
