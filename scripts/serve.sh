#!/usr/bin/env bash
# Set up (a virtualenv in .venv) and run the service in DEVELOPMENT mode on http://127.0.0.1:8000.
# Development mode accepts calls without a CDS Hooks JWT; production sets CDS_TRUSTED_CLIENTS instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
export CDS_ALLOW_UNAUTHENTICATED="${CDS_ALLOW_UNAUTHENTICATED:-true}"
exec .venv/bin/python -m service "$@"
