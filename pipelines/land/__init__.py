"""Land: typed Parquet on S3, Glue tables, and the write-audit-publish partition switch."""
