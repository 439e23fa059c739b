"""Scheduled, AI-analysed data reports delivered to Slack, orchestrated by Dagster."""

__version__ = "0.1.0"
