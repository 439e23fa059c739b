from setuptools import find_packages, setup

# Dagster and its integrations are released in lock-step; unpinned, pip resolves ancient
# integration releases. Move them together.
DAGSTER = "1.13.27"
INTEGRATIONS = "0.29.27"

setup(
    name="report_pipelines",
    version="0.1.0",
    description="Scheduled, AI-analysed data reports delivered to Slack, orchestrated by Dagster",
    packages=find_packages(exclude=["report_pipelines_tests*", "benchmarks*"]),
    package_data={
        "report_pipelines": [
            "demo/reports/*.yaml",
            "instance/*.yaml",
            "store/migrations/script.py.mako",
            "store/migrations/versions/*.py",
        ]
    },
    python_requires=">=3.11",
    install_requires=[
        f"dagster=={DAGSTER}",
        f"dagster-webserver=={DAGSTER}",
        f"dagster-graphql=={DAGSTER}",
        f"dagster-gcp=={INTEGRATIONS}",
        f"dagster-postgres=={INTEGRATIONS}",
        # Whole runs on a pool of Celery workers (deploy/dagster.celery.yaml): CeleryRunLauncher.
        # Celery comes with it. The redis client serves the Redis result backend that run
        # monitoring reads each run's task state from; its range is kombu's own for Redis
        # (not `celery[redis]`, which pins an exact `packaging` release).
        f"dagster-celery=={INTEGRATIONS}",
        "redis>=6.4,<9",
        "slack_sdk>=3.48,<4",
        "google-genai>=1.0",
        "sqlalchemy>=2.0,<3",
        "duckdb>=1.1",
        "duckdb-engine>=0.13",
        "pandas>=2.1",
        "pydantic>=2.6,<3",
        "pyyaml>=6",
        "croniter>=2",
        "cryptography>=42",
        "click>=8",
        "requests>=2.31",
        "sqlglot>=30.30,<31",
        "google-cloud-bigquery>=3.20",
        "matplotlib>=3.8",
        # The REST API (`report-pipelines api`).
        "fastapi>=0.115,<1",
        "uvicorn>=0.30",
        "PyJWT>=2.8,<3",
        # Retries of Gemini calls (see analysts/gemini_calls.py for why not the SDK's own).
        "tenacity>=8.2.3,<10",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "hypothesis>=6.100",
            # Pinned to the release checked against Debian's chromium (no browser download).
            "playwright==1.65.2",
            # FastAPI's TestClient, and fuzzing the API from its OpenAPI schema.
            "httpx>=0.27",
            "schemathesis>=4.30,<5",
            # A real SMTP server in the email destination's tests.
            "aiosmtpd==1.4.6",
        ],
    },
    entry_points={"console_scripts": ["report-pipelines=report_pipelines.cli:main"]},
)
