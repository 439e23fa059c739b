"""What the measurements ran on, read without importing the libraries being measured."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

LIBRARIES = ("dagster", "dagster-webserver", "slack_sdk", "pandas", "duckdb", "SQLAlchemy", "google-genai")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {name: _version(name) for name in LIBRARIES},
    }


def load_average() -> list[float] | None:
    """The 1/5/15-minute load average: other work on the machine skews every timing."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def summary(machine: dict) -> str:
    memory = f"{machine['memory_gib']:g} GiB RAM" if machine["memory_gib"] else "RAM unknown"
    return (
        f"{machine['cpu']}, {machine['usable_cores']} cores, {memory}, {machine['python']}, "
        f"Dagster {machine['versions']['dagster']}, {machine['os']}"
    )
