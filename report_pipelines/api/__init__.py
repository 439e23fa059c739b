"""The REST API over the report store and Dagster (``report-pipelines api``)."""
