#!/usr/bin/env bash
# The BigQuery emulator behind report_pipelines_tests/test_bigquery.py, in a virtualenv of its own:
# bqemulator needs duckdb 1.5.x and sqlglot < 30.12, which clash with the project's duckdb 2.x.
# Idempotent: a stamp records what was installed, so a repeat run only re-checks the extension.
# The tests run this script themselves when the virtualenv is missing.
set -euo pipefail

VENV="${BQEMULATOR_VENV:-$HOME/.cache/report_pipelines/bqemulator-venv}"
# numpy is not a declared dependency of bqemulator, but its DuckDB UDFs refuse to register without it.
REQUIREMENTS=(
  bqemulator==1.4.0
  duckdb==1.5.5
  duckdb-extension-spatial==1.5.5
  duckdb-extensions==1.5.5
  "numpy>=1.26,<3"
)
STAMP="$VENV/.report-pipelines-requirements"

if [ ! -x "$VENV/bin/bqemulator" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "${REQUIREMENTS[*]}" ]; then
  # Only ever delete what is recognisably a virtualenv: BQEMULATOR_VENV may point anywhere.
  if [ -f "$VENV/pyvenv.cfg" ]; then
    rm -rf "$VENV"
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  printf '%s' "${REQUIREMENTS[*]}" >"$STAMP"
fi

# bqemulator runs `INSTALL spatial` at startup, which downloads from DuckDB's extension site
# unless the extension already sits in ~/.duckdb; install it from the wheel so no download is needed.
"$VENV/bin/python" -c 'from duckdb_extensions import import_extension; import_extension("spatial")'
