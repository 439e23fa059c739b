"""Analysts: the exact statistical one (offline default) and Gemini (with GOOGLE_API_KEY)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from report_pipelines.analysts.base import AnalystResource


def analyst_from_env() -> AnalystResource:
    """The Gemini analyst when ``GOOGLE_API_KEY`` is set, else the offline statistical one.

    google-genai and sqlglot are imported only when Gemini is on: without a key, the code
    location and every run worker start without them. Dagster is imported only here too, so
    the offline analyst and the prompt builders import without it.
    """
    if not os.environ.get("GOOGLE_API_KEY", "").strip():
        from report_pipelines.analysts.base import StatisticalAnalystResource

        return StatisticalAnalystResource()
    from report_pipelines.analysts.gemini import analyst_from_env as gemini_from_env

    return gemini_from_env()
