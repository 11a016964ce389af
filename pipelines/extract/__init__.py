"""Extract: read sources (CloudWatch, Model Monitor reports, KPI drops) lazily, page by page."""
