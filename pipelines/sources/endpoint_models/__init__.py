"""`endpoint_models`: which model (and model package version) served each endpoint variant, night by night."""
