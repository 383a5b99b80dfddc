#!/usr/bin/env bash
# Set up everything the tests need (virtualenv, sekmet-fhir, PostgreSQL, Chromium, HL7 examples), then run the
# gates in order: lint (ruff), types (mypy), tests (pytest). Extra arguments go to pytest, e.g.
# `bash scripts/test.sh -k prefetch`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,plot,cluster]"
bash scripts/setup-tests.sh
echo "test.sh: ruff" && .venv/bin/ruff check .
echo "test.sh: mypy" && .venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
