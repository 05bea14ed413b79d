"""Prefect tasks: thin wrappers over `radimpress.stages` that add caching, retries, tags and MLflow logging."""
