"""Warehouses: the abstract resource in ``base``, one module per kind of warehouse."""

from __future__ import annotations

import os

import dagster as dg

from report_pipelines.warehouses.base import WarehouseResource


def warehouse_from_env() -> WarehouseResource:
    """The warehouse ``WAREHOUSE_URL`` names.

    ``bigquery://PROJECT[/DATASET]`` gives a :class:`BigQueryWarehouse` (pointed at
    ``BIGQUERY_API_ENDPOINT`` when that is set, e.g. an emulator); any other URL gives a
    :class:`SQLAlchemyWarehouse` that reads the URL from the environment in the run worker, so a
    password in it never reaches config or the UI; unset gives the demo DuckDB warehouse.
    A malformed ``bigquery://`` URL raises ValueError when the definitions load.
    """
    # Imported here: google-cloud-bigquery and SQLAlchemy are only needed by the one chosen, and
    # importing this package (as every module that names WarehouseResource does) stays cheap.
    from report_pipelines.warehouses.sqlalchemy import SQLAlchemyWarehouse

    url = os.environ.get("WAREHOUSE_URL", "").strip()
    if not url:
        return SQLAlchemyWarehouse()
    if url.split(":", 1)[0].lower() == "bigquery":
        from report_pipelines.warehouses.bigquery import BigQueryWarehouse, parse_bigquery_url

        return BigQueryWarehouse(
            **parse_bigquery_url(url),
            api_endpoint=os.environ.get("BIGQUERY_API_ENDPOINT") or None,
        )
    return SQLAlchemyWarehouse(url=dg.EnvVar("WAREHOUSE_URL"))


__all__ = ["WarehouseResource", "warehouse_from_env"]
