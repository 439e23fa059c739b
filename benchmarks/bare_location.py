"""A bare Dagster code location: the jobs and schedules of :func:`benchmarks.bare.bare_definitions`
for the shapes in the JSON file named by ``BENCHMARKS_BARE_SHAPES``.

Served by a webserver next to ours, so the UI can be timed over the same number of jobs and
schedules without our code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from benchmarks.bare import bare_definitions

SHAPES_ENV = "BENCHMARKS_BARE_SHAPES"


@dg.definitions
def defs() -> dg.Definitions:
    return bare_definitions(json.loads(Path(os.environ[SHAPES_ENV]).read_text()))
