"""`endpoint_log_patterns`: error classes per endpoint and hour, counted with Logs Insights in the endpoints' log groups."""
