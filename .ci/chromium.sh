#!/usr/bin/env bash
# Debian's chromium for report_pipelines_tests/test_browser.py. Playwright's own browser builds
# come from outside the package registries this machine reaches, so the test launches
# /usr/bin/chromium instead and this script installs it with apt.
# Idempotent: an installed chromium is left alone. It never fails CI: where apt cannot install the
# package it says why and exits 0, and the browser test then skips stating that chromium is missing.
set -uo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "chromium: already installed at $CHROMIUM"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed and apt-get is not available here; the browser test will skip" >&2
  exit 0
fi

# CI runs as root; a developer's machine may need a sudo that does not prompt (no stdin in CI).
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "chromium: not installed, and installing it needs root (or sudo without a password); the browser test will skip" >&2
    exit 0
  fi
fi

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

# The package lists may be missing or stale on a fresh machine: without an update apt finds nothing.
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get update -q >"$LOG" 2>&1; then
  echo "chromium: apt-get update failed; the browser test will skip. Last lines:" >&2
  tail -n 20 "$LOG" >&2
  exit 0
fi
if ! "${SUDO[@]}" apt-get install -y -q chromium >"$LOG" 2>&1; then
  echo "chromium: apt-get install chromium failed; the browser test will skip. Last lines:" >&2
  tail -n 20 "$LOG" >&2
  exit 0
fi

if [ -x "$CHROMIUM" ]; then
  echo "chromium: installed at $CHROMIUM"
else
  echo "chromium: the package installed but $CHROMIUM is missing; the browser test will skip" >&2
fi
exit 0
