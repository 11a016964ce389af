"""SageMaker Model Monitor reports in S3: the six monitor_* / model_quality / bias / attribution tables."""
