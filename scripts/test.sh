#!/usr/bin/env bash
# Set up everything the tests need (virtualenv, sekmet-fhir, PostgreSQL, Chromium, HL7 examples) and run them.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k prefetch`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
bash scripts/setup-tests.sh
exec .venv/bin/python -m pytest "$@"
