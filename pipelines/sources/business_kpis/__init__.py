"""`business_kpis`: the business units' KPI drops (CSV or Parquet) from an S3 inbox."""
