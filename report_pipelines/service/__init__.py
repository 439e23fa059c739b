"""Every operation a person can ask for, decided once: the CLI, the REST API and Slack actions
are thin adapters over these modules.

- ``reports``: create, update, delete, enable, disable, show (the round-trippable file), list.
- ``runs``: run a window (with force), backfill, the run history of a report.
- ``preview``: render a window's message without sending it.
- ``workspaces``: add, list, test, deactivate, rotate the key.
- ``schedule``: upcoming runs.
- ``health``: every component's health.

Nothing here builds the code location: a run a person asks for is a run of the loaded code
location, launched through Dagster's run coordinator (see :mod:`report_pipelines.launches`).
"""
