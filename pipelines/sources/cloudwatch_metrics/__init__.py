"""`cloudwatch_metrics`: SageMaker endpoint metrics from CloudWatch, per account and region (ListMetrics, GetMetricData)."""
