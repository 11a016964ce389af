"""QuickSight assets as code: the requests that create the data source, datasets, analysis and dashboard, checked offline."""
