#!/usr/bin/env bash
# Install the test infrastructure the integration tests need:
#   - Debian's PostgreSQL (tests/support/postgres.py runs a throwaway cluster)
#   - Debian's Chromium (browser tests drive it through Playwright; never `playwright install`)
#   - sekmet-fhir, a real FHIR R4 server, in its own venv at .venv-sekmet
#   - the official HL7 R4 examples (npm hl7.fhir.r4.examples@4.0.1) in .cache/hl7-r4-examples
# Idempotent and fast when everything is already there. Does NOT create the main .venv
# (scripts/test.sh does that, then calls this script).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SEKMET_VERSION="0.1.1"
SEKMET_VENV=".venv-sekmet"

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# shellcheck disable=SC2012
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "setup-tests: postgresql present ($(ls -d /usr/lib/postgresql/*/bin/initdb | head -n1))"
else
    echo "setup-tests: installing postgresql (apt)"
    apt_install postgresql
fi

if [ -x /usr/bin/chromium ]; then
    echo "setup-tests: chromium present (/usr/bin/chromium)"
else
    echo "setup-tests: installing chromium (apt)"
    apt_install chromium
fi

if [ -x "$SEKMET_VENV/bin/sekmet" ]; then
    echo "setup-tests: sekmet-fhir present ($SEKMET_VENV)"
else
    echo "setup-tests: installing sekmet-fhir==$SEKMET_VERSION into $SEKMET_VENV"
    start=$(date +%s)
    rm -rf "$SEKMET_VENV"
    # the interpreter that built the main .venv if there is one, else python3.11 / python3 ($PYTHON overrides)
    py="${PYTHON:-}"
    if [ -z "$py" ] && [ -x .venv/bin/python ]; then
        py="$(.venv/bin/python -c 'import sys; print(sys._base_executable)' 2>/dev/null || true)"
    fi
    [ -n "$py" ] || py="$(command -v python3.11 || command -v python3)"
    "$py" -m venv "$SEKMET_VENV"
    "$SEKMET_VENV/bin/pip" install -q --disable-pip-version-check "sekmet-fhir==$SEKMET_VERSION"
    echo "setup-tests: sekmet-fhir installed in $(( $(date +%s) - start ))s"
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "setup-tests: installing npm (apt)"
    apt_install npm
fi
bash scripts/fetch-hl7-examples.sh

echo "setup-tests: done"
